"""The simulator's knobs: every name, its default and the check of a value a test sets.

Changes when a test needs the fake world to behave another way.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from airflow_provider_empiriolabs.testing import video
from airflow_provider_empiriolabs.testing.simulator._common import _is_int, _is_number
from airflow_provider_empiriolabs.testing.simulator.catalogue import (
    DEFAULT_API_KEY,
    DEFAULT_FAILING_PROMPTS,
    check_catalogue_changes,
)
from airflow_provider_empiriolabs.testing.simulator.faults import normalize_fault


def _v_positive(name: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if not _is_number(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number")
        return float(value)

    return check


def _v_non_negative(name: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if not _is_number(value) or value < 0:
            raise ValueError(f"{name} must be a number >= 0")
        return float(value)

    return check


def _v_bool(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a boolean")
        return value

    return check


def _v_rate(value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise ValueError("rate_limit_rpm must be an integer >= 0 or null (0 and null disable it)")
    return value or None


def _v_fraction(name: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number between 0 and 1")
        return float(value)

    return check


def _v_queued_fraction(value: Any) -> float:
    if not _is_number(value) or not 0 <= value < 1:
        raise ValueError("queued_fraction must be a number in [0, 1)")
    return float(value)


#: How ``GET /v1/jobs/{id}`` shows progress while a job renders (see the ``progress_mode`` knob).
PROGRESS_MODES = ("linear", "stepped", "absent")
#: Steps of the ``stepped`` progress mode: it stalls at 0, 0.25, 0.5 and 0.75, then jumps.
PROGRESS_STEPS = 4


def _v_progress_mode(value: Any) -> str:
    if value not in PROGRESS_MODES:
        raise ValueError(f"progress_mode must be one of {', '.join(PROGRESS_MODES)}")
    return str(value)


def _v_seed(value: Any) -> int | None:
    if value is not None and not _is_int(value):
        raise ValueError("seed must be an integer or null")
    return value


def _v_unknown_status(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError("unknown_status must be a non-empty string or null")
    return value


def _v_failing_prompts(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ValueError("failing_prompts must be a mapping {substring: code or {code, message, billed}}")
    out: dict[str, dict[str, Any]] = {}
    for needle, spec in value.items():
        if not isinstance(needle, str) or not needle:
            raise ValueError("failing_prompts keys must be non-empty strings")
        if isinstance(spec, str):
            spec = {"code": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("code"), str):
            raise ValueError(f"failing_prompts[{needle!r}] must be a code string or an object with 'code'")
        out[needle] = {
            "code": spec["code"],
            "message": str(spec.get("message") or f"The generation failed ({spec['code']})."),
            "billed": bool(spec.get("billed", False)),
        }
    return out


def _v_credit(value: Any) -> Decimal:
    if not _is_number(value):
        raise ValueError("credit_balance_usd must be a number")
    return Decimal(str(value))


def _v_output_size(value: Any) -> int | None:
    video.validate_output_size(value)
    return value


def _v_content_type(value: Any) -> str:
    if not isinstance(value, str) or "/" not in value:
        raise ValueError("output_content_type must be a MIME type string")
    return value


def _v_upload_max(value: Any) -> int:
    if not _is_int(value) or value <= 0:
        raise ValueError("upload_max_bytes must be a positive integer")
    return value


def _v_api_keys(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(k, str) and k for k in value):
        raise ValueError("api_keys must be a non-empty list of strings")
    return list(value)


def _v_faults(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("fail_next_requests must be a list of faults")
    return [normalize_fault(f) for f in value]


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "time_scale": _v_positive("time_scale"),
    "render_base_seconds": _v_non_negative("render_base_seconds"),
    "render_seconds_per_video_second": _v_non_negative("render_seconds_per_video_second"),
    "render_jitter": _v_fraction("render_jitter"),
    "queued_fraction": _v_queued_fraction,
    "render_time_factor": _v_positive("render_time_factor"),
    "progress_mode": _v_progress_mode,
    "rate_limit_rpm": _v_rate,
    "retry_after_header": _v_bool("retry_after_header"),
    "fail_next_requests": _v_faults,
    "error_rate_5xx": _v_fraction("error_rate_5xx"),
    "seed": _v_seed,
    "outage_seconds": _v_non_negative("outage_seconds"),
    "failing_prompts": _v_failing_prompts,
    "unknown_status": _v_unknown_status,
    "credit_balance_usd": _v_credit,
    "output_size_bytes": _v_output_size,
    "output_content_type": _v_content_type,
    "output_url_ttl_seconds": _v_positive("output_url_ttl_seconds"),
    "retention_seconds": _v_non_negative("retention_seconds"),
    "upload_max_bytes": _v_upload_max,
    "api_keys": _v_api_keys,
    "strict_parameters": _v_bool("strict_parameters"),
    "job_reports_cost": _v_bool("job_reports_cost"),
    "usage_lists_outputs": _v_bool("usage_lists_outputs"),
    "catalogue_changes": check_catalogue_changes,
}

#: Every knob and its default. Settable at construction, by ``configure()`` and ``POST /_config``.
#: Times are simulated seconds unless said otherwise.
DEFAULT_KNOBS: dict[str, Any] = {
    "time_scale": 1.0,  # simulated seconds per real second
    "render_base_seconds": 20.0,  # render = base + per_video_second * duration (* 1.5 at 1080p)
    "render_seconds_per_video_second": 6.0,
    "render_jitter": 0.0,  # render time *= uniform(1 - j, 1 + j)
    "queued_fraction": 0.1,  # share of the render time spent "queued"
    "render_time_factor": 1.0,  # render time *= this (a world whose renders do not follow the guess)
    "progress_mode": "linear",  # linear; stepped (stalls, then jumps by quarters); absent (null)
    "rate_limit_rpm": 50,  # per account per 60 s sliding window; 0 or None: off
    "retry_after_header": True,  # send Retry-After and X-RateLimit-* (off: client must back off alone)
    "fail_next_requests": [],  # scripted faults, see normalize_fault(); setting replaces the queue
    "error_rate_5xx": 0.0,  # random share of API requests answered 500/502/503 (not accepted)
    "seed": None,  # seeds jitter and random errors
    "outage_seconds": 0.0,  # REAL seconds from now during which every API request gets 503
    "failing_prompts": DEFAULT_FAILING_PROMPTS,  # {substring: code | {code, message, billed}}
    "unknown_status": None,  # status string shown instead of "processing"
    "credit_balance_usd": 1000.0,  # sets the balance now
    "output_size_bytes": None,  # pad outputs to this size (captured per job at submission)
    "output_content_type": "video/mp4",
    "output_url_ttl_seconds": 7 * 24 * 3600.0,
    "retention_seconds": 3600.0,  # job state kept after completion, then 404
    "upload_max_bytes": 20 * 1024 * 1024,
    "api_keys": [DEFAULT_API_KEY],  # keys of the one account (they share the rate limit)
    "strict_parameters": True,  # reject unknown fields for happyhorse-1-1
    "job_reports_cost": True,  # a finished job's result.usage holds cost_usd (undocumented: off is the docs' shape)
    "usage_lists_outputs": True,  # usage events list the job's output_urls (off: none can be matched to a job)
    "catalogue_changes": {},  # what GET /v1/models/{id} says unlike the spec files: {model: {prices, parameters}}
}

#: Knob names.
KNOBS: frozenset[str] = frozenset(DEFAULT_KNOBS)


__all__ = ["DEFAULT_KNOBS", "KNOBS", "PROGRESS_MODES", "PROGRESS_STEPS"]
