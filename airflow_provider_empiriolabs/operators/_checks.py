"""
What the video operator refuses where the DAG is parsed, before any task runs.

A string, NaN or infinity in a wait setting would fail (or never end) the task at run time, and a
literal request field the API would reject would only fail once the task runs: both are refused
when the operator is built. Templated fields are only known at run time, so they get stand-ins
here; the rendered request is checked again (by the operator) before anything is sent.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from airflow_provider_empiriolabs._templating import is_template
from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import MAX_REFERENCE_IMAGES, VideoRequest

__all__ = ["check_cost", "check_literals", "check_wait_settings"]

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


def check_literals(fields: dict[str, Any], template_fields: Collection[str], max_cost_usd: float | None) -> None:
    """
    Refuse, when the DAG is parsed, what the literal arguments already get wrong.

    A templated field is only known at run time: it gets a stand-in chosen so that it cannot
    fail a rule by itself, and a templated ``mode`` passes if any mode it could render to does.

    :param fields: the request's fields as the operator holds them (templates unrendered).
    :param template_fields: the operator's templated fields.
    :param max_cost_usd: the cost cap, checked against the literal model, resolution and duration.
    """
    fields = dict(fields)
    templated = {name for name in template_fields if name in fields and is_template(fields[name])}
    if "model" in templated:
        return  # which rules apply depends on the model
    for name in templated - {"images", "mode"}:
        fields[name] = _PARSE_TIME_STAND_INS.get(name)
    modes = ["auto", "t2v", "i2v", "r2v"] if "mode" in templated else [fields["mode"]]
    first_error: EmpirioLabsRequestError | None = None
    for mode in modes:
        candidate = {**fields, "mode": mode}
        if "images" in templated:
            # The count is unknown: assume one the mode allows, so only other rules can fail.
            count = {"i2v": 1, "r2v": MAX_REFERENCE_IMAGES}.get(mode if isinstance(mode, str) else "", 0)
            candidate["images"] = [f"https://stand-in.invalid/{n}.png" for n in range(count)]
        try:
            request = VideoRequest.build(**candidate)
        except EmpirioLabsRequestError as error:
            first_error = first_error or error
            continue
        check_cost(request, max_cost_usd)  # model, resolution and duration are never templated here
        return
    assert first_error is not None
    raise first_error
