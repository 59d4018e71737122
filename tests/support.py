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
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import REPO

if TYPE_CHECKING:
    import redis

    from airflow_provider_empiriolabs.hooks.shared_budget import RedisSettings
    from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

TEST_DAGS_FOLDER = REPO / "tests" / "dags"


# -- ports, processes, Redis -----------------------------------------------------------------------


def free_port() -> int:
    """A port nobody holds on 127.0.0.1 right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill_process_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to a process group (a server started with ``start_new_session=True``), if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_process_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int | None:
    """
    Stop a process started in its own group, and its children: SIGTERM, then SIGKILL after ``timeout``.

    :returns: the leader's exit code.
    """
    if proc.poll() is None:
        kill_process_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    kill_process_group(proc.pid, signal.SIGKILL)  # children the leader left behind
    return proc.returncode


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """
    A real ``redis-server`` on 127.0.0.1 and a free port, no persistence, in its own folder and group.

    :param root: its working folder (a new temporary one by default, removed by :meth:`close`).
    :param log: a file for its output (none by default).
    :param preexec_fn: run in the child before ``redis-server`` starts (e.g. to die with its parent).
    """

    def __init__(
        self, root: Path | None = None, log: Path | None = None, preexec_fn: Callable[[], Any] | None = None
    ) -> None:
        import pytest

        if not Path(REDIS_SERVER).exists():
            pytest.fail("redis-server is missing: `make test` installs it (apt-get install redis-server)")
        self.port = free_port()
        self._own_dir = root is None
        self.dir = root or Path(tempfile.mkdtemp(prefix="empiriolabs-redis-"))
        self.log = log
        self.preexec_fn = preexec_fn
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The running server's process (``None`` once stopped)."""
        return self.process

    @property
    def settings(self) -> RedisSettings:
        """Where the provider's shared budget finds it."""
        from airflow_provider_empiriolabs.hooks.shared_budget import RedisSettings

        return RedisSettings(host="127.0.0.1", port=self.port)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        """A client that fails at once when the server is gone (redis-py's own retries take seconds)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, retry=Retry(NoBackoff(), 0))

    def start(self, timeout: float = 30.0) -> RedisServer:
        """Start it (again, on the same port) and wait until it answers PING."""
        import redis

        out = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [
                    *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)),
                    *("--save", "", "--appendonly", "no"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=self.preexec_fn,
            )
        finally:
            if not isinstance(out, int):
                out.close()
        client = self.client()
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Kill it at once (as a crash would); :meth:`start` brings it back on the same port."""
        if self.process is not None:
            kill_process_group(self.process.pid)
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        """Stop it and remove its folder if it made one."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- unit level ---------------------------------------------------------------------------------

#: The prompt of operators built by :func:`make_operator`.
PROMPT = "A horse galloping along a beach at sunrise"


def make_operator(**kwargs: Any) -> EmpirioLabsGenerateVideoOperator:
    """The generate operator with the tests' defaults: a 3 s video, polled every 50 ms (``kwargs`` win)."""
    from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

    kwargs.setdefault("task_id", "generate")
    kwargs.setdefault("prompt", PROMPT)
    kwargs.setdefault("duration", 3)
    kwargs.setdefault("poll_interval", 0.05)
    return EmpirioLabsGenerateVideoOperator(**kwargs)


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
