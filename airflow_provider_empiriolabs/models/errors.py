"""
One message for a refused request: each problem pydantic found, naming the field, what it allows and
(briefly, escaped) what was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from airflow_provider_empiriolabs.models.text import is_param_name, shown

#: The error type of a rule that names its field (see :func:`rule_error`).
RULE_ERROR_TYPE = "empiriolabs_rule"


def rule_error(field: str, rule: str) -> PydanticCustomError:
    """
    A refusal by a rule that looks at several fields, naming the one to fix as data.

    Pydantic locates the errors of a field validator itself; a model validator's errors have no
    location, so the field travels in the error's context and :func:`describe_validation_error`
    reads it from there (never from the text).

    :param field: the field to fix (``duration``; inside ``extra_params``, the key).
    :param rule: what it allows, and what it got.
    """
    return PydanticCustomError(RULE_ERROR_TYPE, "{field}: {rule}", {"field": field, "rule": rule})


def describe_validation_error(err: ValidationError) -> str:
    """
    One line per problem, naming the field, what is allowed and (briefly) what was given.

    A rule that looks at several fields names the one to fix in its context (:func:`rule_error`);
    hostile keys and values are shown escaped and cut.

    :param err: pydantic's error.
    """
    lines = []
    for problem in err.errors(include_url=False):
        field = ".".join(_loc_part(part) for part in problem["loc"]) or "request"
        message = str(problem["msg"]).removeprefix("Value error, ")
        context = problem.get("ctx") or {}
        if problem["type"] == RULE_ERROR_TYPE:
            named = ".".join(_loc_part(part) for part in str(context["field"]).split("."))
            field, message = (named if field == "request" else f"{field}.{named}"), str(context["rule"])
        given = problem.get("input")
        hide = problem["type"] in {"missing", "model_type"} or isinstance(given, Mapping) or "(got" in message
        shown_given = "" if hide or field == "prompt" else f" (got {shown(given)})"
        lines.append(f"{field}: {message}{shown_given}")
    return "Invalid EmpirioLabs request: " + "; ".join(lines)


def _loc_part(part: Any) -> str:
    return str(part) if isinstance(part, int) or is_param_name(part) else shown(part)
