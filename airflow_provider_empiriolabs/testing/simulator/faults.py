"""What goes wrong before a route runs: scripted faults, the outage, random 5xx and the rate limit.

:class:`AdmissionMixin` is the part of :class:`~airflow_provider_empiriolabs.testing.simulator.SimulatorState`
that decides, per request, what the gateway does before the route sees it.
"""

from __future__ import annotations

import hmac
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.testing.simulator._common import _is_int, _is_number
from airflow_provider_empiriolabs.testing.simulator.validation import ApiError

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.testing.simulator.jobs import SimClock

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
#: The rate limit's sliding window, in simulated seconds: the API counts requests per 60 s.
RATE_WINDOW_SECONDS = 60.0
#: Paths served to anyone: third-party integrations list the catalog with no key and get 200
#: (empiriolabs-catalogue.md, "GET /v1/models answers without a key"). Whether the real API checks a
#: key that is sent anyway is unknown; the simulator takes the client's worst case: it does not, so a
#: 200 here proves nothing about a key. A known key is still counted against its account's limit.
PUBLIC_PATHS = frozenset({"/v1/models"})


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


@dataclass
class Decision:
    """What the gateway does with an incoming request before the route sees it."""

    error: ApiError | None = None
    fault: dict[str, Any] | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class AdmissionMixin:
    """Auth, rate limit, outage and faults: the admission half of ``SimulatorState``."""

    lock: threading.RLock
    clock: SimClock
    knobs: dict[str, Any]
    counters: dict[str, int]
    gets_per_job: dict[str, int]
    faults: list[dict[str, Any]]
    outage_until: float
    rng: random.Random
    _window: deque[float]
    _arrivals: deque[float]

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
            while self._arrivals and self._arrivals[0] <= now - RATE_WINDOW_SECONDS:
                self._arrivals.popleft()
            self.counters["peak_requests_60s"] = max(self.counters["peak_requests_60s"], len(self._arrivals))
            if kind == "post":
                self.counters["posts"] += 1
            elif kind == "poll":
                self.counters["polls_total"] += 1
                job_id = path.rsplit("/", 1)[-1]
                self.gets_per_job[job_id] = self.gets_per_job.get(job_id, 0) + 1
            known = api_key is not None and any(
                hmac.compare_digest(api_key.encode(), k.encode()) for k in self.knobs["api_keys"]
            )
            if not known and path in PUBLIC_PATHS:
                return self._after_the_account(kind, decision)  # no account: no auth, no rate limit
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
            if not known:
                self.counters["unauthorized"] += 1
                decision.error = ApiError(401, "invalid_api_key", "Invalid API key provided.")
                return decision
            limit = self.knobs["rate_limit_rpm"]
            if limit:
                window = self._window
                while window and window[0] <= now - RATE_WINDOW_SECONDS:
                    window.popleft()
                if len(window) >= limit:
                    self.counters["rate_limited"] += 1
                    wait = self._real_ceil(window[0] + RATE_WINDOW_SECONDS - now)
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
                    reset = self._real_ceil(window[0] + RATE_WINDOW_SECONDS - now)
                    decision.headers = [
                        (b"x-ratelimit-limit", str(limit).encode()),
                        (b"x-ratelimit-remaining", str(limit - len(window)).encode()),
                        (b"x-ratelimit-reset", str(reset).encode()),
                    ]
            return self._after_the_account(kind, decision)

    def _after_the_account(self, kind: str, decision: Decision) -> Decision:
        """The outage, then one scripted fault or a random 5xx: what any caller meets, keyed or not."""
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


__all__ = ["AdmissionMixin", "Decision", "normalize_fault"]
