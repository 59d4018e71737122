"""
One message for a refused request: each problem pydantic found, naming the field, what it allows and
(briefly, escaped) what was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from airflow_provider_empiriolabs.models.text import is_param_name, shown


def describe_validation_error(err: ValidationError) -> str:
    """
    One line per problem, naming the field, what is allowed and (briefly) what was given.

    A field a message names first (``duration: must be ...``, raised by a rule that looks at
    several fields) is the field reported; hostile keys and values are shown escaped and cut.

    :param err: pydantic's error.
    """
    lines = []
    for problem in err.errors(include_url=False):
        field = ".".join(_loc_part(part) for part in problem["loc"]) or "request"
        message = str(problem["msg"]).removeprefix("Value error, ")
        head, sep, rest = message.partition(": ")
        if sep and " " not in head and (field == "request" or field == "extra_params"):
            field, message = (head if field == "request" else f"{field}.{head}"), rest
        given = problem.get("input")
        hide = problem["type"] in {"missing", "model_type"} or isinstance(given, Mapping) or "(got" in message
        shown_given = "" if hide or field == "prompt" else f" (got {shown(given)})"
        lines.append(f"{field}: {message}{shown_given}")
    return "Invalid EmpirioLabs request: " + "; ".join(lines)


def _loc_part(part: Any) -> str:
    return str(part) if isinstance(part, int) or is_param_name(part) else shown(part)
