"""
Airflow scaled out on this machine, as a production deployment runs it: CeleryExecutor.

Servers, each started by the fixtures on a free port in a temporary folder and torn down after:

* PostgreSQL 15 from Debian (``initdb``/``pg_ctl``, as the ``postgres`` user when the tests run
  as root, since Postgres refuses root): Airflow's metadata DB and Celery's result backend.
* Redis from Debian (``redis-server --port``): the Celery broker (DB 0), and the store of the
  shared account budget (DB 1; see :data:`USE_SHARED_BUDGET`).
* The EmpirioLabs simulator, as a child process of its own (a killed Airflow component cannot
  take it down, and it holds the counters the test asserts on).

Airflow components, each in a process group of its own so that a SIGKILL of the group is a
machine dying: ``api-server``, ``scheduler``, ``dag-processor``, two triggerers and two Celery
workers (concurrency 4 each). The task runners a Celery worker forks put themselves in process
groups of their own (task SDK), so killing a worker's group leaves them orphaned: the deployment
remembers them and ends them at teardown.

The machinery (free ports, waits, process groups, the REST client) is ``tests/system``'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
from tests.support import REDIS_SERVER, RedisServer, free_port, kill_process_group
from tests.system.conftest import (
    REPO,
    STARTUP_TIMEOUT,
    AirflowDeployment,
    _die_with_parent,
    _group_alive,
    wait_for,
)

DISTRIBUTED_DIR = Path(__file__).resolve().parent
DAGS_FOLDER = DISTRIBUTED_DIR / "dags"

PG_BIN = Path("/usr/lib/postgresql/15/bin")

#: The shared account budget (docs/scale.rst): the EmpirioLabs connection's extra ``budget_conn_id``
#: names a Redis connection, through which every process of the deployment (workers' task runners,
#: triggerers) draws from one budget. On by default, as a scaled-out deployment should run;
#: ``EMPIRIOLABS_SHARED_BUDGET=0`` measures the deployment with a budget per process instead.
SHARED_BUDGET_EXTRA = "budget_conn_id"
SHARED_BUDGET_CONN_ID = "empiriolabs_budget_redis"
USE_SHARED_BUDGET = os.environ.get("EMPIRIOLABS_SHARED_BUDGET", "1") != "0"

#: Celery workers' slots each, and how many workers run at once.
WORKER_CONCURRENCY = 4
#: Triggers per triggerer: below the videos in flight, so that both triggerers get a share.
TRIGGERER_CAPACITY = 25
#: The scheduler's timeouts, lowered from 300 s and 600 s so that a dead worker's tasks are seen
#: within the test's time, but not so low that 2 busy shared cores raise false alarms.
TASK_HEARTBEAT_TIMEOUT = 90
TASK_QUEUED_TIMEOUT = 180

#: The simulator: EmpirioLabs' real limit, in real time (time_scale 1, so the simulator's sliding
#: 60 s window and the connection's requests_per_minute are the same minute), renders of ~20 s.
SIMULATOR_KNOBS: dict[str, Any] = {
    "time_scale": 1.0,
    "rate_limit_rpm": 50,
    "render_base_seconds": 10.0,
    "render_seconds_per_video_second": 2.0,  # 10 + 2 * 5 s of video = 20 s
}


def _as_postgres() -> list[str]:
    """The prefix running a command as the ``postgres`` user when we are root, else nothing."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Postgres:
    """A throwaway PostgreSQL 15 cluster: trust auth for user ``airflow`` on 127.0.0.1:``port``.

    :param root: an empty folder the ``postgres`` user can reach (not under a 0700 home).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"
        self.dsn = f"host=127.0.0.1 port={self.port} user=airflow dbname=airflow"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [*_as_postgres(), *argv], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            pytest.fail(f"{argv[0]} failed ({result.returncode}): {result.stdout}{result.stderr}\n{log}")

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "airflow", "--auth=trust", "-E", "UTF8", "-N")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "airflow", "airflow")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                subprocess.run(
                    [*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                    capture_output=True,
                    timeout=60,
                    cwd=self.root,
                )

    def processes(self) -> list[psutil.Process]:
        """The postmaster and its backends."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            main = psutil.Process(pid)
            return [main, *main.children(recursive=True)]
        except (OSError, ValueError, psutil.Error):
            return []

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read query on the metadata DB (a connection per call: callers are threads)."""
        import psycopg2

        conn = psycopg2.connect(self.dsn, connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()


class DistributedDeployment(AirflowDeployment):
    """Airflow on CeleryExecutor: components named freely (``triggerer-2``, ``worker-3``...).

    :param home: the deployment's ``AIRFLOW_HOME``.
    :param simulator: the EmpirioLabs simulator.
    :param postgres: the metadata DB (and Celery's result backend).
    :param redis: the Celery broker (DB 0) and the shared budget's store (DB 1).
    """

    def __init__(self, home: Path, simulator: EmpirioLabsSimulator, postgres: Postgres, redis: RedisServer) -> None:
        self.postgres = postgres
        self.redis = redis
        #: Task runners left behind by a killed worker (in groups of their own): ended at teardown.
        self.orphans: list[psutil.Process] = []
        super().__init__(home, simulator)

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        extra: dict[str, Any] = {}
        if USE_SHARED_BUDGET:
            extra[SHARED_BUDGET_EXTRA] = SHARED_BUDGET_CONN_ID
        env.update(
            {
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                # Components named by EMPIRIOLABS_COMPONENT (see component_name.py), importable from here.
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.distributed.component_name.hostname",
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": "64",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "128",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url(0),
                # The driver named: SQLAlchemy 2.1's default for postgresql:// is psycopg 3, not psycopg2.
                "AIRFLOW__CELERY__RESULT_BACKEND": (
                    f"db+postgresql+psycopg2://airflow@127.0.0.1:{self.postgres.port}/airflow"
                ),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                # Sending a task to Redis from a loaded machine can take more than the 1 s default.
                "AIRFLOW__CELERY__OPERATION_TIMEOUT": "15",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TASK_HEARTBEAT_TIMEOUT),
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(TASK_QUEUED_TIMEOUT),
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
                "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT": self.simulator.connection_json(extra),
                f"AIRFLOW_CONN_{SHARED_BUDGET_CONN_ID.upper()}": json.dumps(
                    {"conn_type": "redis", "host": "127.0.0.1", "port": self.redis.port, "extra": {"db": 1}}
                ),
            }
        )
        return env

    def start_component(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start ``airflow <argv>`` as component ``name`` in a process group of its own."""
        log = self.home / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as out:
            out.write(f"\n===== {name} started {datetime.now(UTC).isoformat()} =====\n".encode())
            out.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "airflow", *argv],
                env={**self.env, "EMPIRIOLABS_COMPONENT": name},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.procs[name] = proc
        with contextlib.suppress(psutil.NoSuchProcess):
            self._started.append(psutil.Process(proc.pid))
        return proc

    def start_triggerer(self, name: str) -> None:
        # Two triggerers on one host: neither serves logs (they would fight for port 8794); the
        # API server reads the log files from the shared home.
        self.start_component(name, ["triggerer", "--skip-serve-logs", "--capacity", str(TRIGGERER_CAPACITY)])

    def start_worker(self, name: str) -> None:
        self.start_component(
            name,
            ["celery", "worker", "-c", str(WORKER_CONCURRENCY), "-H", f"{name}@%h", "--skip-serve-logs"],
        )

    def wait_worker_ready(self, name: str) -> None:
        """Wait for Celery's ``ready.`` line in the worker's log (after its latest start)."""

        def ready() -> bool:
            proc = self.procs[name]
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}\n{self.log_tails([name])}")
            text = self.logs[name].read_text(errors="replace")
            return " ready." in text.rsplit("=====", 1)[-1]

        wait_for(f"{name} to be ready", ready, STARTUP_TIMEOUT, on_timeout=lambda: self.log_tails([name]))

    def triggerer_jobs(self) -> dict[str, int]:
        """Running triggerer jobs: component name -> job id (the triggers' ``triggerer_id``)."""
        rows = self.postgres.query(
            "SELECT hostname, max(id) FROM job WHERE job_type = 'TriggererJob' AND state = 'running' GROUP BY hostname"
        )
        return {str(name): int(job_id) for name, job_id in rows}

    def wait_triggerer_ready(self, name: str) -> int:
        """Wait until triggerer ``name`` runs its job; returns the job id."""
        proc = self.procs[name]

        def job() -> int | None:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}\n{self.log_tails([name])}")
            return self.triggerer_jobs().get(name)

        return int(wait_for(f"{name}'s job", job, STARTUP_TIMEOUT, on_timeout=lambda: self.log_tails([name])))

    def task_runners(self, name: str) -> list[psutil.Process]:
        """The task runners a worker has forked now (processes of its tree outside its group)."""
        proc = self.procs[name]
        out = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error, ProcessLookupError):
                    if os.getpgid(child.pid) != proc.pid:
                        out.append(child)
        return out

    def kill_group(self, name: str) -> list[psutil.Process]:
        """SIGKILL component ``name``'s whole process group; returns the orphans left (other groups)."""
        proc = self.procs.pop(name)
        orphans = []
        with contextlib.suppress(psutil.Error):
            main = psutil.Process(proc.pid)
            for child in main.children(recursive=True):
                with contextlib.suppress(psutil.Error, ProcessLookupError):
                    if os.getpgid(child.pid) != proc.pid:
                        orphans.append(child)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.orphans.extend(orphans)
        return orphans

    def rss_by_component(self) -> dict[str, int]:
        """Resident memory now of each live component (with its children), and of the servers."""
        out: dict[str, int] = {}
        for name, proc in list(self.procs.items()):  # the test thread starts and kills meanwhile
            out[name] = _tree_rss([proc.pid])
        out["postgres"] = sum(_rss(p) for p in self.postgres.processes())
        if self.redis.proc is not None:
            out["redis"] = _tree_rss([self.redis.proc.pid])
        if self.simulator.pid is not None:
            out["simulator"] = _tree_rss([self.simulator.pid])
        return out

    def stop_all(self) -> None:
        """End every component's group, the orphaned task runners, then stragglers by pid."""
        descendants: list[psutil.Process] = []
        for parent in self._started:
            with contextlib.suppress(psutil.Error):
                descendants.extend(parent.children(recursive=True))
        for proc in self.procs.values():
            if proc.poll() is None:
                kill_process_group(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_process_group(proc.pid)
                proc.wait(timeout=10)
            kill_process_group(proc.pid)
        self.procs.clear()
        for child in [*self.orphans, *descendants]:
            with contextlib.suppress(psutil.Error):
                child.kill()
        if self._client is not None:
            self._client.close()
            self._client = None


def _rss(proc: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        return int(proc.memory_info().rss)
    return 0


def _tree_rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            main = psutil.Process(pid)
            total += _rss(main) + sum(_rss(c) for c in main.children(recursive=True))
    return total


def _reachable_tempdir(prefix: str) -> Path:
    """A temporary folder under /tmp (reachable by the ``postgres`` user, unlike a 0700 home)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedDeployment]:
    """The whole deployment, healthy: api-server, scheduler, dag-processor, triggerer-1/-2, worker-1/-2."""
    for tool in (PG_BIN / "initdb", Path(REDIS_SERVER)):
        if not tool.exists():
            pytest.fail(f"{tool} is missing: `make test-distributed` installs Debian's postgresql and redis-server")
    if os.geteuid() == 0:
        pwd.getpwnam("postgres")  # KeyError: the postgresql package creates this user
    home = tmp_path_factory.mktemp("airflow-home")
    servers = _reachable_tempdir("empiriolabs-distributed-")
    postgres = Postgres(servers / "pg")
    postgres.root.mkdir()
    redis = RedisServer(servers, log=servers / "redis.log", preexec_fn=_die_with_parent)
    started = time.monotonic()
    try:
        postgres.start()
        redis.start()
        with EmpirioLabsSimulator(process=True, **SIMULATOR_KNOBS) as simulator:
            deployment = DistributedDeployment(home, simulator, postgres, redis)
            try:
                deployment.migrate()
                for component in ("api-server", "scheduler", "dag-processor"):
                    deployment.start_component(component, [component])
                for name in ("triggerer-1", "triggerer-2"):
                    deployment.start_triggerer(name)
                for name in ("worker-1", "worker-2"):
                    deployment.start_worker(name)
                deployment.wait_healthy(("api-server", "scheduler", "dag-processor"))
                for name in ("triggerer-1", "triggerer-2"):
                    deployment.wait_triggerer_ready(name)
                for name in ("worker-1", "worker-2"):
                    deployment.wait_worker_ready(name)
                rss = deployment.rss_by_component()
                print(
                    f"\nDistributed Airflow at {deployment.url} healthy after {time.monotonic() - started:.0f} s "
                    f"(Postgres :{postgres.port}, Redis :{redis.port}, simulator {simulator.url}), "
                    f"{sum(rss.values()) / 1e9:.2f} GB RSS; home {home}, servers {servers}; "
                    f"shared budget {'ON' if USE_SHARED_BUDGET else 'OFF'}"
                )
                yield deployment
            finally:
                deployment.stop_all()
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(servers, ignore_errors=True)
