"""
EmpirioLabsJobTrigger over real HTTP against the simulator: what it serializes, the deadline it
carries, the one event it fires for each outcome, transient errors, and that it never submits.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from airflow.sdk._shared.module_loading import import_string
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_empiriolabs._outcome import NOT_FOUND_GRACE_SECONDS, raise_for_failed_job
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import Job, JobError, JobStatus
from airflow_provider_empiriolabs.testing.server import connection_json
from airflow_provider_empiriolabs.triggers._events import finished_job
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from tests.support import afirst_event, submit_job, wait_until_terminal

CLASSPATH = "airflow_provider_empiriolabs.triggers.empiriolabs.EmpirioLabsJobTrigger"
#: What the kwargs must carry (more, such as timing hints, may follow; never a secret).
SERIALIZED = ("job_id", "empiriolabs_conn_id", "poll_interval", "end_time", "hook_params")


def _trigger(job_id: str, **kwargs: Any) -> EmpirioLabsJobTrigger:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("end_time", time.time() + 60)
    return EmpirioLabsJobTrigger(job_id=job_id, **kwargs)


def test_serialize_round_trips_and_carries_no_secret(
    empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = empiriolabs_simulator
    canary = "sk-canary-7f3a9c1e5b2d4e6f8a0b"
    sim.configure(api_keys=[canary])
    monkeypatch.setenv("AIRFLOW_CONN_STUDIO", connection_json(sim.url, canary))
    end_time = time.time() + 600
    trigger = EmpirioLabsJobTrigger(
        job_id="job_abc", empiriolabs_conn_id="studio", poll_interval=2.5, end_time=end_time, hook_params={"timeout": 9}
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == CLASSPATH
    assert import_string(classpath) is EmpirioLabsJobTrigger
    assert {name: kwargs[name] for name in SERIALIZED} == {
        "job_id": "job_abc",
        "empiriolabs_conn_id": "studio",
        "poll_interval": 2.5,
        "end_time": end_time,
        "hook_params": {"timeout": 9},
    }
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert canary not in repr(kwargs)
    assert canary not in repr(trigger)


async def test_no_secret_in_the_kwargs_or_the_event_of_a_trigger_that_ran(
    empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = empiriolabs_simulator
    canary = "sk-canary-0d1e2f3a4b5c6d7e8f90"
    sim.configure(api_keys=[canary])
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", connection_json(sim.url, canary))
    job_id = submit_job()
    trigger = _trigger(job_id)

    event = await afirst_event(trigger)

    assert event["status"] == "success"
    _, kwargs = trigger.serialize()
    assert canary not in repr(kwargs)
    assert canary not in repr(event)


async def test_a_trigger_rebuilt_after_its_deadline_times_out_at_once(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    _, kwargs = _trigger(job_id, end_time=time.time() - 5).serialize()

    event = await afirst_event(EmpirioLabsJobTrigger(**kwargs))

    assert event["status"] == "timeout"
    assert event["job_id"] == job_id
    assert job_id in event["message"]
    assert event["job"] is None
    assert sim.stats()["polls_total"] == 0


async def test_the_deadline_ends_the_wait_on_a_running_job(empiriolabs_connection: Any) -> None:
    job_id = submit_job(duration=15, resolution="1080p")  # about 3 s of real time

    event = await afirst_event(_trigger(job_id, end_time=time.time() + 1.5))

    assert event["status"] == "timeout"
    assert job_id in event["message"]
    assert empiriolabs_connection.stats()["gets_per_job"][job_id] >= 1


async def test_a_finished_job_yields_a_success_event_carrying_the_job(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job(duration=4, resolution="1080p")

    event = await afirst_event(_trigger(job_id))

    assert event["status"] == "success"
    assert event["job_id"] == job_id
    assert job_id in event["message"]
    job = event["job"]
    assert job["job_id"] == job_id
    assert job["status"] == "succeeded"
    assert job["raw_status"] == "completed"
    assert job["cost_usd"] == pytest.approx(0.72)
    assert job["output_urls"] and job["output_urls"][0].startswith(f"{sim.url}/v1/outputs/{job_id}/")
    assert sim.stats()["gets_per_job"][job_id] >= 2  # it polled while the job ran


async def test_a_failed_job_yields_a_failed_event_carrying_the_job_and_the_api_message(
    empiriolabs_connection: Any,
) -> None:
    job_id = submit_job(prompt="A horse SIMULATE_CONTENT_POLICY")

    event = await afirst_event(_trigger(job_id))

    assert event["status"] == "failed"
    assert event["job_id"] == job_id
    assert "content policy" in event["message"]
    assert event["job"]["status"] == "failed"
    assert event["job"]["error"]["code"] == "content_policy_violation"


async def test_an_unknown_job_yields_an_error_event(empiriolabs_connection: Any) -> None:
    event = await afirst_event(_trigger("job_missing"))

    assert event["status"] == "error"
    assert event["job_id"] == "job_missing"
    assert "job_missing" in event["message"]
    assert event["job"] is None


async def test_a_job_gone_past_retention_yields_an_error_event(empiriolabs_connection: Any) -> None:
    job_id = submit_job()
    wait_until_terminal(job_id)
    empiriolabs_connection.expire_job(job_id)

    event = await afirst_event(_trigger(job_id))

    assert event["status"] == "error"
    assert job_id in event["message"]


async def test_a_rejected_key_yields_an_error_event(
    empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", connection_json(empiriolabs_simulator.url, "sk-wrong"))

    event = await afirst_event(_trigger("job_x"))

    assert event["status"] == "error"
    assert "sk-wrong" not in repr(event)


async def test_transient_errors_keep_it_polling_until_the_job_finishes(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    sim.configure(
        fail_next_requests=[
            {"match": "poll", "status": 503, "count": 2},
            {"match": "poll", "status": 502, "count": 1},
            {"match": "poll", "status": 500, "count": 1},
            {"match": "poll", "status": 429, "retry_after": 1, "count": 1},
            {"match": "poll", "kind": "reset", "count": 1},
        ]
    )
    poll_times: list[float] = []
    real_aget_job = EmpirioLabsHook.aget_job

    async def timed_aget_job(self: EmpirioLabsHook, job_id: str) -> Any:
        poll_times.append(time.monotonic())
        return await real_aget_job(self, job_id)

    monkeypatch.setattr(EmpirioLabsHook, "aget_job", timed_aget_job)

    # One attempt per poll: the trigger itself (not the hook's retries) rides out each fault.
    event = await afirst_event(_trigger(job_id, hook_params={"max_attempts": 1}))

    assert event["status"] == "success", event
    stats = sim.stats()
    assert stats["pending_faults"] == 0
    assert stats["responses_by_status"]["503"] == 2
    assert stats["responses_by_status"]["429"] == 1
    assert stats["posts"] == 1  # the test's own submission only
    # The poll after the 429 waited at least the Retry-After second, not the 0.05 s interval.
    gaps = [later - earlier for earlier, later in itertools.pairwise(poll_times)]
    assert max(gaps) >= 0.95, gaps


async def test_with_the_hooks_own_retries_a_503_burst_is_ridden_out(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    wait_until_terminal(job_id)
    sim.configure(fail_next_requests=[{"match": "poll", "status": 503, "count": 1, "retry_after": 0}])

    event = await afirst_event(_trigger(job_id))

    assert event["status"] == "success"
    assert sim.stats()["responses_by_status"]["503"] == 1


async def test_retries_inside_the_hook_do_not_carry_the_wait_past_the_deadline(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job(duration=15, resolution="1080p")
    # Every poll for a while answers 503 asking to come back in a second; the deadline is sooner.
    sim.configure(fail_next_requests=[{"match": "poll", "status": 503, "retry_after": 1, "count": 5}])

    event = await afirst_event(_trigger(job_id, end_time=time.time() + 0.3))

    assert event["status"] == "timeout", event
    # One poll before the deadline (perhaps a second one right at it), not a retry series past it.
    assert sim.stats()["polls_total"] <= 2, sim.stats()["polls_total"]


async def test_it_never_submits(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    jobs = [submit_job(), submit_job(prompt="A horse SIMULATE_MODEL_UNAVAILABLE")]

    for job_id in [*jobs, "job_missing"]:
        await afirst_event(_trigger(job_id))

    stats = sim.stats()
    assert stats["posts"] == 2
    assert stats["jobs_created"] == 2


# -- a hostile world: events without signed URLs, a 404 right after acceptance, a slow poll --------


async def test_the_event_carries_output_urls_redacted_and_the_task_reads_them_from_the_job(
    empiriolabs_connection: Any,
) -> None:
    job_id = submit_job()

    event = await afirst_event(_trigger(job_id))

    assert event["status"] == "success"
    assert event["job"]["output_urls"], event
    assert not any("?" in url or "signature" in url for url in event["job"]["output_urls"]), event
    hook = EmpirioLabsHook()
    try:
        job = await asyncio.to_thread(finished_job, event, hook)
    finally:
        hook.close()
    assert all("signature=" in url for url in job.output_urls)


async def test_a_404_right_after_acceptance_is_the_api_not_knowing_its_job_yet(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    sim.configure(fail_next_requests=[{"match": "poll", "status": 404, "count": 2}])

    event = await afirst_event(_trigger(job_id, accepted_at=time.time()))

    assert event["status"] == "success", event
    assert sim.stats()["responses_by_status"].get("404") == 2


async def test_a_404_long_after_acceptance_ends_the_wait(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    sim.configure(fail_next_requests=[{"match": "poll", "status": 404, "count": 1}])

    event = await afirst_event(_trigger(job_id, accepted_at=time.time() - NOT_FOUND_GRACE_SECONDS - 1))

    assert event["status"] == "error", event


async def test_the_deadline_holds_while_a_poll_is_in_flight(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job(duration=15, resolution="1080p")
    # The poll's answer takes 30 s; the deadline is in half a second.
    sim.configure(fail_next_requests=[{"kind": "delay", "match": "poll", "seconds": 30, "count": 1}])
    started = time.monotonic()

    event = await afirst_event(_trigger(job_id, end_time=time.time() + 0.5), limit_seconds=20)

    assert event["status"] == "timeout", event
    assert time.monotonic() - started < 20  # ended by the deadline, not by the slow answer


def test_a_job_reported_done_that_now_reads_otherwise_fails_the_try_for_a_retry_to_reattach(
    empiriolabs_connection: Any,
) -> None:
    job_id = submit_job(duration=15, resolution="1080p")  # still rendering when read again below
    event = {
        "status": "success",
        "job_id": job_id,
        "message": "completed",
        "job": {"job_id": job_id, "status": "succeeded", "raw_status": "completed"},
    }
    hook = EmpirioLabsHook()
    try:
        with pytest.raises(AirflowException, match="now reads") as caught:
            finished_job(event, hook)
    finally:
        hook.close()
    assert not isinstance(caught.value, AirflowFailException)


@pytest.mark.parametrize(("billed", "final"), [(False, False), (None, True), (True, True)])
def test_a_service_failure_is_resubmitted_only_when_the_api_said_it_was_not_billed(
    billed: bool | None, final: bool
) -> None:
    job = Job(
        job_id="job_1",
        status=JobStatus.FAILED,
        raw_status="failed",
        error=JobError(code="model_unavailable", message="busy", billed=billed),
    )

    with pytest.raises(AirflowException) as caught:
        raise_for_failed_job(job)

    assert isinstance(caught.value, AirflowFailException) is final
    if billed is None:
        assert "did not say whether it was billed" in str(caught.value)
