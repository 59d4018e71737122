"""
Test-only DAGs for the reliability fault matrix (``tests/reliability/``), run on ``dag.test()``.

Every DAG is the real pipeline a user writes (generate -> transfer, or submit -> sensor ->
transfer) with the knobs a fault needs: short poll intervals, immediate retries, and a hook that
gives up quickly where a case needs a try to fail. What to generate and where the video lands come
from ``dag_run.conf`` (``prompt``, ``destination``), so one DAG serves many cases.

Two cases need something to happen *between* two steps of a run, which no knob of the simulator
can time: the job's state expiring while the task is down (between two tries), and the output URLs
expiring before the copy starts. Task callbacks do that here, through the simulator's control
endpoint, only when the run's conf asks for it (``expire_job_on_retry``, ``expire_urls``,
``expire_job_before_transfer``), and one makes the model recover between two tries
(``heal_on_retry``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)

_DEFAULTS: dict[str, Any] = {
    "start_date": datetime(2026, 1, 1),
    "schedule": None,
    "catchup": False,
    "tags": ["test", "reliability"],
}
_PROMPT = "{{ dag_run.conf.get('prompt', 'A grey horse trotting through shallow surf at dawn') }}"
_DESTINATION = "{{ dag_run.conf['destination'] }}"


def _expire(context: Any, *, retention: bool, urls: bool) -> None:
    """Ask the simulator (the connection's host) to expire the generate task's job now."""
    import httpx
    from airflow.sdk import BaseHook

    job_id = context["ti"].xcom_pull(task_ids="generate", key="job_id")
    host = BaseHook.get_connection("empiriolabs_default").host
    response = httpx.post(f"{host}/_jobs/{job_id}/expire", json={"retention": retention, "urls": urls}, timeout=10)
    response.raise_for_status()


def _on_generate_retry(context: Any) -> None:
    """
    The task is down between two tries: the job's retention ends meanwhile, or the model recovers.

    ``expire_job_on_retry``: the stored job's state is gone (404) when the retry looks for it.
    ``heal_on_retry``: prompts stop failing, so a new job submitted by the retry can succeed.
    """
    import httpx
    from airflow.sdk import BaseHook

    conf = context["dag_run"].conf or {}
    if conf.get("expire_job_on_retry"):
        _expire(context, retention=True, urls=False)
    if conf.get("heal_on_retry"):
        host = BaseHook.get_connection("empiriolabs_default").host
        httpx.post(f"{host}/_config", json={"failing_prompts": {}}, timeout=10).raise_for_status()


def _before_transfer(context: Any) -> None:
    """Output URLs (and, if asked, the job's state) expire before the copy starts."""
    conf = context["dag_run"].conf or {}
    if conf.get("expire_urls") or conf.get("expire_job_before_transfer"):
        _expire(context, retention=bool(conf.get("expire_job_before_transfer")), urls=True)


def _transfer(output_urls: Any, *, retries: int = 1) -> EmpirioLabsToObjectStorageOperator:
    return EmpirioLabsToObjectStorageOperator(
        task_id="store",
        output_urls=output_urls,
        destination=_DESTINATION,
        max_attempts=3,
        retry_backoff_seconds=0.05,
        retries=retries,
        retry_delay=timedelta(0),
        on_execute_callback=_before_transfer,
    )


def _generate_then_store(
    dag_id: str,
    *,
    deferrable: bool,
    hook_params: dict[str, Any] | None = None,
    timeout: float = 120,
    retries: int = 2,
    duration: int = 3,
) -> None:
    @dag(dag_id=dag_id, **_DEFAULTS)
    def pipeline() -> None:
        generate = EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt=_PROMPT,
            duration=duration,
            deferrable=deferrable,
            poll_interval=0.2,
            timeout=timeout,
            retries=retries,
            retry_delay=timedelta(0),
            hook_params=hook_params,
            on_retry_callback=_on_generate_retry,
        )
        _transfer(generate.output)

    pipeline()


# The everyday pipeline: a hook that retries a few times, the task retried twice.
_generate_then_store("reliability_deferrable", deferrable=True, hook_params={"max_attempts": 3})
_generate_then_store("reliability_worker", deferrable=False, hook_params={"max_attempts": 3})
# A hook that never retries: the first failed poll after an accepted POST fails the try.
_generate_then_store("reliability_fragile_deferrable", deferrable=True, hook_params={"max_attempts": 1})
_generate_then_store("reliability_fragile_worker", deferrable=False, hook_params={"max_attempts": 1})
# A short per-request timeout: a slow answer to the POST is a read timeout.
_generate_then_store("reliability_post_timeout", deferrable=True, hook_params={"timeout": 0.5, "max_attempts": 3})
# A deadline far shorter than the render (a 15 s video renders in ~2.2 s at the test time scale).
_generate_then_store("reliability_deadline_deferrable", deferrable=True, timeout=0.5, retries=0, duration=15)
_generate_then_store("reliability_deadline_worker", deferrable=False, timeout=0.5, retries=0, duration=15)


@dag(dag_id="reliability_submit_sensor_store", **_DEFAULTS)
def submit_sensor_store() -> None:
    """Submit without waiting, wait in a deferrable sensor, copy by job id and URLs."""
    submit = EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt=_PROMPT,
        duration=3,
        wait_for_completion=False,
        retries=2,
        retry_delay=timedelta(0),
        hook_params={"max_attempts": 3},
    )
    wait = EmpirioLabsJobSensor(
        task_id="wait",
        job_id=submit.output,  # type: ignore[arg-type]  # an XComArg, rendered to the job id
        deferrable=True,
        poke_interval=0.2,
        timeout=60,
        retries=2,
        retry_delay=timedelta(0),
    )
    _transfer(wait.output)


submit_sensor_store()
