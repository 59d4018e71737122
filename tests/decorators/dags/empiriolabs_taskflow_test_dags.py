"""
Test-only DAGs for ``@task.empiriolabs_video`` (run with ``dag.test()`` against the simulator).

Each decorated function appends one line to the file named by ``dag_run.conf["calls_file"]``, so a
test can count how often Airflow called it (once per try, never again on resuming a deferral).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import dag, task

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}


def _called(params: dict[str, Any], dag_run: Any) -> None:
    calls_file = (dag_run.conf or {}).get("calls_file")
    if calls_file:
        with Path(calls_file).open("a") as out:
            out.write("called\n")


def _take(params: dict[str, Any], dag_run: Any) -> str:
    _called(params, dag_run)
    return f"A horse galloping along a beach, take {uuid.uuid4().hex[:8]}"


#: One retry, and a hook that gives up on the first failed request; the function returns a different
#: prompt on every call.
_RETRYING: dict[str, Any] = {
    "duration": 3,
    "poll_interval": 0.05,
    "timeout": 120,
    "retries": 1,
    "retry_delay": timedelta(0),
    "hook_params": {"max_attempts": 1},
}


@dag(dag_id="empiriolabs_taskflow_test_retry", **_DEFAULTS)
def retry() -> None:
    """Deferred: resuming from the deferral must not call the function again."""

    @task.empiriolabs_video(deferrable=True, **_RETRYING)
    def generate(params: dict[str, Any], dag_run: Any = None) -> str:
        return _take(params, dag_run)

    generate()


@dag(dag_id="empiriolabs_taskflow_test_retry_worker", **_DEFAULTS)
def retry_worker() -> None:
    """
    Waiting in the worker: a scripted 500 on the first GET after the accepted POST fails try 1 with
    the job recorded, and try 2 must reattach though the function returns another prompt (a retry
    never pays twice). A deferred task would not fail there: its first GET is the trigger's, which
    waits a 500 out.
    """

    @task.empiriolabs_video(deferrable=False, **_RETRYING)
    def generate(params: dict[str, Any], dag_run: Any = None) -> str:
        return _take(params, dag_run)

    generate()


@dag(dag_id="empiriolabs_taskflow_test_returns", **_DEFAULTS)
def returns() -> None:
    """The function returns whatever ``dag_run.conf["returned"]`` holds: a wrong answer fails the task unsent."""

    @task.empiriolabs_video(duration=3, deferrable=False, poll_interval=0.05, timeout=120)
    def generate(dag_run: Any = None) -> Any:
        return (dag_run.conf or {}).get("returned")

    generate()


retry()
retry_worker()
returns()
