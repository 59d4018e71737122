"""
Jobs as the API reports them: the status classes, the job, its error, and the answer to a submission.

Parsing is tolerant of shape (most of it is undocumented) and strict about the job id, which names
URL paths, XCom values and stored objects: an unsafe id raises ``ValueError``, and so does any other
unreadable answer. Nothing else is ever raised, however hostile the value (deep nesting included).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from airflow_provider_empiriolabs.models.parsing import api_job_id, fraction, number, output_urls, safe_text, timestamp

_SUCCESS_VALUES = frozenset({"completed", "succeeded", "success", "done"})
_FAILURE_VALUES = frozenset({"failed", "error", "cancelled", "canceled", "expired", "timeout"})
_MAX_STATUS_CHARS = 64
_MAX_MESSAGE_CHARS = 1000


class JobStatus(StrEnum):
    """
    The class of a job's status.

    The API's status strings are not listed in one place; they are folded into three classes
    (case-insensitive), and anything unknown counts as still running so that a new intermediate
    state never fails a task.
    """

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def from_api(cls, value: object) -> JobStatus:
        """Classify a raw status value of the API (anything but a string counts as running)."""
        text = value.strip().lower() if isinstance(value, str) else ""
        if text in _SUCCESS_VALUES:
            return cls.SUCCEEDED
        if text in _FAILURE_VALUES:
            return cls.FAILED
        return cls.RUNNING

    def is_terminal(self) -> bool:
        """Return whether the job will not change any more."""
        return self is not JobStatus.RUNNING

    def is_success(self) -> bool:
        """Return whether the job finished and its outputs can be fetched."""
        return self is JobStatus.SUCCEEDED


#: Error codes of a failed job after which a new job may be submitted: the failure was the
#: service's, not the request's. Everything else (content policy, validation, credits) is final.
TRANSIENT_JOB_ERROR_CODES = frozenset(
    {"model_unavailable", "upstream_error", "internal_error", "server_error", "timeout", "overloaded"}
)


class JobError(BaseModel):
    """Why a job failed: the API's code and message, and whether it said the job was billed."""

    code: str | None = None
    message: str = "unknown error"
    billed: bool | None = None

    @classmethod
    def from_api(cls, value: Any) -> JobError | None:
        """
        Read the API's error object or string; ``None`` when there is none.

        :param value: the job's ``error``.
        """
        if value is None or value == "" or (isinstance(value, Mapping) and not value):
            return None
        if isinstance(value, Mapping):
            code = safe_text(value.get("code") or value.get("type"), _MAX_STATUS_CHARS)
            message = safe_text(value.get("message") or value.get("detail"), _MAX_MESSAGE_CHARS)
            billed = value.get("billed")
            return cls(
                code=code or None,
                message=message or code or "unknown error",
                billed=billed if isinstance(billed, bool) else None,
            )
        message = safe_text(value, _MAX_MESSAGE_CHARS)
        return cls(message=message or f"unreadable error ({type(value).__name__})")

    def is_transient(self) -> bool:
        """Whether a new job may succeed where this one failed, and the API said this one cost nothing."""
        return self.code in TRANSIENT_JOB_ERROR_CODES and self.billed is False


class Job(BaseModel):
    """A generation job as ``GET /v1/jobs/{job_id}`` reports it."""

    job_id: str
    status: JobStatus
    raw_status: str
    progress: float | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    output_urls: list[str] = Field(default_factory=list)
    error: JobError | None = None
    billable_seconds: float | None = None
    cost_usd: float | None = None

    @classmethod
    def from_api(cls, payload: Any) -> Job:
        """
        Parse a job tolerantly: ``job_id`` or ``id``, any status spelling, URLs wherever they are.

        Raises ``ValueError`` (and nothing else) when the answer is not a job object or its id is
        not a safe job id.

        :param payload: the decoded JSON answer.
        """
        if not isinstance(payload, Mapping):
            raise ValueError(f"expected a JSON object for a job, got {type(payload).__name__}")
        raw_id = payload.get("job_id") or payload.get("id")
        if not raw_id:
            raise ValueError("the job has neither job_id nor id")
        job_id = api_job_id(raw_id)
        status = payload.get("status")
        raw_status = safe_text(status, _MAX_STATUS_CHARS) or "unknown"
        raw_result = payload.get("result")
        result: Mapping[str, Any] = raw_result if isinstance(raw_result, Mapping) else {}
        raw_usage = result.get("usage")
        usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
        cost = number(usage.get("cost_usd"))
        raw_cost = usage.get("cost")
        if cost is None and isinstance(raw_cost, Mapping):
            cost = number(raw_cost.get("amount"))
        return cls(
            job_id=job_id,
            status=JobStatus.from_api(status),
            raw_status=raw_status,
            progress=fraction(payload.get("progress")),
            created_at=timestamp(payload.get("created_at")),
            completed_at=timestamp(payload.get("completed_at")),
            output_urls=output_urls(result),
            error=JobError.from_api(payload.get("error")),
            billable_seconds=number(usage.get("billable_units")),
            cost_usd=cost,
        )

    @property
    def state_text(self) -> str:
        """The status as the API said it, with the progress when it gave one: ``processing, 45%``."""
        return self.raw_status if self.progress is None else f"{self.raw_status}, {self.progress:.0%}"

    def summary(
        self, *, seconds: float | None = None, price: Callable[[float | None], float | None] | None = None
    ) -> dict[str, Any]:
        """
        The small, JSON-safe result a task returns: what downstream tasks and people need.

        The cost is the API's own figure when it gave one, else the request's estimate for the
        billed seconds the API reported (or the requested ones).

        :param seconds: the seconds requested, used when the API did not report billed seconds.
        :param price: the request's estimate for a number of billed seconds (``None``: the request's own).
        """
        video_seconds = self.billable_seconds if self.billable_seconds is not None else seconds
        cost = self.cost_usd
        if cost is None and price is not None:
            cost = price(self.billable_seconds)
        return {
            "job_id": self.job_id,
            "status": self.raw_status,
            "output_urls": list(self.output_urls),
            "video_seconds": video_seconds,
            "cost_usd": cost,
        }


class SubmittedJob(BaseModel):
    """What ``POST /v1/videos/generations`` answers: at least the new job's id."""

    job_id: str

    @classmethod
    def from_api(cls, payload: Any) -> SubmittedJob:
        """
        Read the new job's id (``job_id``, else ``id``).

        Raises ``ValueError`` (and nothing else) when there is none or it is not a safe job id: the
        hook then reports the submission's outcome as unknown rather than use a hostile id.

        :param payload: the decoded JSON answer.
        """
        raw_id = (payload.get("job_id") or payload.get("id")) if isinstance(payload, Mapping) else None
        if not raw_id:
            raise ValueError("the API accepted the request but its answer holds no job_id")
        return cls(job_id=api_job_id(raw_id))
