"""
Helpers shared by the tests of every folder (operators, decorators, sensors, triggers, links, plugins, reliability).

Two ways to run provider code here, both against the simulator over real HTTP:

- unit level: call ``execute`` / ``execute_complete`` with a small stand-in context (an XCom
  recorder and a dict-backed task state store), and drive triggers with :func:`first_event`;
- end to end: run a test-only DAG of ``tests/dags/`` on ``dag.test()`` (real task runner, real
  task state store, real retries) with :func:`run_dag`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.conftest import REPO

TEST_DAGS_FOLDER = REPO / "tests" / "dags"


# -- unit level ---------------------------------------------------------------------------------


class RecordingTI:
    """The part of a task instance the operator touches: ``xcom_push`` (recorded in order)."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}
        self.pushes: list[str] = []
        self.stats_tags: dict[str, str] = {}
        self.try_number = 1
        self.max_tries: int | None = None  # unknown unless a test plays clears and retries

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value
        self.pushes.append(key)


class DictStateStore:
    """A task state store kept in a dict (``get`` / ``set`` as ``context["task_state_store"]``)."""

    def __init__(self, **values: Any) -> None:
        self.values = dict(values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def make_context(**stored: Any) -> Any:
    """A context for ``execute``: a recording TI and a state store holding ``stored`` (typed Any: a stand-in)."""
    return {"ti": RecordingTI(), "task_state_store": DictStateStore(**stored)}


def submit_job(prompt: str = "A horse grazing in a misty field", **fields: Any) -> str:
    """Submit one job straight through the hook (as an earlier try or another task would)."""
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import VideoRequest

    fields.setdefault("duration", 3)
    hook = EmpirioLabsHook()
    try:
        return hook.submit_video(VideoRequest.build(prompt=prompt, **fields))
    finally:
        hook.close()


def wait_until_terminal(job_id: str, limit_seconds: float = 60.0) -> Any:
    """Poll the job until it is finished (a guard against hanging, not a speed check)."""
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

    hook = EmpirioLabsHook()
    try:
        deadline = time.monotonic() + limit_seconds
        while True:
            job = hook.get_job(job_id)
            if job.status.is_terminal():
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job.raw_status}"
            time.sleep(0.05)
    finally:
        hook.close()


async def afirst_event(trigger: Any, limit_seconds: float = 60.0) -> dict[str, Any]:
    """Run a trigger until its first event; returns the event's payload."""

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), limit_seconds)


def first_event(trigger: Any, limit_seconds: float = 60.0) -> dict[str, Any]:
    """:func:`afirst_event` for synchronous tests."""
    return asyncio.run(afirst_event(trigger, limit_seconds))


def event_for(job_id: str, **trigger_kwargs: Any) -> dict[str, Any]:
    """The event the real trigger sends for this job (what ``execute_complete`` receives)."""
    from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger

    trigger_kwargs.setdefault("poll_interval", 0.05)
    return first_event(EmpirioLabsJobTrigger(job_id=job_id, **trigger_kwargs))


# -- end to end ---------------------------------------------------------------------------------


def load_test_dag(dag_id: str) -> Any:
    """
    The DAG, parsed from ``tests/dags/`` and synced to the metadata DB first.

    ``dag.test()`` in 3.3 runs only DAGs it finds serialized, and syncs only the configured DAGs
    folder (the example DAGs here) by itself, so the test DAGs are synced under the same bundle.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(TEST_DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.get_dag(dag_id)


def run_dag(dag_id: str, **run_conf: Any) -> Any:
    """Run the DAG once on ``dag.test()``; returns the DagRun, whatever its state."""
    return load_test_dag(dag_id).test(run_conf=run_conf or None)


def task_instance(run: Any, task_id: str, map_index: int = -1) -> Any:
    return next(ti for ti in run.get_task_instances() if ti.task_id == task_id and ti.map_index == map_index)


def xcom(run: Any, task_id: str, key: str = "return_value") -> Any:
    return task_instance(run, task_id).xcom_pull(task_ids=task_id, key=key)
