"""
EmpirioLabsJobSensor over real HTTP against the simulator: poke and deferrable modes, failures,
and the timeout as a sensor timeout that ``soft_fail`` turns into a skip (also on a real run).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from tests.support import event_for, run_dag, submit_job, task_instance, wait_until_terminal

#: The sensor reads nothing from its context in poke mode or when deferring.
NO_CONTEXT: Any = {}


def _sensor(job_id: str, **kwargs: Any) -> EmpirioLabsJobSensor:
    kwargs.setdefault("task_id", "wait_for_video")
    kwargs.setdefault("poke_interval", 0.05)
    return EmpirioLabsJobSensor(job_id=job_id, **kwargs)


def _resume(sensor: EmpirioLabsJobSensor, event: dict[str, Any]) -> Any:
    """What the task runner does when the trigger fired (``soft_fail`` is handled here)."""
    return sensor.resume_execution("execute_complete", {"event": event}, NO_CONTEXT)


def test_poke_mode_waits_and_returns_the_summary(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job(duration=4, resolution="1080p")

    summary = _sensor(job_id, deferrable=False).execute(NO_CONTEXT)

    assert summary["job_id"] == job_id
    assert summary["status"] == "completed"
    assert summary["cost_usd"] == pytest.approx(0.72)
    assert summary["output_urls"]
    stats = sim.stats()
    assert stats["posts"] == 1  # the test's submission only
    assert stats["gets_per_job"][job_id] >= 2


def test_poke_mode_fails_the_task_on_a_failed_job(empiriolabs_connection: Any) -> None:
    job_id = submit_job(prompt="A horse SIMULATE_CONTENT_POLICY")

    with pytest.raises(AirflowFailException, match="content_policy_violation"):
        _sensor(job_id, deferrable=False).execute(NO_CONTEXT)
    assert empiriolabs_connection.stats()["posts"] == 1


def test_poke_mode_soft_fail_skips_on_a_failed_job(empiriolabs_connection: Any) -> None:
    job_id = submit_job(prompt="A horse SIMULATE_CONTENT_POLICY")

    with pytest.raises(AirflowSkipException):
        _sensor(job_id, deferrable=False, soft_fail=True).execute(NO_CONTEXT)


def test_poke_mode_times_out(empiriolabs_connection: Any) -> None:
    job_id = submit_job(duration=15, resolution="1080p")

    with pytest.raises(AirflowSensorTimeout):
        _sensor(job_id, deferrable=False, timeout=0.2).execute(NO_CONTEXT)


def test_deferrable_mode_defers_on_a_running_job_with_an_absolute_deadline(empiriolabs_connection: Any) -> None:
    job_id = submit_job(duration=15, resolution="1080p")
    sensor = _sensor(job_id, deferrable=True, poke_interval=3, timeout=900, hook_params={"timeout": 7})

    before = time.time()
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute(NO_CONTEXT)
    after = time.time()

    trigger = caught.value.trigger
    assert isinstance(trigger, EmpirioLabsJobTrigger)
    assert trigger.job_id == job_id
    assert trigger.empiriolabs_conn_id == "empiriolabs_default"
    assert trigger.poll_interval == 3
    assert trigger.hook_params == {"timeout": 7}
    assert trigger.end_time is not None
    assert before + 900 <= trigger.end_time <= after + 900
    assert caught.value.timeout is None
    assert caught.value.method_name == "execute_complete"
    assert empiriolabs_connection.stats()["gets_per_job"][job_id] == 1  # poked once, then deferred


def test_deferrable_mode_given_the_jobs_kind_shares_the_learned_render_times(empiriolabs_connection: Any) -> None:
    job_id = submit_job(duration=15, resolution="1080p")
    sensor = _sensor(job_id, deferrable=True, model="happyhorse-1-1", resolution="1080p", duration=15)

    with pytest.raises(TaskDeferred) as caught:
        sensor.execute(NO_CONTEXT)

    trigger = caught.value.trigger
    # The kind the operator's trigger learns by, and the guess it scales: one store for both.
    assert trigger.render_key == {"model": "happyhorse-1-1", "resolution": "1080p", "duration": 15.0}
    assert trigger.expected_seconds == 20.0 + 6.0 * 15 * 1.5
    assert _sensor(job_id, deferrable=True)._kind() == {}  # no kind given: planned from the job alone


def test_deferrable_mode_returns_a_finished_job_without_deferring(empiriolabs_connection: Any) -> None:
    job_id = submit_job()
    wait_until_terminal(job_id)

    summary = _sensor(job_id, deferrable=True).execute(NO_CONTEXT)

    assert summary["job_id"] == job_id
    assert summary["status"] == "completed"


def test_deferrable_mode_returns_the_summary_when_the_trigger_fires(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    sensor = _sensor(job_id, deferrable=True)
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute(NO_CONTEXT)
    event = event_for(**caught.value.trigger.serialize()[1])

    summary = _resume(sensor, event)

    assert summary["job_id"] == job_id
    assert summary["status"] == "completed"
    assert summary["output_urls"]
    assert sim.stats()["posts"] == 1


def test_deferrable_mode_fails_the_task_on_a_failed_job(empiriolabs_connection: Any) -> None:
    job_id = submit_job(prompt="A horse SIMULATE_CONTENT_POLICY")
    event = event_for(job_id)

    with pytest.raises(AirflowFailException, match="content_policy_violation"):
        _resume(_sensor(job_id, deferrable=True), event)


def test_deferrable_mode_raises_on_an_error_event(empiriolabs_connection: Any) -> None:
    event = event_for("job_missing")

    with pytest.raises(AirflowException, match="job_missing"):
        _resume(_sensor("job_missing", deferrable=True), event)


def test_a_timeout_event_is_a_sensor_timeout(empiriolabs_connection: Any) -> None:
    job_id = submit_job()
    event = event_for(job_id, end_time=time.time() - 1)
    sensor = _sensor(job_id, deferrable=True)

    with pytest.raises(AirflowSensorTimeout, match=job_id):
        sensor.execute_complete(NO_CONTEXT, event)
    with pytest.raises(AirflowSensorTimeout, match=job_id):
        _resume(sensor, event)


def test_soft_fail_turns_a_timeout_event_into_a_skip(empiriolabs_connection: Any) -> None:
    job_id = submit_job()
    event = event_for(job_id, end_time=time.time() - 1)

    with pytest.raises(AirflowSkipException):
        _resume(_sensor(job_id, deferrable=True, soft_fail=True), event)


@pytest.mark.parametrize("event", [None, {}, {"status": "later"}], ids=["none", "empty", "unknown-status"])
def test_a_malformed_event_fails_the_task(event: Any) -> None:
    with pytest.raises(AirflowException):
        _sensor("job_1", deferrable=True).execute_complete(NO_CONTEXT, event)


@pytest.mark.usefixtures("airflow_db")
def test_on_a_real_run_the_timeout_skips_with_soft_fail_and_fails_without(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=3000)  # a minute of real time; the sensors give up after 0.5 s
    job_id = submit_job()

    run = run_dag("empiriolabs_test_sensor_timeout", job_id=job_id)

    assert task_instance(run, "wait_soft").state == "skipped"
    assert task_instance(run, "wait_hard").state == "failed"
    assert run.state == "failed"
    assert sim.stats()["posts"] == 1


def test_the_sensor_has_one_interval_its_poke_interval() -> None:
    """``poll_interval`` is the operator's name; on the sensor it is refused, not silently ignored."""
    job_id = "job_" + "a" * 24
    assert EmpirioLabsJobSensor(task_id="wait", job_id=job_id).poke_interval == 60
    with pytest.raises(TypeError, match="poll_interval"):
        EmpirioLabsJobSensor(task_id="wait", job_id=job_id, poll_interval=5)
