"""
The trigger's events are built and read in one module (``triggers/_events.py``): every status
survives the trip through the triggerer's database (JSON) and means, on resume, what the outcome
policy says.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_empiriolabs._outcome import FINAL_KINDS, ErrorKind, task_failure
from airflow_provider_empiriolabs.exceptions import EmpirioLabsAuthenticationError, EmpirioLabsServerError
from airflow_provider_empiriolabs.models import Job, JobError, JobStatus
from airflow_provider_empiriolabs.triggers._events import (
    EventStatus,
    error_event,
    job_event,
    job_from_event,
    timeout_event,
    timeout_message,
)

SIGNED = "https://cdn.example/v1/outputs/job_1/0.mp4?expires=1&signature=SECRETSIG"


def _stored(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the triggerer stores it and the task gets it back."""
    return json.loads(json.dumps(event))


def _job(status: JobStatus, **fields: Any) -> Job:
    return Job(job_id="job_1", status=status, raw_status=status.value, output_urls=[SIGNED], **fields)


def test_every_status_is_built_here() -> None:
    built = {
        _stored(job_event("job_1", _job(JobStatus.SUCCEEDED)))["status"],
        _stored(job_event("job_1", _job(JobStatus.FAILED, error=JobError(code="content_policy_violation"))))["status"],
        _stored(timeout_event("job_1"))["status"],
        _stored(error_event("job_1", "boom", EmpirioLabsServerError("boom")))["status"],
    }
    assert built == {status.value for status in EventStatus}


def test_a_success_event_reads_back_as_the_job_without_its_signature() -> None:
    event = _stored(job_event("job_1", _job(JobStatus.SUCCEEDED)))
    assert "SECRETSIG" not in json.dumps(event)
    job = job_from_event(event)
    assert job.job_id == "job_1" and job.status is JobStatus.SUCCEEDED
    assert job.output_urls == ["https://cdn.example/v1/outputs/job_1/0.mp4"]


def test_a_failed_event_fails_the_task_as_the_policy_says() -> None:
    event = _stored(job_event("job_1", _job(JobStatus.FAILED, error=JobError(code="content_policy_violation"))))
    assert event["status"] == EventStatus.FAILED
    with pytest.raises(AirflowFailException, match="content_policy_violation"):
        job_from_event(event)


def test_a_timeout_event_is_a_timeout_for_the_sensor_and_a_retry_for_the_operator() -> None:
    event = _stored(timeout_event("job_1"))
    assert timeout_message(event) == "timed out waiting for EmpirioLabs job job_1"
    with pytest.raises(AirflowException) as caught:
        job_from_event(event)
    assert not isinstance(caught.value, AirflowFailException)
    assert timeout_message(_stored(job_event("job_1", _job(JobStatus.SUCCEEDED)))) is None
    assert timeout_message(None) is None


@pytest.mark.parametrize(
    ("error", "final"), [(EmpirioLabsAuthenticationError("no"), True), (EmpirioLabsServerError("later"), False)]
)
def test_an_error_event_carries_its_kind(error: Exception, final: bool) -> None:
    event = _stored(error_event("job_1", "EmpirioLabs job job_1: x", error))
    with pytest.raises(AirflowException) as caught:
        job_from_event(event)
    assert isinstance(caught.value, AirflowFailException) is final


@pytest.mark.parametrize("event", [None, {}, {"status": "done"}, {"status": None}, ["status", "success"]])
def test_anything_else_is_refused(event: Any) -> None:
    with pytest.raises(AirflowException, match="unexpected event"):
        job_from_event(event)


@pytest.mark.parametrize("kind", [*ErrorKind, "renamed_later", None])
def test_task_failure_retries_unless_the_kind_is_final(kind: Any) -> None:
    failure = task_failure(kind, "m")
    assert isinstance(failure, AirflowFailException) is (kind in FINAL_KINDS)
    assert str(failure) == "m"
