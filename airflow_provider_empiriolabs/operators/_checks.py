"""
What the video operator refuses where the DAG is parsed, before any task runs.

A string, NaN or infinity in a wait setting would fail (or never end) the task at run time, and a
literal request field the API would reject would only fail once the task runs: both are refused
when the operator is built. Templated fields are only known at run time, so they get stand-ins
here; the rendered request is checked again (by the operator) before anything is sent.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, get_args

from airflow.sdk import BaseOperator

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import (
    MAX_REFERENCE_IMAGES,
    VALIDATION_MODES,
    Mode,
    VideoRequest,
    request_fields,
)
from airflow_provider_empiriolabs.models.request import Validation
from airflow_provider_empiriolabs.models.text import shown

__all__ = [
    "check_cost",
    "check_literals",
    "check_validation",
    "check_wait_settings",
    "take_request_arguments",
    "templated_arguments",
    "unknown_arguments",
]

#: The operator's own templated arguments, besides every field of the request.
_TEMPLATED_CONNECTIONS = ("images_conn_id", "empiriolabs_conn_id")
#: What BaseOperator takes (task_id, retries...): an argument neither it nor the operator takes is unknown.
_BASE_ARGUMENTS = frozenset(inspect.signature(BaseOperator.__init__).parameters) - {"self", "kwargs"} | {
    "_airflow_mapped_validation_only"
}

#: Stand-ins for templated values when a DAG is parsed, chosen so that only the literal values
#: can make validation fail.
_PARSE_TIME_STAND_INS: dict[str, Any] = {"prompt": "a stand-in prompt", "seed": None, "extra_params": None}


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_wait_settings(poll_interval: Any, seconds: Any, timeout: Any, max_cost_usd: Any) -> float:
    """
    Refuse a poll interval, timeout or cost cap no run could honour; return the timeout in seconds.

    :param poll_interval: the longest wait between two polls, in seconds.
    :param seconds: the timeout in seconds (a timedelta already converted).
    :param timeout: the timeout as given, for the error message.
    :param max_cost_usd: the cost cap, or ``None``.
    """
    if not _is_finite_number(poll_interval) or poll_interval <= 0:
        raise ValueError(f"poll_interval: must be a number of seconds more than 0 (got {poll_interval!r})")
    if not _is_finite_number(seconds) or seconds <= 0:
        raise ValueError(f"timeout: must be more than 0 seconds, a number or a timedelta (got {timeout!r})")
    if max_cost_usd is not None and (not _is_finite_number(max_cost_usd) or max_cost_usd < 0):
        raise ValueError(f"max_cost_usd: must be a number of USD, 0 or more (got {max_cost_usd!r})")
    return float(seconds)


def check_cost(request: VideoRequest, max_cost_usd: float | None) -> None:
    """
    Refuse a request whose estimate exceeds ``max_cost_usd`` (or cannot be estimated under a cap).

    :param request: the validated request.
    :param max_cost_usd: the cap, or ``None`` for none.
    """
    problem = request.cost_problem(max_cost_usd)
    if problem:
        raise EmpirioLabsRequestError(f"{problem}; nothing was sent")


def templated_arguments(model: type[Any], inherited: Collection[str]) -> tuple[str, ...]:
    """
    A video operator's template fields: what it inherits (a decorated operator's ``op_args``...),
    every field of its request model, and its connections.

    :param model: the operator's request model (``VideoRequest`` or one derived from it).
    :param inherited: the template fields of the class it derives from (none for the operator itself).
    """
    return tuple(dict.fromkeys([*inherited, *request_fields(model), *_TEMPLATED_CONNECTIONS]))


def take_request_arguments(
    model: type[Any], named: Mapping[str, Any], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """
    The request's arguments of a video operator, by field, and the names of arguments nothing takes.

    Both are taken out of ``kwargs``, which keeps what BaseOperator takes.

    :param model: the operator's request model: its fields are the request's arguments.
    :param named: the arguments the operator's signature names (``locals()`` of its ``__init__``).
    :param kwargs: the other keyword arguments.
    """
    fields = model.model_fields
    given = {name: value for name, value in named.items() if name in fields}
    given.update({name: kwargs.pop(name, None) for name in fields if name not in given})  # None: the model's default
    unknown = [name for name in kwargs if name not in _BASE_ARGUMENTS]
    for name in unknown:
        del kwargs[name]
    return given, unknown


def unknown_arguments(unknown: Collection[str], model: type[Any], init: Callable[..., None]) -> str:
    """
    Why the arguments in ``unknown`` are refused: each with the closest argument name, if one is close.

    :param unknown: the names of the arguments nothing takes.
    :param model: the operator's request model, whose fields are arguments.
    :param init: the operator's ``__init__``, whose parameters are the operator's own arguments.
    """
    request = request_fields(model)
    own = [name for name in inspect.signature(init).parameters if name not in ("self", "kwargs")]
    said = []
    for name in unknown:
        close = difflib.get_close_matches(str(name), [*request, *own, *sorted(_BASE_ARGUMENTS)], n=1)
        said.append(shown(name) + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"unknown argument{'s' if len(said) > 1 else ''} {', '.join(said)}; the request's arguments are "
        f"{', '.join(request)}"
    )


def check_literals(
    model: type[Any],
    fields: dict[str, Any],
    templated: Collection[str],
    max_cost_usd: float | None,
    *,
    validation: Validation = "strict",
) -> None:
    """
    Refuse, when the DAG is parsed, what the literal arguments already get wrong.

    A templated field is only known at run time: it gets a stand-in chosen so that it cannot
    fail a rule by itself, and a templated ``mode`` passes if any mode it could render to does.
    The cost cap is checked too, unless a field that sets the price (``FieldUse(bill="rate")``:
    model, resolution, duration) is templated, or a ``template`` is named (its defaults are read at
    run time): the rendered request is checked before sending.

    :param model: the request model.
    :param fields: the request's fields as the operator holds them (templates unrendered).
    :param templated: the request's fields that are templates.
    :param max_cost_usd: the cost cap, checked against the literal model, resolution and duration.
    :param validation: how the model's spec is applied (``strict``, ``warn``, ``off``), as at run time.
    """
    fields = dict(fields)
    templated = set(templated)
    if "model" in templated:
        return  # which rules apply depends on the model
    for name in templated - {"images", "mode"}:
        # A request model may name its own stand-ins (Compose: a recipe, a storyboard...), fields its rules need.
        fields[name] = {**_PARSE_TIME_STAND_INS, **getattr(model, "parse_time_stand_ins", {})}.get(name)
    # A template's default_params (a duration, a resolution) are read at run time: the cap is checked then.
    template_named = "template" in templated or fields.get("template") is not None
    price_known = not templated & set(request_fields(model, bill="rate")) and not template_named
    has_mode = "mode" in model.model_fields  # a request model without modes (images) checks once
    modes = list(getattr(model, "modes", get_args(Mode))) if "mode" in templated else [fields.get("mode")]
    first_error: EmpirioLabsRequestError | None = None
    for mode in modes:
        candidate = {**fields, "mode": mode} if has_mode else dict(fields)
        if "images" in templated:
            # The count is unknown: assume one the mode allows, so only other rules can fail.
            count = {"i2v": 1, "r2v": MAX_REFERENCE_IMAGES}.get(mode if isinstance(mode, str) else "", 0)
            candidate["images"] = [f"https://stand-in.invalid/{n}.png" for n in range(count)]
        try:
            request = model.build(validation=validation, **candidate)
        except EmpirioLabsRequestError as error:
            first_error = first_error or error
            continue
        if price_known:
            check_cost(request, max_cost_usd)
        return
    assert first_error is not None
    raise first_error


def check_validation(validation: Any) -> Validation:
    """
    The operator's ``validation`` argument, refused naming the allowed values when it is none of them.

    :param validation: ``strict``, ``warn`` or ``off``.
    """
    for allowed in VALIDATION_MODES:
        if validation == allowed and isinstance(validation, str):
            return allowed
    raise ValueError(f"validation: must be one of {', '.join(map(repr, VALIDATION_MODES))} (got {shown(validation)})")
