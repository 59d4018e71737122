"""A local, independent implementation of the EmpirioLabs API, for tests and benchmarks.

Why Starlette on uvicorn (uvloop + httptools): the simulator must later carry a load benchmark of
thousands of job polls per minute, plus multi-GB streamed downloads, on a 2-core machine, without
becoming the bottleneck it is meant to measure. Starlette and uvicorn with uvloop and httptools
already ship with Airflow 3 (its API server runs on them), so the simulator costs the provider no
extra dependency, and being asyncio-native it serves slow polls, delayed responses and large
streams concurrently from one thread with no thread-per-request overhead.

Why an independent implementation: the simulator never imports the provider's hooks, models or
Airflow. It re-states the API from ``empiriolabs-api.md`` so that a client mistake (a wrong field
name, a resubmitted POST, a poll storm, an ignored ``Retry-After``) shows up as a failing test
instead of being mirrored by shared code.

Time is *simulated*: ``time_scale`` simulated seconds pass per real second, so a 50 s render, a
60 s rate-limit window or a 1 h retention can be crossed in a test within a second or two. Every
timestamp the API shows (``created_at``, URL ``expires``) is on this simulated clock, which starts
at the real wall-clock time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import random
import re
import secrets
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from starlette.requests import Request

from airflow_provider_empiriolabs.testing import video

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: API key the simulator accepts unless told otherwise.
DEFAULT_API_KEY = "sk-empiriolabs-simulator"

#: Prompt substrings that make a job fail, and how (``billed: false`` means the charge is refunded).
DEFAULT_FAILING_PROMPTS: dict[str, dict[str, Any]] = {
    "SIMULATE_CONTENT_POLICY": {
        "code": "content_policy_violation",
        "message": "The prompt was rejected by the content policy.",
        "billed": False,
    },
    "SIMULATE_MODEL_UNAVAILABLE": {
        "code": "model_unavailable",
        "message": "The model is temporarily unavailable, retry shortly.",
        "billed": False,
    },
}

_ERROR_TYPES: dict[str, str] = {
    "missing_api_key": "authentication_error",
    "invalid_api_key": "authentication_error",
    "insufficient_credits": "billing_error",
    "rate_limit_exceeded": "rate_limit_error",
    "invalid_request": "invalid_request_error",
    "template_model_unsupported": "invalid_request_error",
    "model_not_found": "not_found_error",
    "job_not_found": "not_found_error",
    "template_not_found": "not_found_error",
    "not_found": "not_found_error",
    "method_not_allowed": "invalid_request_error",
    "invalid_signature": "permission_error",
    "url_expired": "permission_error",
    "model_unavailable": "api_error",
    "upstream_error": "api_error",
    "internal_error": "api_error",
}

_FAULT_STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "The request is invalid."),
    401: ("invalid_api_key", "Invalid API key."),
    402: ("insufficient_credits", "Insufficient credits for this request."),
    403: ("forbidden", "This API key may not do that."),
    404: ("not_found", "No such job (yet): an eventually consistent store may not know a new job."),
    409: ("conflict", "The request conflicts with the current state."),
    422: ("validation_error", "The request failed validation."),
    429: ("rate_limit_exceeded", "Rate limit exceeded, retry later."),
    500: ("internal_error", "The server had an error while processing your request."),
    502: ("upstream_error", "Bad gateway: the upstream model provider failed."),
    503: ("model_unavailable", "The model is temporarily unavailable, retry shortly."),
}

_MATCHES = ("post", "poll", "download", "any")
_FAULT_KINDS = ("status", "reset", "malformed_json", "delay", "truncate")
_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
_MODES = ("auto", "t2v", "i2v", "r2v")
_TEMPLATES = ("product-showcase", "talking-head", "dance-loop")
_SEED_MAX = 2147483647
_UPLOAD_TYPES = ("image/", "audio/", "video/")
_CENT = Decimal("0.000001")
_TRUNCATED = "empiriolabs.truncated"


# --------------------------------------------------------------------------------------------------
# Errors and small helpers
# --------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An API error answered with the OpenAI-style envelope.

    :param status: HTTP status code.
    :param code: machine-readable error code (documented codes where the docs give one).
    :param message: human-readable message; never contains the caller's API key.
    :param param: the request field at fault, echoed as ``error.param`` for validation errors.
    :param headers: extra response headers (``Retry-After`` ...).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON envelope."""
        err: dict[str, Any] = {
            "message": self.message,
            "type": _ERROR_TYPES.get(self.code, "api_error"),
            "code": self.code,
        }
        if self.param is not None:
            err["param"] = self.param
        return {"error": err}

    def response(self) -> JSONResponse:
        """A Starlette response carrying the envelope."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def _invalid(param: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", f"Invalid value for '{param}': {message}", param=param)


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC with a ``Z`` suffix (what most APIs send; ``datetime.fromisoformat`` reads it)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _money(value: Decimal) -> float:
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class SimClock:
    """Simulated wall clock: starts at the real time and runs ``scale`` times faster.

    Changing the scale rebases the clock so simulated time never jumps.

    :param scale: simulated seconds per real second.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._real0 = time.monotonic()
        self._sim0 = time.time()
        self.scale = scale

    def now(self) -> float:
        """Simulated unix time in seconds."""
        return self._sim0 + (time.monotonic() - self._real0) * self.scale

    def set_scale(self, scale: float) -> None:
        """Change the speed without moving the current simulated time."""
        with self._lock:
            sim = self.now()
            self._real0 = time.monotonic()
            self._sim0 = sim
            self.scale = scale

    def to_real(self, sim_seconds: float) -> float:
        """Real seconds a span of simulated seconds takes at the current scale."""
        return sim_seconds / self.scale


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """What ``GET /v1/models/{id}`` shows and what validation and billing use.

    :param strict: reject unknown request fields (catches client typos); off for a model that is
        documented to take "generic" parameters.
    """

    id: str
    name: str
    description: str
    prices: dict[str, Decimal]
    default_resolution: str
    min_duration: float
    max_duration: float
    max_prompt_chars: int
    parameters: tuple[dict[str, Any], ...]
    strict: bool = True

    def summary(self) -> dict[str, Any]:
        """Entry of the model list."""
        return {
            "id": self.id,
            "object": "model",
            "name": self.name,
            "type": "video",
            "owned_by": "empiriolabs",
            "endpoint": "/v1/videos/generations",
        }

    def detail(self) -> dict[str, Any]:
        """The canonical schema: ``supported_parameters[]`` and ``pricing_rows[]``."""
        return {
            **self.summary(),
            "description": self.description,
            "supported_parameters": [dict(p) for p in self.parameters],
            "pricing_rows": [
                {
                    "resolution": res,
                    "billing_unit": "video-second",
                    "price_usd": float(price),
                    "currency": "USD",
                }
                for res, price in self.prices.items()
            ],
        }


