"""
A real Airflow deployment on this machine, shared by the system tests of one session.

Four separate processes, as a production deployment runs them: ``airflow api-server``,
``scheduler`` (LocalExecutor), ``dag-processor`` and ``triggerer``, on SQLite, in an Airflow home
of their own, with ``example_dags/`` as the DAGs folder and ``empiriolabs_default`` pointing at an
EmpirioLabs simulator running as a child process (so a killed Airflow component cannot take it
down, and it holds the POST counters the tests assert on).

The REST API is called the way a user's script calls it: the simple auth manager with a user and a
password file, a JWT from ``POST /auth/token``, then ``Authorization: Bearer``. Each component
logs to a file in the home; a failing test gets their tails in its report. Teardown ends every
process group it started (and any descendant that left its group).

Measured here (2 shared cores): the four components are healthy about 30 to 60 s after start;
the deployment uses about 1.9 GB of RSS.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
from tests.support import free_port, kill_process_group

REPO = Path(__file__).resolve().parents[2]
SYSTEM_DIR = Path(__file__).resolve().parent

#: Components in start order; the API server first, since the others talk to its execution API.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Keys of ``/api/v2/monitor/health`` per component that heartbeats.
HEALTH_KEYS = {"scheduler": "scheduler", "triggerer": "triggerer", "dag-processor": "dag_processor"}

TEXT_TO_VIDEO_DAG = "example_empiriolabs_text_to_video"
ADMIN_USER = "admin"
#: A second user of the simple auth manager, with its ``viewer`` role: reads DAGs, not connections.
VIEWER_USER = "viewer"

#: Generous: the machine's two cores are shared with other test runs.
STARTUP_TIMEOUT = 240.0


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    interval: float = 1.0,
    on_timeout: Callable[[], str] | None = None,
) -> Any:
    """Call ``check`` until it returns something truthy; fail the test naming ``what`` otherwise.

    :param what: what is awaited, for the failure message.
    :param check: returns a truthy value when done; exceptions count as "not yet".
    :param timeout: seconds before giving up.
    :param interval: seconds between calls.
    :param on_timeout: gives extra text (component logs, read then) for the failure message.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as exc:  # a component still starting answers with connection errors
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            extra = on_timeout() if on_timeout is not None else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}\n{extra}")
        time.sleep(interval)


