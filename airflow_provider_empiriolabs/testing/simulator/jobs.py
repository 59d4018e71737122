"""Job state on the simulated clock: render timing, progress, billing, output URLs and usage.

:class:`JobsMixin` is the part of :class:`~airflow_provider_empiriolabs.testing.simulator.SimulatorState`
that creates jobs and answers what a job looks like at a given simulated time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import secrets
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_provider_empiriolabs.testing.simulator._common import _money, iso
from airflow_provider_empiriolabs.testing.simulator.catalogue import MODELS
from airflow_provider_empiriolabs.testing.simulator.knobs import PROGRESS_STEPS
from airflow_provider_empiriolabs.testing.simulator.templates import apply_template
from airflow_provider_empiriolabs.testing.simulator.validation import ApiError, validate_generation


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
    #: Other kinds of job (Compose) than a video generation: the usage event's source, the word for
    #: success, what the result holds beside the outputs, what the usage event holds beside its fields.
    source: str = "api"
    status_word: str = "completed"
    result_extra: dict[str, Any] | None = None
    usage_extra: dict[str, Any] | None = None

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


class JobsMixin:
    """Jobs, billing, output URLs and usage: the job half of ``SimulatorState``."""

    lock: threading.RLock
    clock: SimClock
    knobs: dict[str, Any]
    counters: dict[str, int]
    jobs: dict[str, Job]
    job_order: list[str]
    uploads: dict[str, Upload]
    balance: Decimal
    rng: random.Random
    _secret: bytes
    _pending_refunds: list[Job]

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
            body = apply_template(body)  # a template's model rule and defaults, before validation and billing
            params = validate_generation(body, self.uploads, self.jobs, strict=self.knobs["strict_parameters"])
            now = self.clock.now()
            self._settle(now)
            cost = params.get("cost")  # a model with a spec file: priced by its rows (validate_by_spec)
            if cost is None:
                cost = MODELS[params["model"]].prices[params["resolution"]] * Decimal(str(params["duration"]))
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
                model=params["model"],
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
                units, unit = _billed(job)
                result = {
                    "data": [
                        {
                            "url": self.sign_url(base_url, job, i, now),
                            "content_type": job.content_type,
                            **({} if unit == "image" else {"duration_seconds": job.duration}),
                        }
                        for i in range(job.n_outputs)
                    ],
                    "usage": {
                        "billable_units": units,
                        "billing_unit": unit,
                        **({"cost_usd": _money(job.cost)} if self.knobs["job_reports_cost"] else {}),
                    },
                    **(job.result_extra or {}),
                }
            elif status == "failed" and job.failure is not None:
                error = dict(job.failure)
            return {
                "job_id": job.job_id,
                "status": job.status_word if status == "completed" else status,
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
        ext = "png" if job.content_type == "image/png" else "mp4"  # an image job's outputs (see images.py)
        return f"{base_url}/v1/outputs/{job.job_id}/{index}.{ext}?expires={expires}&signature={sig}"

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
                        "billable_units": _billed(job)[0],
                        "billing_unit": _billed(job)[1],
                        "output_urls": (
                            [self.sign_url(base_url, job, i, now) for i in range(job.n_outputs)]
                            if status == "completed" and self.knobs["usage_lists_outputs"]
                            else []
                        ),
                        "source": job.source,
                        **(job.usage_extra or {}),
                    }
                )
            return {"balance_usd": _money(self.balance), "currency": "USD", "data": data}


def _billed(job: Job) -> tuple[float, str]:
    """(units, unit) a job is billed in: images for an image job (see images.py), else seconds of video."""
    return (job.n_outputs, "image") if job.resolution == "image" else (job.duration, "video-second")


__all__ = ["Job", "JobsMixin", "SimClock", "Upload"]