_HAPPYHORSE = ModelSpec(
    id="happyhorse-1-1",
    name="HappyHorse 1.1",
    description="Text, image and reference to video, 3 to 15 s, 720p or 1080p, with audio.",
    prices={"720p": Decimal("0.14"), "1080p": Decimal("0.18")},
    default_resolution="720p",
    min_duration=3,
    max_duration=15,
    max_prompt_chars=2500,
    parameters=(
        {"name": "prompt", "type": "string", "required": True, "max_length": 2500},
        {"name": "mode", "type": "string", "required": False, "default": "auto", "enum": list(_MODES)},
        {"name": "image", "type": ["string", "array"], "required": False, "max_items": 9},
        {"name": "images", "type": "array", "required": False, "max_items": 9},
        {"name": "reference_images", "type": "array", "required": False, "max_items": 9},
        {
            "name": "aspect_ratio",
            "type": "string",
            "required": False,
            "default": "16:9",
            "enum": list(_ASPECT_RATIOS),
        },
        {
            "name": "resolution",
            "type": "string",
            "required": False,
            "default": "720p",
            "enum": ["720p", "1080p"],
        },
        {"name": "duration", "type": "number", "required": False, "default": 5, "minimum": 3, "maximum": 15},
        {"name": "seed", "type": "integer", "required": False, "minimum": 0, "maximum": _SEED_MAX},
        {"name": "watermark", "type": "boolean", "required": False, "default": False},
        {"name": "generate_audio", "type": "boolean", "required": False, "default": True},
        {"name": "template", "type": "string", "required": False, "enum": list(_TEMPLATES)},
        {"name": "extend_from", "type": "object", "required": False, "properties": ["job_id", "video_url"]},
    ),
)

_WAN = ModelSpec(
    id="wan-2-5",
    name="Wan 2.5",
    description="Generic text or image to video model; extra parameters are passed through.",
    prices={"480p": Decimal("0.05"), "720p": Decimal("0.10"), "1080p": Decimal("0.15")},
    default_resolution="720p",
    min_duration=3,
    max_duration=10,
    max_prompt_chars=2000,
    parameters=(
        {"name": "prompt", "type": "string", "required": True, "max_length": 2000},
        {"name": "negative_prompt", "type": "string", "required": False},
        {"name": "image", "type": "string", "required": False},
        {
            "name": "resolution",
            "type": "string",
            "required": False,
            "default": "720p",
            "enum": ["480p", "720p", "1080p"],
        },
        {"name": "duration", "type": "number", "required": False, "default": 5, "minimum": 3, "maximum": 10},
        {"name": "aspect_ratio", "type": "string", "required": False, "enum": list(_ASPECT_RATIOS)},
        {"name": "seed", "type": "integer", "required": False, "minimum": 0, "maximum": _SEED_MAX},
    ),
    strict=False,
)

#: Models the simulator knows, by id.
MODELS: dict[str, ModelSpec] = {m.id: m for m in (_HAPPYHORSE, _WAN)}

_HAPPYHORSE_FIELDS = frozenset(
    {"model", *(p["name"] for p in _HAPPYHORSE.parameters)},
)


# --------------------------------------------------------------------------------------------------
# Knobs
# --------------------------------------------------------------------------------------------------


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


def normalize_fault(raw: Any) -> dict[str, Any]:
    """Check one scripted fault and fill its defaults.

    Shape: ``{"match": "post"|"poll"|"download"|"any", "status": 429|500|502|503,
    "retry_after": s, "count": n}`` or ``{"kind": "reset"|"malformed_json"|"delay"|"truncate", ...}``
    (``delay`` takes ``"seconds"``, real seconds). ``accepted`` says whether a POST hit by the fault
    still creates (and bills) the job: the cases a client cannot tell apart from the outside.
    Defaults: no for ``status`` and ``reset``, yes for ``malformed_json``, ``delay``, ``truncate``.

    :param raw: the fault as given by the test.
    """
    if not isinstance(raw, dict):
        raise ValueError("each fault must be an object")
    unknown = set(raw) - {"match", "kind", "status", "retry_after", "count", "seconds", "accepted"}
    if unknown:
        raise ValueError(f"unknown fault field(s): {sorted(unknown)}")
    kind = raw.get("kind", "status")
    if kind not in _FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {list(_FAULT_KINDS)}")
    match = raw.get("match", "download" if kind == "truncate" else "any")
    if match not in _MATCHES:
        raise ValueError(f"fault match must be one of {list(_MATCHES)}")
    count = raw.get("count", 1)
    if not _is_int(count) or count < 1:
        raise ValueError("fault count must be a positive integer")
    fault: dict[str, Any] = {"kind": kind, "match": match, "count": count}
    if kind == "status":
        status = raw.get("status")
        if status not in _FAULT_STATUS_CODES:
            raise ValueError(f"fault status must be one of {sorted(_FAULT_STATUS_CODES)}")
        fault["status"] = status
    retry_after = raw.get("retry_after")
    if retry_after is not None and (not _is_number(retry_after) or retry_after < 0):
        raise ValueError("fault retry_after must be a number >= 0")
    fault["retry_after"] = retry_after
    if kind == "delay":
        seconds = raw.get("seconds")
        if seconds is None or not _is_number(seconds) or seconds < 0:
            raise ValueError("delay fault needs 'seconds' >= 0")
        fault["seconds"] = float(seconds)
    accepted = raw.get("accepted", kind in ("malformed_json", "delay", "truncate"))
    if not isinstance(accepted, bool):
        raise ValueError("fault accepted must be a boolean")
    fault["accepted"] = accepted
    return fault


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
}

