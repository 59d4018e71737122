"""Run the simulator: in a background thread of the test process, or in a child process.

In-thread is the default because it starts in milliseconds and lets a test inspect state
directly. A child process (``process=True``) is there for what a thread cannot do: load
benchmarks whose client must not share the GIL with the server, and tests that kill or restart
the simulator. Both are driven through the same object API; in process mode it talks to the
underscore control endpoints over HTTP.

The listening socket is always bound by us to ``127.0.0.1`` port 0 before uvicorn starts, so the
port is free, known without parsing logs, and connections made before the loop runs wait in the
backlog instead of failing.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.testing import video

if TYPE_CHECKING:
    from types import TracebackType

    import uvicorn

    from airflow_provider_empiriolabs.testing.simulator import SimulatorState

#: API key used unless one is given (mirrors ``simulator.DEFAULT_API_KEY`` without importing it).
DEFAULT_API_KEY = "sk-empiriolabs-simulator"
_URL_LINE = re.compile(r"listening on (http://\S+)")


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 lets the kernel pick a free port.

    :param host: interface; keep the loopback default so nothing is exposed.
    :param port: 0 unless a caller really needs a given port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, *, configure_logging: bool = False) -> uvicorn.Config:
    """uvicorn settings shared by every way in: uvloop + httptools, no access log.

    :param configure_logging: let uvicorn install its logging config (only in a process of our
        own: in a test process it would clobber pytest's and Airflow's logging).
    """
    import uvicorn

    kwargs: dict[str, Any] = {}
    if not configure_logging:
        kwargs["log_config"] = None
    return uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=2,
        backlog=1024,
        **kwargs,
    )


def connection_json(url: str, api_key: str, extra: dict[str, Any] | None = None) -> str:
    """An Airflow connection in the JSON form ``AIRFLOW_CONN_<ID>`` accepts.

    The simulator serves its outputs from its own address, 127.0.0.1, which the transfer refuses
    by default (a production output host never resolves to a loopback or private address): for a
    loopback or private ``url`` the connection therefore sets the extra
    ``allow_private_output_hosts``, so the transfer and the example DAGs work against it.

    :param url: simulator base URL.
    :param api_key: key to put in ``password``.
    :param extra: connection extras (timeouts, poll interval ...), if any; they win.
    """
    conn: dict[str, Any] = {"conn_type": "empiriolabs", "host": url, "password": api_key}
    extra = {**_private_host_extra(url), **(extra or {})}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


def _private_host_extra(url: str) -> dict[str, Any]:
    """``{"allow_private_output_hosts": True}`` when ``url``'s host is a non-public address."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        private = not ipaddress.ip_address(host).is_global
    except ValueError:
        private = host == "localhost"
    return {"allow_private_output_hosts": True} if private else {}


