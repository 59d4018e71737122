"""
Test-only DAGs for the operator and sensor tests (run with ``dag.test()`` against the simulator).

They live in a folder of their own, not in ``example_dags/``: the tests sync this folder into the
metadata DB before running one (Airflow 3.3 runs only serialized DAGs on ``dag.test()``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}


def _retried_generate(dag_id: str, *, deferrable: bool) -> None:
    """
    One generate task with one retry and no delay.

    ``max_attempts=1`` makes the hook give up on the first failed poll, so a scripted 500 on the
    first ``GET`` after the (accepted) ``POST`` fails try 1 after the job id was stored: exactly a
    worker losing its job mid-wait. Try 2 must reattach rather than pay again.
    """

    @dag(dag_id=dag_id, **_DEFAULTS)
    def retried() -> None:
        EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt="A horse galloping along a beach at sunrise",
            duration=3,
            deferrable=deferrable,
            poll_interval=0.05,
            timeout=120,
            retries=1,
            retry_delay=timedelta(0),
            hook_params={"max_attempts": 1},
        )

    retried()


_retried_generate("empiriolabs_test_retry_after_submit", deferrable=False)
_retried_generate("empiriolabs_test_retry_after_submit_deferrable", deferrable=True)


@dag(dag_id="empiriolabs_test_templated", **_DEFAULTS)
def templated() -> None:
    """Every request field that can be wrong only after rendering comes from ``dag_run.conf``."""

    @task
    def reference_images() -> list[str]:
        conf = get_current_context()["dag_run"].conf or {}
        return list(conf.get("images", ["https://assets.example.com/cast/rider-1.png"]))

    images: Any = reference_images()  # an XComArg (the operator's annotation does not list it)
    EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt="{{ dag_run.conf.get('prompt', 'character1 rides along the shore') }}",
        seed="{{ dag_run.conf.get('seed', 7) }}",
        mode="r2v",
        images=images,
        duration=3,
        deferrable=True,
        poll_interval=0.05,
        timeout=120,
    )


templated()


@dag(dag_id="empiriolabs_test_sensor_timeout", **_DEFAULTS)
def sensor_timeout() -> None:
    """Two deferrable sensors whose deadline passes before the job finishes: one soft, one hard."""
    for task_id, soft_fail in (("wait_soft", True), ("wait_hard", False)):
        EmpirioLabsJobSensor(
            task_id=task_id,
            job_id="{{ dag_run.conf['job_id'] }}",
            deferrable=True,
            poke_interval=0.05,
            timeout=0.5,
            soft_fail=soft_fail,
        )


sensor_timeout()


@dag(dag_id="empiriolabs_test_link", **_DEFAULTS)
def link() -> None:
    """The job link, asked for inside a real task (where Airflow 3 itself calls ``get_link``)."""
    from airflow_provider_empiriolabs.links.empiriolabs import EmpirioLabsJobLink

    generate = EmpirioLabsGenerateVideoOperator(
        task_id="generate", prompt="A horse drinking from a stream", duration=3, wait_for_completion=False
    )

    @task
    def read_links() -> dict[str, str]:
        from airflow.sdk.types import TaskInstanceKey

        context = get_current_context()
        ti = context["ti"]

        def key(task_id: str) -> TaskInstanceKey:
            return TaskInstanceKey(dag_id=ti.dag_id, task_id=task_id, run_id=ti.run_id, try_number=1, map_index=-1)

        link = EmpirioLabsJobLink()
        return {
            "generate": link.get_link(generate, ti_key=key("generate")),
            "read_links": link.get_link(generate, ti_key=key("read_links")),  # pushed no job_url
        }

    generate >> read_links()


link()
