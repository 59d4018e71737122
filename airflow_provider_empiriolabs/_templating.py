"""
Whether a value is known only at run time: the one test every parse-time check uses.

A DAG file is checked when it is parsed (bad input fails before anything is sent), but a value
that Jinja or an upstream task fills in is only known after rendering: those are left for the
checks that run again on the rendered request.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_template"]


def is_template(value: Any) -> bool:
    """
    Whether ``value`` is only known at run time: Jinja text, an ``XComArg``, or a container holding one.

    :param value: an operator argument as the DAG file wrote it.
    """
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, (list, tuple)):
        return any(is_template(item) for item in value)
    if isinstance(value, dict):
        return any(is_template(item) for item in value.values())
    return not isinstance(value, (int, float, bool, type(None)))