class EmpirioLabsSimulator:
    """The simulator as a context manager.

    ``with EmpirioLabsSimulator(time_scale=50) as sim: ...`` serves on ``sim.url`` until the block
    ends. Knobs are those of :data:`~airflow_provider_empiriolabs.testing.simulator.DEFAULT_KNOBS`.

    :param api_key: the key the account accepts (more keys of the same account: knob ``api_keys``).
    :param process: run in a child process instead of a thread of this process.
    :param startup_timeout: seconds to wait for the server to come up.
    :param knobs: initial knob values; ``reset()`` returns to them.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        process: bool = False,
        startup_timeout: float = 20.0,
        **knobs: Any,
    ) -> None:
        self.api_key = api_key
        self.process_mode = process
        self.startup_timeout = startup_timeout
        knobs.setdefault("api_keys", [api_key])
        self._knobs = knobs
        self.url = ""
        self.state: SimulatorState | None = None
        self.process: subprocess.Popen[str] | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._http: Any = None
        self._sock: socket.socket | None = None
        if not process:
            from airflow_provider_empiriolabs.testing.simulator import SimulatorState

            self.state = SimulatorState(**knobs)  # validates knobs now, in the caller's frame

    # ---- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> EmpirioLabsSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> EmpirioLabsSimulator:
        """Start serving; returns self. Raises ``RuntimeError`` if it does not come up in time."""
        if self.process_mode:
            self._start_process()
        else:
            self._start_thread()
        return self

    def _start_thread(self) -> None:
        import uvicorn

        from airflow_provider_empiriolabs.testing.simulator import create_app

        assert self.state is not None
        sock = bind_socket()
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        server = uvicorn.Server(uvicorn_config(create_app(self.state)))
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"empiriolabs-simulator-{port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("EmpirioLabs simulator thread did not start")
            time.sleep(0.005)
        self._sock = sock

    def _start_process(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "airflow_provider_empiriolabs.testing",
            "--port",
            "0",
            "--api-key",
            self.api_key,
            "--config-json",
            json.dumps(self._knobs),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.process = proc
        lines: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:  # keep reading so the child never blocks on a full pipe
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, name="empiriolabs-simulator-stdout", daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.url:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("EmpirioLabs simulator process did not start (see its stderr)")
            m = _URL_LINE.search(line)
            if m:
                self.url = m.group(1)

    def stop(self) -> None:
        """Stop the server (thread: graceful; process: SIGTERM, then SIGKILL after 5 s)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        if self._http is not None:
            self._http.close()
            self._http = None

    @property
    def pid(self) -> int | None:
        """Child process id in process mode (for kill tests), else ``None``."""
        return self.process.pid if self.process is not None else None

    # ---- control --------------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        if self._http is None:
            self._http = httpx.Client(base_url=self.url, timeout=10)
        resp = self._http.request(method, path, json=body)
        if resp.status_code >= 400:
            try:
                message = resp.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = resp.text
            if resp.status_code == 404:
                raise KeyError(message)
            raise ValueError(message)
        return resp.json()

    def connection_json(self, extra: dict[str, Any] | None = None) -> str:
        """JSON for ``AIRFLOW_CONN_EMPIRIOLABS_DEFAULT`` pointing at this simulator.

        The connection's ``requests_per_minute`` is the simulator's limit in real time (its limit
        holds per simulated minute, which passes ``time_scale`` times faster), so the provider's
        request budget neither starves a fast test nor lets it run into the limit.

        :param extra: connection extras to include (they win over the computed ones).
        """
        config = self.config()
        budget = {"requests_per_minute": max(1, int(config["rate_limit_rpm"] * config["time_scale"]))}
        return connection_json(self.url, self.api_key, {**budget, **(extra or {})})

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs now; returns the full resulting config. ``ValueError`` on a bad knob."""
        if self.state is not None:
            return self.state.configure(**knobs)
        result: dict[str, Any] = self._control("POST", "/_config", knobs)
        return result

    def config(self) -> dict[str, Any]:
        """Current knobs (live balance and remaining outage)."""
        if self.state is not None:
            return self.state.config()
        result: dict[str, Any] = self._control("GET", "/_config")
        return result

    def stats(self) -> dict[str, Any]:
        """Counters, as served by ``GET /_stats``."""
        if self.state is not None:
            return self.state.stats()
        result: dict[str, Any] = self._control("GET", "/_stats")
        return result

    def reset(self) -> None:
        """Drop jobs, uploads, counters and faults; knobs back to the construction values."""
        if self.state is not None:
            self.state.reset()
        else:
            self._control("POST", "/_reset")

    def expire_job(self, job_id: str, *, retention: bool = True, urls: bool = False) -> None:
        """End a job's retention now (polls get 404) and/or expire the URLs handed out so far.

        :param job_id: the job.
        :param retention: make ``GET /v1/jobs/{id}`` answer 404 from now on.
        :param urls: make the output URLs issued so far answer 403 "expired"; a new poll signs
            fresh ones (if the job is still retained).
        """
        if self.state is not None:
            self.state.expire_job(job_id, retention=retention, urls=urls)
        else:
            self._control("POST", f"/_jobs/{job_id}/expire", {"retention": retention, "urls": urls})

    def _output_size(self, size: int | None) -> int | None:
        if size is not None:
            return size
        value = self.config().get("output_size_bytes")
        return int(value) if value is not None else None

    def expected_video_bytes(self, size: int | None = None) -> bytes:
        """The bytes a download returns now (current ``output_size_bytes`` unless ``size``)."""
        return video.expected_video_bytes(self._output_size(size))

    def expected_video_sha256(self, size: int | None = None) -> str:
        """SHA-256 hex of what a download returns now, streamed (fine for 1 GB)."""
        return video.expected_video_sha256(self._output_size(size))