#: Knob names.
KNOBS: frozenset[str] = frozenset(DEFAULT_KNOBS)


# --------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One accepted generation. Kept after retention: its output URLs outlive the job state."""

    job_id: str
    model: str
    prompt: str
    resolution: str
    duration: float
    cost: Decimal
    created_at: float
    queued_until: float
    done_at: float
    failure: dict[str, Any] | None
    output_size: int | None
    content_type: str
    n_outputs: int = 1
    refunded: bool = False
    retention_expired: bool = False
    url_generation: int = 0

    def terminal_at(self) -> float:
        """Simulated time the job reaches its final status."""
        return self.queued_until if self.failure is not None else self.done_at


@dataclass
class Upload:
    """A file accepted by ``POST /v1/files/upload``."""

    upload_id: str
    filename: str
    content_type: str
    data: bytes

    @property
    def path(self) -> str:
        return f"bunny://uploads/{self.upload_id}/{self.filename}"


@dataclass
class Decision:
    """What the gateway does with an incoming request before the route sees it."""

    error: ApiError | None = None
    fault: dict[str, Any] | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class SimulatorState:
    """All mutable state: jobs, uploads, balance, counters, knobs.

    Guarded by one lock because in the in-thread mode tests call ``configure()``/``stats()`` from
    the test thread while the server's event loop handles requests; every critical section is
    short and never awaits.

    :param knobs: initial knob values (see :data:`DEFAULT_KNOBS`); ``reset()`` returns to them.
    """

    def __init__(self, **knobs: Any) -> None:
        self.lock = threading.RLock()
        self._secret = secrets.token_bytes(32)
        self.clock = SimClock()
        self._initial: dict[str, Any] = {}
        self.knobs: dict[str, Any] = {}
        self._apply(DEFAULT_KNOBS)
        self._apply(knobs)
        self._initial = {k: v for k, v in knobs.items() if k not in ("fail_next_requests", "outage_seconds")}
        self._clear()

    # ---- knobs ---------------------------------------------------------------------------------

    def _apply(self, knobs: dict[str, Any]) -> None:
        unknown = set(knobs) - KNOBS
        if unknown:
            raise ValueError(f"unknown simulator knob(s): {sorted(unknown)}; known: {sorted(KNOBS)}")
        checked = {name: _VALIDATORS[name](value) for name, value in knobs.items()}
        for name, value in checked.items():
            if name == "time_scale":
                self.clock.set_scale(value)
            elif name == "credit_balance_usd":
                self.balance = value
            elif name == "outage_seconds":
                self.outage_until = time.monotonic() + value
            elif name == "fail_next_requests":
                self.faults = value
            elif name == "seed":
                self.rng = random.Random(value)
            self.knobs[name] = value

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs at runtime (validated all together first); returns the resulting config.

        :param knobs: knob names and values; ``ValueError`` on an unknown name or a bad value.
        """
        with self.lock:
            self._apply(knobs)
            return self.config()

    def config(self) -> dict[str, Any]:
        """The current knobs as JSON-ready data (balance and remaining outage are live values)."""
        with self.lock:
            self._settle(self.clock.now())
            out = dict(self.knobs)
            out["credit_balance_usd"] = _money(self.balance)
            out["outage_seconds"] = max(0.0, round(self.outage_until - time.monotonic(), 3))
            out["fail_next_requests"] = [dict(f) for f in self.faults]
            return json.loads(json.dumps(out))

    def _clear(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.job_order: list[str] = []
        self.uploads: dict[str, Upload] = {}
        self._pending_refunds: list[Job] = []
        self._window: deque[float] = deque()
        self._arrivals: deque[float] = deque()
        self.counters: dict[str, int] = {
            "posts": 0,
            "jobs_created": 0,
            "polls_total": 0,
            "downloads": 0,
            "downloads_completed": 0,
            "uploads": 0,
            "requests_total": 0,
            "rate_limited": 0,
            "unauthorized": 0,
            "faults_injected": 0,
            "peak_requests_60s": 0,
        }
        self.gets_per_job: dict[str, int] = {}
        self.responses_by_status: dict[str, int] = {}

    def reset(self) -> None:
        """Drop jobs, uploads, counters, scripted faults and outage; knobs back to construction values."""
        with self.lock:
            self.knobs = {}
            self.faults = []
            self.outage_until = 0.0
            self._apply(DEFAULT_KNOBS)
            self._apply(self._initial)
            self.outage_until = 0.0
            self.faults = []
            self.knobs["fail_next_requests"] = []
            self.knobs["outage_seconds"] = 0.0
            self._clear()

    # ---- stats -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters, JSON-ready (string keys), identical in thread and process mode."""
        with self.lock:
            out: dict[str, Any] = dict(self.counters)
            out["gets_per_job"] = dict(self.gets_per_job)
            out["responses_by_status"] = dict(self.responses_by_status)
            out["pending_faults"] = sum(f["count"] for f in self.faults)
            out["balance_usd"] = _money(self.balance)
            out["simulated_time"] = iso(self.clock.now())
            return out

    def count_status(self, status: int) -> None:
        with self.lock:
            key = str(status)
            self.responses_by_status[key] = self.responses_by_status.get(key, 0) + 1

    def count(self, name: str) -> None:
        with self.lock:
            self.counters[name] += 1

    # ---- gateway ---------------------------------------------------------------------------------

    def _window_seconds(self) -> float:
        return 60.0

    def _real_ceil(self, sim_seconds: float) -> int:
        return max(1, math.ceil(self.clock.to_real(max(0.0, sim_seconds)) - 1e-9))

    def admit(self, kind: str, path: str, api_key: str | None, has_auth_header: bool) -> Decision:
        """Everything that happens before a route: counters, auth, rate limit, outage, faults.

        :param kind: ``post``, ``poll``, ``api`` (other ``/v1/`` API calls), ``download`` or ``cdn``.
        :param path: request path (for per-job poll counters).
        :param api_key: the key presented, if any.
        :param has_auth_header: whether an auth header was sent at all (missing vs invalid).
        """
        with self.lock:
            now = self.clock.now()
            self.counters["requests_total"] += 1
            decision = Decision()
            if kind in ("download", "cdn"):
                decision.fault = self._pop_fault(kind)
                return decision
            # API request: counted for peak load whatever happens next.
            self._arrivals.append(now)
            while self._arrivals and self._arrivals[0] <= now - self._window_seconds():
                self._arrivals.popleft()
            self.counters["peak_requests_60s"] = max(self.counters["peak_requests_60s"], len(self._arrivals))
            if kind == "post":
                self.counters["posts"] += 1
            elif kind == "poll":
                self.counters["polls_total"] += 1
                job_id = path.rsplit("/", 1)[-1]
                self.gets_per_job[job_id] = self.gets_per_job.get(job_id, 0) + 1
            if api_key is None:
                self.counters["unauthorized"] += 1
                code = "invalid_api_key" if has_auth_header else "missing_api_key"
                msg = (
                    "Malformed Authorization header: use 'Bearer <key>' or the x-api-key header."
                    if has_auth_header
                    else "No API key provided: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
                )
                decision.error = ApiError(401, code, msg)
                return decision
            if not any(hmac.compare_digest(api_key.encode(), k.encode()) for k in self.knobs["api_keys"]):
                self.counters["unauthorized"] += 1
                decision.error = ApiError(401, "invalid_api_key", "Invalid API key provided.")
                return decision
            limit = self.knobs["rate_limit_rpm"]
            if limit:
                window = self._window
                while window and window[0] <= now - self._window_seconds():
                    window.popleft()
                if len(window) >= limit:
                    self.counters["rate_limited"] += 1
                    wait = self._real_ceil(window[0] + self._window_seconds() - now)
                    headers = {}
                    if self.knobs["retry_after_header"]:
                        headers = {
                            "Retry-After": str(wait),
                            "X-RateLimit-Limit": str(limit),
                            "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": str(wait),
                        }
                    decision.error = ApiError(
                        429,
                        "rate_limit_exceeded",
                        f"Rate limit of {limit} requests per minute exceeded for this account.",
                        headers=headers,
                    )
                    return decision
                window.append(now)
                if self.knobs["retry_after_header"]:
                    reset = self._real_ceil(window[0] + self._window_seconds() - now)
                    decision.headers = [
                        (b"x-ratelimit-limit", str(limit).encode()),
                        (b"x-ratelimit-remaining", str(limit - len(window)).encode()),
                        (b"x-ratelimit-reset", str(reset).encode()),
                    ]
            if time.monotonic() < self.outage_until:
                code = "model_unavailable" if kind == "post" else "upstream_error"
                decision.error = ApiError(503, code, "The service is temporarily unavailable, retry shortly.")
                return decision
            decision.fault = self._pop_fault(kind)
            rate_5xx = self.knobs["error_rate_5xx"]
            if decision.fault is None and rate_5xx > 0 and self.rng.random() < rate_5xx:
                status = self.rng.choice((500, 502, 503))
                code, msg = _FAULT_STATUS_CODES[status]
                decision.error = ApiError(status, code, msg)
            return decision

    def _pop_fault(self, kind: str) -> dict[str, Any] | None:
        for i, fault in enumerate(self.faults):
            if fault["match"] == "any" or fault["match"] == kind:
                fault["count"] -= 1
                if fault["count"] <= 0:
                    del self.faults[i]
                self.counters["faults_injected"] += 1
                return dict(fault)
        return None

    # ---- billing -----------------------------------------------------------------------------------

    def _settle(self, now: float) -> None:
        """Refund failed, unbilled jobs once their failure time has passed (seen lazily)."""
        if not self._pending_refunds:
            return
        keep: list[Job] = []
        for job in self._pending_refunds:
            if job.terminal_at() <= now:
                self.balance += job.cost
                job.refunded = True
            else:
                keep.append(job)
        self._pending_refunds = keep

    # ---- jobs ------------------------------------------------------------------------------------

    def create_job(self, body: Any) -> Job:
        """Validate a generation request, charge it and create the job (``ApiError`` otherwise)."""
        with self.lock:
            params = validate_generation(body, self.uploads, self.jobs, strict=self.knobs["strict_parameters"])
            spec = MODELS[params["model"]]
            now = self.clock.now()
            self._settle(now)
            cost = spec.prices[params["resolution"]] * Decimal(str(params["duration"]))
            if self.balance < cost:
                raise ApiError(
                    402,
                    "insufficient_credits",
                    f"Insufficient credits: this request costs ${_money(cost):.2f}, "
                    f"the account balance is ${_money(self.balance):.2f}.",
                )
            self.balance -= cost
            render = self.knobs["render_base_seconds"] + self.knobs["render_seconds_per_video_second"] * float(
                params["duration"]
            ) * (1.5 if params["resolution"] == "1080p" else 1.0)
            render *= self.knobs["render_time_factor"]
            jitter = self.knobs["render_jitter"]
            if jitter:
                render *= self.rng.uniform(1 - jitter, 1 + jitter)
            failure = None
            for needle, spec_failure in self.knobs["failing_prompts"].items():
                if needle in params["prompt"]:
                    failure = dict(spec_failure)
                    break
            job = Job(
                job_id=f"job_{secrets.token_hex(12)}",
                model=spec.id,
                prompt=params["prompt"],
                resolution=params["resolution"],
                duration=params["duration"],
                cost=cost,
                created_at=now,
                queued_until=now + render * self.knobs["queued_fraction"],
                done_at=now + render,
                failure=failure,
                output_size=self.knobs["output_size_bytes"],
                content_type=self.knobs["output_content_type"],
            )
            if failure is not None and not failure["billed"]:
                self._pending_refunds.append(job)
            self.jobs[job.job_id] = job
            self.job_order.append(job.job_id)
            self.counters["jobs_created"] += 1
            return job

    def job_status(self, job: Job, now: float) -> tuple[str, float, float | None]:
        """(status, progress, completed_at) of a job at simulated time ``now``."""
        if job.failure is not None and now >= job.queued_until:
            return "failed", 0.0, job.queued_until
        if now < job.queued_until:
            return "queued", 0.0, None
        if now < job.done_at:
            span = job.done_at - job.queued_until
            progress = min(0.99, (now - job.queued_until) / span) if span > 0 else 0.99
            if self.knobs["progress_mode"] == "stepped":
                progress = math.floor(progress * PROGRESS_STEPS) / PROGRESS_STEPS
            return self.knobs["unknown_status"] or "processing", round(progress, 4), None
        return "completed", 1.0, job.done_at

    def visible_job(self, job_id: str) -> Job:
        """The job if the API still shows it (exists, not past retention), else 404."""
        with self.lock:
            job = self.jobs.get(job_id)
            now = self.clock.now()
            if job is not None and not job.retention_expired:
                _, _, completed_at = self.job_status(job, now)
                if completed_at is None or now <= completed_at + self.knobs["retention_seconds"]:
                    return job
            raise ApiError(404, "job_not_found", f"No job with id '{job_id}' (unknown or past retention).")

    def job_payload(self, job: Job, base_url: str) -> dict[str, Any]:
        """The ``GET /v1/jobs/{id}`` body, with freshly signed output URLs."""
        with self.lock:
            now = self.clock.now()
            self._settle(now)
            status, progress, completed_at = self.job_status(job, now)
            result = None
            error = None
            if status == "completed":
                result = {
                    "data": [
                        {
                            "url": self.sign_url(base_url, job, i, now),
                            "content_type": job.content_type,
                            "duration_seconds": job.duration,
                        }
                        for i in range(job.n_outputs)
                    ],
                    "usage": {
                        "billable_units": job.duration,
                        "billing_unit": "video-second",
                        "cost_usd": _money(job.cost),
                    },
                }
            elif status == "failed" and job.failure is not None:
                error = dict(job.failure)
            return {
                "job_id": job.job_id,
                "status": status,
                "progress": None if self.knobs["progress_mode"] == "absent" else progress,
                "created_at": iso(job.created_at),
                "completed_at": iso(completed_at),
                "result": result,
                "error": error,
            }

    def expire_job(self, job_id: str, *, retention: bool = True, urls: bool = False) -> None:
        """End a job's retention (polls answer 404) and/or kill its current output URLs now.

        Re-polling a job whose URLs were expired (but not its retention) signs new, valid URLs.
        ``KeyError`` for an unknown job.
        """
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if retention:
                job.retention_expired = True
            if urls:
                job.url_generation += 1  # URLs signed before now stop matching

    # ---- output URLs -----------------------------------------------------------------------------

    def _signature(self, job_id: str, index: int, expires: int, generation: int) -> str:
        msg = f"{job_id}/{index}/{expires}/{generation}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def sign_url(self, base_url: str, job: Job, index: int, now: float) -> str:
        """A presigned output URL valid ``output_url_ttl_seconds`` (simulated) from now."""
        expires = int(now + self.knobs["output_url_ttl_seconds"])
        sig = self._signature(job.job_id, index, expires, job.url_generation)
        return f"{base_url}/v1/outputs/{job.job_id}/{index}.mp4?expires={expires}&signature={sig}"

    def check_download(self, job_id: str, index_str: str, expires_str: str, signature: str) -> Job:
        """The job whose output a presigned URL names, or 403/404."""
        with self.lock:
            try:
                index = int(index_str)
                expires = int(expires_str)
            except ValueError:
                raise ApiError(403, "invalid_signature", "Malformed presigned URL.") from None
            job = self.jobs.get(job_id)
            generation = job.url_generation if job is not None else 0
            # A URL signed for an earlier generation was revoked by expire_job(urls=True).
            signed_for = next(
                (
                    g
                    for g in range(generation, -1, -1)
                    if hmac.compare_digest(self._signature(job_id, index, expires, g), signature)
                ),
                None,
            )
            if signed_for is None:
                raise ApiError(403, "invalid_signature", "Signature does not match: this URL was altered.")
            if job is None or index >= job.n_outputs or index < 0:
                raise ApiError(404, "not_found", "No such output.")
            now = self.clock.now()
            if expires < now or signed_for != generation:
                raise ApiError(403, "url_expired", "This presigned URL has expired; poll the job for a new one.")
            status, _, _ = self.job_status(job, now)
            if status != "completed":
                raise ApiError(404, "not_found", "No such output.")
            return job

    # ---- usage -----------------------------------------------------------------------------------

    def usage(self, base_url: str, limit: int, model: str | None, since: float | None) -> dict[str, Any]:
        """``GET /v1/account/usage`` body, newest first."""
        with self.lock:
            now = self.clock.now()
            self._settle(now)
            data: list[dict[str, Any]] = []
            for job_id in reversed(self.job_order):
                if len(data) >= limit:
                    break
                job = self.jobs[job_id]
                if model is not None and job.model != model:
                    continue
                if since is not None and job.created_at < since:
                    continue
                status, _, completed_at = self.job_status(job, now)
                cost = Decimal(0) if job.refunded else job.cost
                data.append(
                    {
                        "job_id": job.job_id,
                        "model": job.model,
                        "status": status,
                        "created_at": iso(job.created_at),
                        "completed_at": iso(completed_at),
                        "cost": {"amount": _money(cost), "currency": "USD"},
                        "billable_units": job.duration,
                        "billing_unit": "video-second",
                        "output_urls": (
                            [self.sign_url(base_url, job, i, now) for i in range(job.n_outputs)]
                            if status == "completed"
                            else []
                        ),
                    }
                )
            return {"balance_usd": _money(self.balance), "currency": "USD", "data": data}

    # ---- uploads ---------------------------------------------------------------------------------

    def add_upload(self, filename: str, content_type: str, data: bytes) -> Upload:
        with self.lock:
            upload = Upload(secrets.token_hex(8), filename, content_type, data)
            self.uploads[upload.upload_id] = upload
            self.counters["uploads"] += 1
            return upload


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _check_image_ref(value: Any, param: str, uploads: dict[str, Upload]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(param, "must be a non-empty string (an image URL or an uploaded bunny:// path)")
    if value.startswith(("http://", "https://", "data:image/")):
        return value
    if value.startswith("bunny://"):
        m = re.fullmatch(r"bunny://uploads/([0-9a-f]+)/[^/]+", value)
        upload = uploads.get(m.group(1)) if m else None
        if upload is None or upload.path != value:
            raise _invalid(param, "unknown uploaded file path (upload it with POST /v1/files/upload first)")
        if not upload.content_type.startswith("image/"):
            raise _invalid(param, f"the uploaded file is {upload.content_type}, not an image")
        return value
    raise _invalid(param, "must be an http(s) URL, a data:image URI or a bunny:// path from /v1/files/upload")


def _collect_images(body: dict[str, Any], uploads: dict[str, Upload]) -> list[str]:
    images: list[str] = []
    for name in ("image", "images", "reference_images"):
        if name not in body or body[name] is None:
            continue
        value = body[name]
        if isinstance(value, str):
            if name != "image":
                raise _invalid(name, "must be a list of image URLs or uploaded paths")
            images.append(_check_image_ref(value, name, uploads))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                images.append(_check_image_ref(item, f"{name}[{i}]", uploads))
        else:
            raise _invalid(name, "must be a string or a list of strings")
    return images


def _check_enum(body: dict[str, Any], name: str, allowed: tuple[str, ...] | list[str], default: Any) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if value not in allowed:
        raise _invalid(name, f"must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _check_prompt(body: dict[str, Any], max_chars: int) -> str:
    if "prompt" not in body or body["prompt"] is None:
        raise ApiError(400, "invalid_request", "Missing required parameter: 'prompt'.", param="prompt")
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        raise _invalid("prompt", "must be a string")
    if not prompt.strip():
        raise _invalid("prompt", "must not be empty")
    if len(prompt) > max_chars:
        raise _invalid("prompt", f"must be at most {max_chars} characters (got {len(prompt)})")
    return prompt


def _check_common(body: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"model": spec.id, "prompt": _check_prompt(body, spec.max_prompt_chars)}
    out["resolution"] = _check_enum(body, "resolution", list(spec.prices), spec.default_resolution)
    duration = body.get("duration", 5)
    if duration is None:
        duration = 5
    if not _is_number(duration) or not spec.min_duration <= duration <= spec.max_duration:
        raise _invalid(
            "duration",
            f"must be a number of seconds between {spec.min_duration:g} and {spec.max_duration:g} (got {duration!r})",
        )
    out["duration"] = duration
    out["aspect_ratio"] = _check_enum(body, "aspect_ratio", _ASPECT_RATIOS, "16:9")
    seed = body.get("seed")
    if seed is not None and (not _is_int(seed) or not 0 <= seed <= _SEED_MAX):
        raise _invalid("seed", f"must be an integer between 0 and {_SEED_MAX} (got {seed!r})")
    for name in ("watermark", "generate_audio"):
        if name in body and body[name] is not None and not isinstance(body[name], bool):
            raise _invalid(name, f"must be a boolean (got {body[name]!r})")
    return out


def validate_generation(
    body: Any, uploads: dict[str, Upload], jobs: dict[str, Job], *, strict: bool = True
) -> dict[str, Any]:
    """Validate a ``POST /v1/videos/generations`` body the way the real API documents it.

    Returns the normalized parameters billing needs; raises :class:`ApiError` (400 naming the
    field, 404 for an unknown model or template) otherwise.

    :param strict: reject unknown fields for models with a documented schema.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise ApiError(400, "invalid_request", "Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str):
        raise _invalid("model", "must be a string")
    spec = MODELS.get(model)
    if spec is None:
        raise ApiError(
            404,
            "model_not_found",
            f"Invalid value for 'model': the model '{model[:100]}' does not exist (known: {', '.join(MODELS)}).",
            param="model",
        )
    if spec.strict and strict:
        unknown = sorted(set(body) - _HAPPYHORSE_FIELDS)
        if unknown:
            raise ApiError(
                400,
                "invalid_request",
                f"Unknown parameter: '{unknown[0]}' is not supported by {spec.id}.",
                param=unknown[0],
            )
    out = _check_common(body, spec)
    if spec is not _HAPPYHORSE:
        if "image" in body and body["image"] is not None:
            _check_image_ref(body["image"], "image", uploads)
        return out
    mode = _check_enum(body, "mode", _MODES, "auto")
    images = _collect_images(body, uploads)
    n = len(images)
    if mode == "auto":
        mode = "t2v" if n == 0 else "i2v" if n == 1 else "r2v"
    if mode == "t2v" and n:
        raise _invalid("image", f"mode t2v takes no image (got {n})")
    if mode == "i2v" and n != 1:
        raise _invalid("image", f"mode i2v needs exactly 1 image (got {n})")
    if mode == "r2v" and not 1 <= n <= 9:
        raise _invalid("image", f"mode r2v needs 1 to 9 reference images (got {n})")
    out["mode"] = mode
    template = body.get("template")
    if template is not None:
        if not isinstance(template, str) or not template:
            raise _invalid("template", "must be a template slug string")
        if template not in _TEMPLATES:
            raise ApiError(404, "template_not_found", f"Template '{template[:100]}' not found.", param="template")
    extend = body.get("extend_from")
    if extend is not None:
        if not isinstance(extend, dict) or len(extend) != 1 or not set(extend) <= {"job_id", "video_url"}:
            raise _invalid("extend_from", "must be {'job_id': ...} or {'video_url': ...}")
        if "job_id" in extend:
            source = jobs.get(extend["job_id"]) if isinstance(extend["job_id"], str) else None
            if source is None:
                raise _invalid("extend_from.job_id", "unknown job")
        elif not isinstance(extend["video_url"], str) or not extend["video_url"].startswith(("http://", "https://")):
            raise _invalid("extend_from.video_url", "must be an http(s) URL")
    return out


# --------------------------------------------------------------------------------------------------
# HTTP: routes
# --------------------------------------------------------------------------------------------------


class _VideoResponse(FileResponse):
    """``FileResponse`` (which handles ``Range`` -> 206 itself) with bigger chunks and counters.

    1 MiB chunks keep a 1 GB stream at ~1000 thread hops instead of ~16000.
    """

    chunk_size = 1024 * 1024

    def __init__(self, state: SimulatorState, path: str, media_type: str) -> None:
        super().__init__(path, media_type=media_type, content_disposition_type="inline")
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._state

        async def counting_send(message: Message) -> None:
            if scope["method"] != "GET":
                await send(message)
                return
            if message["type"] == "http.response.start" and message["status"] in (200, 206):
                state.count("downloads")
            await send(message)
            if (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and not scope.get(_TRUNCATED)
            ):
                state.count("downloads_completed")

        await super().__call__(scope, receive, counting_send)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def build_routes(state: SimulatorState) -> list[Route]:
    """The Starlette routes, bound to ``state``."""

    async def create_generation(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(400, "invalid_request", "The request body is not valid JSON.") from None
        job = state.create_job(body)
        return JSONResponse(
            {"job_id": job.job_id, "status": "queued", "poll_url": f"/v1/jobs/{job.job_id}"},
            status_code=202,
        )

    async def get_job(request: Request) -> Response:
        job = state.visible_job(request.path_params["job_id"])
        return JSONResponse(state.job_payload(job, _base_url(request)))

    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        if not name.endswith(".mp4"):
            raise ApiError(404, "not_found", "No such output.")
        job = state.check_download(
            request.path_params["job_id"],
            name[: -len(".mp4")],
            request.query_params.get("expires", ""),
            request.query_params.get("signature", ""),
        )
        path = await asyncio.to_thread(video.video_path, job.output_size)
        return _VideoResponse(state, str(path), job.content_type)

    async def list_models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [m.summary() for m in MODELS.values()]})

    async def get_model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        spec = MODELS.get(model_id)
        if spec is None:
            raise ApiError(404, "model_not_found", f"The model '{model_id[:100]}' does not exist.", param="model")
        return JSONResponse(spec.detail())

    async def usage(request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit", "25"))
        except ValueError:
            raise _invalid("limit", "must be an integer") from None
        if not 1 <= limit <= 100:
            raise _invalid("limit", "must be between 1 and 100")
        since = None
        if q.get("from"):
            try:
                dt = datetime.fromisoformat(q["from"].replace("Z", "+00:00"))
            except ValueError:
                raise _invalid("from", "must be an ISO-8601 date or datetime") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            since = dt.timestamp()
        return JSONResponse(state.usage(_base_url(request), limit, q.get("model") or None, since))

    async def upload(request: Request) -> Response:
        limit = state.knobs["upload_max_bytes"]
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise _invalid("file", f"file is too large (more than the {limit} bytes limit)")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(
                400, "invalid_request", "Send the file as multipart/form-data in a field named 'file'.", "file"
            )
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception as exc:
            raise _invalid("file", f"could not parse the multipart body ({exc})") from None
        try:
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise ApiError(400, "invalid_request", "Missing required file field: 'file'.", param="file")
            content_type = (part.content_type or "").split(";")[0].strip().lower()
            if not content_type.startswith(_UPLOAD_TYPES):
                raise _invalid(
                    "file", f"unsupported content type {content_type or 'none'!r}: send image, audio or video"
                )
            data = await part.read()
        finally:
            await form.close()
        if len(data) > limit:
            raise _invalid("file", f"file is too large ({len(data)} bytes, the limit is {limit})")
        if not data:
            raise _invalid("file", "file is empty")
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", (part.filename or "upload").rsplit("/", 1)[-1])[:200] or "upload"
        item = state.add_upload(filename, content_type, data)
        return JSONResponse(
            {
                "path": item.path,
                "url": f"{_base_url(request)}/v1/uploads/{item.upload_id}/{item.filename}",
                "content_type": content_type,
                "size_bytes": len(data),
            },
            status_code=201,
        )

    async def get_upload(request: Request) -> Response:
        item = state.uploads.get(request.path_params["upload_id"])
        if item is None or item.filename != request.path_params["name"]:
            raise ApiError(404, "not_found", "No such file.")
        return Response(item.data, media_type=item.content_type)

    async def control_config(request: Request) -> Response:
        if request.method == "POST":
            try:
                knobs = await request.json()
            except ValueError:
                raise ApiError(400, "invalid_request", "Body must be a JSON object of knobs.") from None
            if not isinstance(knobs, dict):
                raise ApiError(400, "invalid_request", "Body must be a JSON object of knobs.")
            try:
                return JSONResponse(state.configure(**knobs))
            except ValueError as exc:
                raise ApiError(400, "invalid_request", str(exc)) from None
        return JSONResponse(state.config())

    async def control_reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def control_stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def control_expire(request: Request) -> Response:
        raw = await request.body()
        opts = json.loads(raw) if raw else {}
        try:
            state.expire_job(
                request.path_params["job_id"],
                retention=bool(opts.get("retention", True)),
                urls=bool(opts.get("urls", False)),
            )
        except KeyError:
            raise ApiError(404, "job_not_found", "No such job.") from None
        return JSONResponse({"ok": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return [
        Route("/v1/videos/generations", create_generation, methods=["POST"]),
        Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/v1/outputs/{job_id}/{name}", download, methods=["GET", "HEAD"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id}", get_model, methods=["GET"]),
        Route("/v1/account/usage", usage, methods=["GET"]),
        Route("/v1/files/upload", upload, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/{name}", get_upload, methods=["GET"]),
        Route("/_config", control_config, methods=["GET", "POST"]),
        Route("/_reset", control_reset, methods=["POST"]),
        Route("/_stats", control_stats, methods=["GET"]),
        Route("/_jobs/{job_id}/expire", control_expire, methods=["POST"]),
        Route("/_health", health, methods=["GET"]),
    ]


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "method_not_allowed" if exc.status_code == 405 else "not_found"
    return ApiError(exc.status_code, code, str(exc.detail)).response()


# --------------------------------------------------------------------------------------------------
# HTTP: gateway (auth, rate limit, faults) as a raw ASGI layer around the routes
# --------------------------------------------------------------------------------------------------


def _classify(method: str, path: str) -> str | None:
    if not path.startswith("/v1/"):
        return None
    if path.startswith("/v1/outputs/"):
        return "download"
    if path.startswith("/v1/uploads/"):
        return "cdn"
    if path == "/v1/videos/generations" and method == "POST":
        return "post"
    if path.startswith("/v1/jobs/") and method == "GET":
        return "poll"
    return "api"


def _api_key(scope: Scope) -> tuple[str | None, bool]:
    """(key, any auth header present). A malformed Authorization header yields (None, True)."""
    auth = None
    x_key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value.decode("latin-1")
        elif name == b"x-api-key":
            x_key = value.decode("latin-1")
    if auth is not None:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip(), True
        if x_key and x_key.strip():
            return x_key.strip(), True
        return None, True
    if x_key is not None:
        return (x_key.strip() or None), True
    return None, False


def _transport_of(send: Send) -> tuple[Any, Any]:
    """uvicorn's transport behind its ``send`` (to drop a connection the way a network does)."""
    cycle = getattr(send, "__self__", None)
    return cycle, getattr(cycle, "transport", None)


async def _drop_connection(send: Send, *, reset: bool) -> None:
    """Close the client connection: RST (``reset``) or FIN after flushing what was written."""
    cycle, transport = _transport_of(send)
    if transport is None:  # not uvicorn: best effort
        raise ConnectionAbortedError("simulated connection drop")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    # Tell uvicorn the client is gone so it neither answers 500 nor logs an incomplete response.
    with contextlib.suppress(AttributeError):
        cycle.disconnected = True
    await asyncio.sleep(0)


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
    status = 500
    headers: list[Any] = []
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return status, headers, b"".join(chunks)


async def _replay(send: Send, status: int, headers: list[Any], body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_error(send: Send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await _replay(send, error.status, headers, body)


class Gateway:
    """Raw ASGI layer in front of the routes: what a real API's edge does before the model.

    Order per ``/v1/`` API request: count, authenticate (401), rate-limit (429), outage (503),
    then one scripted fault or a random 5xx, then the route. Presigned downloads skip auth and the
    rate limit (a CDN serves them) but still take scripted faults. Underscore control endpoints
    bypass everything. Kept as plain ASGI (not Starlette middleware) because dropping or cutting a
    connection needs the server's own ``send``.

    :param state: the simulator state.
    :param app: the Starlette app with the routes.
    """

    def __init__(self, state: SimulatorState, app: ASGIApp) -> None:
        self.state = state
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = _classify(scope["method"], scope["path"])
        if kind is None:
            await self.app(scope, receive, send)
            return
        state = self.state
        key, has_header = _api_key(scope) if kind not in ("download", "cdn") else (None, False)
        decision = state.admit(kind, scope["path"], key, has_header)
        extra = decision.headers

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.count_status(message["status"])
                if extra:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        fault = decision.fault
        if fault is None:
            if decision.error is not None:
                await _send_error(counted, decision.error)
            else:
                await self.app(scope, receive, counted)
            return
        await self._apply_fault(fault, kind, scope, receive, send, counted)

    async def _apply_fault(
        self, fault: dict[str, Any], kind: str, scope: Scope, receive: Receive, send: Send, counted: Send
    ) -> None:
        run_app = kind != "post" or fault["accepted"]
        name = fault["kind"]
        if name == "status":
            if kind == "post" and fault["accepted"]:
                await _capture(self.app, scope, receive)
            code, message = _FAULT_STATUS_CODES[fault["status"]]
            retry = {} if fault["retry_after"] is None else {"Retry-After": str(math.ceil(fault["retry_after"]))}
            await _send_error(counted, ApiError(fault["status"], code, message, headers=retry))
        elif name == "reset":
            if kind == "post" and fault["accepted"]:
                await _capture(self.app, scope, receive)
            self.state.count_status(0)
            await _drop_connection(send, reset=True)
        elif name == "malformed_json":
            if run_app and kind not in ("download", "cdn"):
                status, headers, body = await _capture(self.app, scope, receive)
                broken = body[: max(1, len(body) // 2)]
            else:
                status, headers, broken = 200, [(b"content-type", b"application/json")], b'{"job_id": "job_'
            headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
            headers.append((b"content-type", b"application/json"))
            await _replay(counted, status, headers, broken)
        elif name == "delay":
            if kind in ("download", "cdn"):
                await asyncio.sleep(fault["seconds"])
                await self.app(scope, receive, counted)
            else:
                status, headers, body = await _capture(self.app, scope, receive)
                await asyncio.sleep(fault["seconds"])
                await _replay(counted, status, headers, body)
        else:  # truncate
            await self._truncated(scope, receive, send, counted)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send, counted: Send) -> None:
        """Send the real headers (full Content-Length), then half the body, then close."""
        sent = 0
        cutoff: int | None = None
        done = False

        async def cutting(message: Message) -> None:
            nonlocal sent, cutoff, done
            if done:
                return
            if message["type"] == "http.response.start":
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-length":
                        cutoff = int(v) // 2
                await counted(message)
                return
            body = message.get("body", b"")
            if cutoff is None:
                cutoff = len(body) // 2
            room = cutoff - sent
            if len(body) >= room:
                await send({"type": "http.response.body", "body": body[:room], "more_body": True})
                done = True
                scope[_TRUNCATED] = True
                await _drop_connection(send, reset=False)
                return
            sent += len(body)
            await send({"type": "http.response.body", "body": body, "more_body": True})

        await self.app(scope, receive, cutting)


def create_app(state: SimulatorState) -> ASGIApp:
    """The full ASGI application (gateway + routes) serving ``state``."""
    app = Starlette(
        routes=build_routes(state),
        exception_handlers={ApiError: _api_error_handler, HTTPException: _http_error_handler},
    )
    return Gateway(state, app)
