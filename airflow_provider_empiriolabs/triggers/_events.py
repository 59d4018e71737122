"""
The trigger's events, built and read in one place: one vocabulary beside its reader.

:class:`~.empiriolabs.EmpirioLabsJobTrigger` fires exactly one event per wait, built here:

* ``success`` / ``failed`` (:func:`job_event`): the job ended; it travels with its output URLs
  redacted, since the triggerer logs every event and stores it in the database;
* ``timeout`` (:func:`timeout_event`): the deadline passed first;
* ``error`` (:func:`error_event`): a poll failed in a way polling cannot fix, with the error's
  kind, so the resumed task decides as a worker would have.

The operator and the sensor read them back here (:func:`job_from_event`, :func:`finished_job`,
:func:`timeout_message`); what a kind or a failed job means is the outcome policy's
(:mod:`airflow_provider_empiriolabs._outcome`). Event statuses and fields are stored by the
triggerer across upgrades: never rename one.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException
from pydantic import ValidationError

from airflow_provider_empiriolabs._outcome import kind_of, raise_for_failed_job, task_failure
from airflow_provider_empiriolabs.models import Job
from airflow_provider_empiriolabs.redaction import redact_url

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

__all__ = [
    "EventStatus",
    "error_event",
    "finished_job",
    "job_event",
    "job_from_event",
    "timeout_event",
    "timeout_message",
]


class EventStatus(StrEnum):
    """The ``status`` of a trigger event."""

    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"


def _event(status: EventStatus, job_id: str, message: str, job: Job | None = None) -> dict[str, Any]:
    return {
        "status": status.value,
        "job_id": job_id,
        "message": message,
        "job": job.model_dump(mode="json") if job else None,
    }


def job_event(job_id: str, job: Job) -> dict[str, Any]:
    """
    The event of a job that ended: ``success`` or ``failed``, carrying the job, its output URLs redacted.

    :param job_id: the job polled.
    :param job: the job as the last poll saw it (terminal).
    """
    status = EventStatus.SUCCESS if job.status.is_success() else EventStatus.FAILED
    message = f"EmpirioLabs job {job_id} {job.raw_status}" + (f": {job.error.message}" if job.error else "")
    # Signed output URLs are credentials: the task fetches the job again for them (finished_job).
    redacted = job.model_copy(update={"output_urls": [redact_url(url) for url in job.output_urls]})
    return _event(status, job_id, message, redacted)


def timeout_event(job_id: str) -> dict[str, Any]:
    """
    The event of a wait whose deadline passed before the job ended.

    :param job_id: the job waited for.
    """
    return _event(EventStatus.TIMEOUT, job_id, f"timed out waiting for EmpirioLabs job {job_id}")


def error_event(job_id: str, message: str, error: BaseException) -> dict[str, Any]:
    """
    The event of a poll that failed for good, with the error's kind: the resumed task decides as a worker would.

    :param job_id: the job polled.
    :param message: what to tell the user (no secret, no signed URL).
    :param error: what ended the wait.
    """
    return {
        **_event(EventStatus.ERROR, job_id, message),
        "kind": kind_of(error).value,
        "status_code": getattr(error, "status_code", None),
        "code": getattr(error, "code", None),
    }


def _read(event: Any) -> tuple[EventStatus, dict[str, Any]]:
    """The event's status and payload; anything that is not one of the trigger's events is refused."""
    if isinstance(event, dict):
        with contextlib.suppress(ValueError):
            return EventStatus(str(event.get("status"))), event
    raise AirflowException(f"unexpected event from the EmpirioLabs trigger: {event!r}")


def timeout_message(event: dict[str, Any] | None) -> str | None:
    """
    The message of a ``timeout`` event, or ``None`` for any other event (the sensor's own timeout).

    :param event: the event's payload as the trigger sent it.
    """
    if isinstance(event, dict) and event.get("status") == EventStatus.TIMEOUT:
        return str(event.get("message"))
    return None


def job_from_event(event: dict[str, Any] | None) -> Job:
    """
    Read a trigger event back: the finished job on success, an exception for every other outcome.

    An ``error`` event of a final kind fails the task without retries; one without a kind (sent
    by an earlier version of the provider, before the upgrade) fails it with retries, as it did.

    :param event: the event's payload as the trigger sent it.
    """
    status, event = _read(event)
    message = str(event.get("message") or "")
    if status is EventStatus.ERROR:
        raise task_failure(event.get("kind"), message)
    if status is EventStatus.TIMEOUT:
        raise AirflowException(message)
    try:
        job = Job.model_validate(event.get("job"))
    except ValidationError:
        raise AirflowException(f"unexpected event from the EmpirioLabs trigger: {event!r}") from None
    raise_for_failed_job(job)
    if not job.status.is_success():
        raise AirflowException(f"EmpirioLabs job {job.job_id} is not finished ({job.raw_status})")
    return job


def finished_job(event: dict[str, Any] | None, hook: EmpirioLabsHook) -> Job:
    """
    The finished job a trigger event reports, read again from the API for its signed output URLs.

    Events carry output URLs redacted (they are logged and stored), so the task fetches the job:
    minutes after it finished, well inside the API's 1-hour retention. If the API now disagrees
    with the poll that saw success, the task fails with retries left: a retry reattaches.

    :param event: the event's payload as the trigger sent it.
    :param hook: the hook of the task, to read the job.
    """
    reported = job_from_event(event)
    job = hook.get_job(reported.job_id)
    if not job.status.is_success():
        raise AirflowException(
            f"EmpirioLabs job {job.job_id} was reported {reported.raw_status} but now reads {job.raw_status}; "
            "a retry of the task reattaches to it"
        )
    return job