class AirflowDeployment:
    """Airflow's four components as separate processes, and a REST client for them.

    :param home: the deployment's own ``AIRFLOW_HOME`` (DB, config, logs, password file).
    :param simulator: the EmpirioLabs simulator ``empiriolabs_default`` points at.
    """

    def __init__(self, home: Path, simulator: EmpirioLabsSimulator) -> None:
        self.home = home
        self.simulator = simulator
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self._started: list[psutil.Process] = []
        self._token: str | None = None
        self._client: httpx.Client | None = None
        self.viewer_password = secrets.token_urlsafe(16)
        #: The only storage the EmpirioLabs view may stream stored copies from (``[empiriolabs]
        #: view_allowed_storage``): tests that want a copy streamed store it under this folder.
        self.view_storage = home / "view-storage"
        self.view_storage.mkdir()
        passwords = {ADMIN_USER: self.password, VIEWER_USER: self.viewer_password}
        (home / "passwords.json").write_text(json.dumps(passwords))
        self.env = self._environment()

    # ---- set-up -----------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """The components' environment: nothing from the test session's own Airflow settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin,{VIEWER_USER}:viewer",
                "AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE": f"file://{self.view_storage}/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                # One secret for every component: the API server signs the workers' tokens.
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__CORE__FERNET_KEY": "",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the connections list's Test button
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__TRIGGERER__DEFAULT_CAPACITY": "50",
                "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT": self.simulator.connection_json(),
                "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return env

    def migrate(self) -> None:
        """``airflow db migrate`` into the deployment's SQLite file."""
        log = self.home / "db-migrate.log"
        with log.open("wb") as out:
            result = subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                timeout=STARTUP_TIMEOUT,
            )
        if result.returncode != 0:
            pytest.fail(f"airflow db migrate failed ({result.returncode}):\n{log.read_text()[-4000:]}")

    def start(self, component: str) -> subprocess.Popen[bytes]:
        """Start one component in a process group of its own, logging to ``<home>/<component>.log``.

        :param component: one of :data:`COMPONENTS`.
        """
        log = self.home / f"{component}.log"
        self.logs[component] = log
        with log.open("ab") as out:
            out.write(f"\n===== {component} started {datetime.now(UTC).isoformat()} =====\n".encode())
            out.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "airflow", component],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home,
                start_new_session=True,  # its own process group: a kill reaches its children too
                preexec_fn=_die_with_parent,
            )
        self.procs[component] = proc
        with contextlib.suppress(psutil.NoSuchProcess):
            self._started.append(psutil.Process(proc.pid))
        return proc

    # ---- health -----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health`` (needs no token)."""
        resp = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=10)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def _heartbeat_after(self, component: str, since: datetime | None) -> bool:
        """Whether ``component`` is healthy, with a heartbeat newer than ``since`` if given."""
        proc = self.procs.get(component)
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{component} exited with {proc.returncode}\n{self.log_tails([component])}")
        entry = self.health()[HEALTH_KEYS[component]]
        if not entry or entry.get("status") != "healthy":
            return False
        if since is None:
            return True
        beat = entry.get(f"latest_{HEALTH_KEYS[component]}_heartbeat")
        return beat is not None and datetime.fromisoformat(beat) > since

    def wait_healthy(self, components: tuple[str, ...] = COMPONENTS, since: datetime | None = None) -> None:
        """Wait until the API server answers and each component reports a live heartbeat.

        :param components: the components to wait for.
        :param since: require heartbeats newer than this (a restarted component must be the new
            process, not the dead one whose last heartbeat is still recent).
        """
        tails = self.log_tails

        def api_server_up() -> dict[str, Any]:
            api_server = self.procs.get("api-server")
            if api_server is not None and api_server.poll() is not None:
                pytest.fail(f"the API server exited with {api_server.returncode}\n{tails(['api-server'])}")
            return self.health()

        wait_for("the API server", api_server_up, STARTUP_TIMEOUT, on_timeout=lambda: tails(["api-server"]))
        for component in components:
            if component in HEALTH_KEYS:
                wait_for(
                    f"{component} to heartbeat",
                    lambda c=component: self._heartbeat_after(c, since),  # type: ignore[misc]
                    STARTUP_TIMEOUT,
                    on_timeout=lambda c=component: tails([c]),  # type: ignore[misc]
                )

    # ---- kills ------------------------------------------------------------------------------------

    def kill(self, component: str, sig: signal.Signals, timeout: float = 60.0) -> int:
        """Signal a component and wait until it and its whole process group are gone.

        SIGKILL goes to the whole group at once (a machine or container dying: the triggerer's
        trigger-runner child dies with it). SIGTERM goes to the main process only, as an
        orchestrator stops a service, and the component shuts down its own children; whatever is
        left in the group after ``timeout`` is SIGKILLed. Returns the main process's exit code.

        :param component: the component to stop.
        :param sig: ``signal.SIGKILL`` or ``signal.SIGTERM``.
        :param timeout: seconds to wait for a graceful exit before SIGKILL.
        """
        proc = self.procs.pop(component)
        if sig == signal.SIGKILL:
            kill_process_group(proc.pid)
        else:
            proc.send_signal(sig)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(proc.pid)
            code = proc.wait(timeout=10)
        # The group outlives its leader while children remain: end them too.
        deadline = time.monotonic() + timeout
        while _group_alive(proc.pid):
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.2)
        return code

    def restart(self, component: str) -> None:
        """Start a stopped component again and wait for the new process's heartbeat."""
        since = datetime.now(UTC)
        self.start(component)
        self.wait_healthy((component,), since=since)

    def stop_all(self) -> None:
        """End every process this deployment started: each group, then stragglers by pid."""
        descendants: list[psutil.Process] = []
        for parent in self._started:
            with contextlib.suppress(psutil.Error):
                descendants.extend(parent.children(recursive=True))
        for component in reversed(COMPONENTS):
            proc = self.procs.get(component)
            if proc is not None and proc.poll() is None:
                kill_process_group(proc.pid, signal.SIGTERM)
        for component in reversed(COMPONENTS):
            proc = self.procs.pop(component, None)
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_process_group(proc.pid)
                proc.wait(timeout=10)
            kill_process_group(proc.pid)
        for child in descendants:  # a child that moved to a group of its own
            with contextlib.suppress(psutil.Error):
                child.kill()
        if self._client is not None:
            self._client.close()
            self._client = None

    def rss_bytes(self) -> int:
        """Resident memory of every process of the deployment (components and their children)."""
        total = 0
        for parent in self._started:
            with contextlib.suppress(psutil.Error):
                for proc in [parent, *parent.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
        return total

    def log_tails(self, components: list[str] | None = None, chars: int = 6000) -> str:
        """The last ``chars`` characters of each component's log, for failure messages."""
        parts = []
        for component in components or list(self.logs):
            path = self.logs.get(component)
            if path is not None and path.exists():
                text = path.read_text(errors="replace")[-chars:]
                parts.append(f"----- {component} log ({path}) -----\n{text}")
        return "\n".join(parts)

    # ---- REST API ---------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """A JWT for the admin user, from the simple auth manager's ``POST /auth/token``."""
        if self._token is None:
            resp = httpx.post(
                f"{self.url}/auth/token",
                json={"username": ADMIN_USER, "password": self.password},
                timeout=30,
            )
            resp.raise_for_status()
            self._token = str(resp.json()["access_token"])
        return self._token

    def token_for(self, user: str, password: str) -> str:
        """A JWT for another user of the simple auth manager (``POST /auth/token``)."""
        resp = httpx.post(f"{self.url}/auth/token", json={"username": user, "password": password}, timeout=30)
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    @property
    def api(self) -> httpx.Client:
        """An authenticated client for ``/api/v2``."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=f"{self.url}/api/v2",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=30,
            )
        return self._client

    def _json(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            pytest.fail(f"{resp.request.method} {resp.request.url} -> {resp.status_code}: {resp.text}")
        return resp.json()

    def wait_for_dag(self, dag_id: str) -> None:
        """Wait until the DAG processor has parsed ``dag_id``, then unpause it."""
        wait_for(
            f"DAG {dag_id} to be parsed",
            lambda: self.api.get(f"/dags/{dag_id}").status_code == 200,
            STARTUP_TIMEOUT,
            on_timeout=lambda: self.log_tails(["dag-processor"]),
        )
        self._json(self.api.patch(f"/dags/{dag_id}", json={"is_paused": False}))

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Trigger a run through the REST API; returns its run id.

        :param dag_id: the DAG.
        :param conf: the run's conf (its params).
        """
        self.wait_for_dag(dag_id)
        body = self._json(self.api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}))
        return str(body["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}"))
        return result

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))
        return result

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value, deserialized (``?deserialize=true``)."""
        resp = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": "true"},
        )
        return self._json(resp)["value"]

    def wait_for_task_state(self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float) -> None:
        """Wait until a task instance reaches ``state``; fail at once if it ends otherwise."""

        def check() -> bool:
            current = self.task_instance(dag_id, run_id, task_id)["state"]
            if current in ("failed", "upstream_failed", "removed") and current != state:
                log = self.task_log(dag_id, run_id, task_id)
                pytest.fail(f"{task_id} ended {current} while waiting for {state}\n{log}")
            return bool(current == state)

        wait_for(f"{task_id} to be {state}", check, timeout, on_timeout=self.log_tails)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Wait until the run is finished; returns its state (``success`` or ``failed``)."""
        state = wait_for(
            f"run {run_id} to finish",
            lambda: (s := self.dag_run(dag_id, run_id)["state"]) in ("success", "failed") and s,
            timeout,
            interval=2.0,
            on_timeout=self.log_tails,
        )
        return str(state)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """A task try's log text as the REST API serves it (for failure messages)."""
        resp = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            headers={"Accept": "text/plain"},
        )
        return resp.text[-8000:]


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if the test process dies without its teardown."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A group of zombies only is gone for our purpose.
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the system tests together at the end of the session, the process-kill tests last.

    Together and last: the deployment (package-scoped) then lives only while they run, and never
    loads the machine under the rest of the suite. Kill tests last: a kill that goes wrong cannot
    spoil the UI test.
    """

    def rank(item: pytest.Item) -> int:
        if SYSTEM_DIR not in Path(str(item.path)).parents:
            return 0
        return 2 if item.get_closest_marker("kills_components") else 1

    items[:] = sorted(items, key=rank)  # stable: the order within each group stays


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kills_components: kills Airflow components of the shared deployment")


@pytest.fixture(scope="package")
def airflow_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowDeployment]:
    """A real Airflow (api-server, scheduler, dag-processor, triggerer) shared by ``tests/system``.

    Its home (DB, component logs) is a pytest temporary folder, kept for the last few sessions.
    """
    home = tmp_path_factory.mktemp("airflow-home")
    with EmpirioLabsSimulator(process=True) as simulator:
        deployment = AirflowDeployment(home, simulator)
        try:
            deployment.migrate()
            for component in COMPONENTS:
                deployment.start(component)
            started = time.monotonic()
            deployment.wait_healthy()
            print(
                f"\nAirflow deployment at {deployment.url} healthy after {time.monotonic() - started:.0f} s, "
                f"{deployment.rss_bytes() / 1e9:.2f} GB RSS (home {home})"
            )
            yield deployment
        finally:
            deployment.stop_all()
