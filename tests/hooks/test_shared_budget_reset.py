"""
The account's limit holds across a Redis reset (issue 16, item 5): real processes, a real ``redis-server``.

Three processes keep the account's window saturated (10 requests per 3 s, scaled down from 50 per
61 s), so the window's entries are spread over it, as in production. Mid-window, Redis loses them:
``FLUSHDB``, ``SHUTDOWN NOSAVE`` and a restart, or a failover to a replica that missed the primary's
last writes. The processes reach Redis through a small TCP proxy, which is how a failover looks to
a client (one address, another server behind it). The processes are stopped (SIGSTOP) while Redis
resets and continued after, so that none meets Redis down (that is the fallback's case, tested
elsewhere). Whatever happened, no 3 s holds more than 10 grants.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from airflow_provider_empiriolabs.hooks import _redis_store
from airflow_provider_empiriolabs.hooks.shared_budget import RedisSettings
from tests.hooks.test_shared_budget import (
    ACCOUNT,
    max_in_any_window,
    shared,
)
from tests.support import REDIS_SERVER, RedisServer, free_port

pytestmark = pytest.mark.usefixtures("fresh_shared_budgets")
LIMIT, WINDOW = 10, 3
PROCESSES, EACH = 3, 12  # 36 grants: about four windows
# Each process waits this long after each of its first grants: the first window fills over most of
# a second, not at once (its entries spread, as in production); after that, every process asks as
# fast as the account allows, and takes each place as it frees.
PACE, PACED = 0.25, -(-LIMIT // PROCESSES)
WINDOW_KEY = f"empiriolabs:LIMITER/empiriolabs/https://api.test/{ACCOUNT[1]}/{LIMIT}/{WINDOW}/second"
# Grant times are taken by each process after Redis answered: a process scheduled late under load
# stamps late, so a window is measured this much shorter than the limit's.
MEASURE = WINDOW - 0.25


class Proxy:
    """A TCP proxy on 127.0.0.1 to one Redis server, switchable to another."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            client.close()
            return
        with self.lock:
            self.pairs.append((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def switch(self, target: int) -> None:
        """Lead the address to another server: the current connections are cut (their clients reconnect)."""
        self.target = target
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.switch(self.target)
        self.listener.close()


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[Proxy]:
    proxy = Proxy(redis_server.port)
    yield proxy
    proxy.close()


def _send(port: int, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """A worker process: take ``count`` slots as fast as the account allows; report when each was granted."""
    budget = shared(RedisSettings(host="127.0.0.1", port=port), limit=LIMIT, window=WINDOW)
    times = []
    for i in range(count):
        slot = budget.acquire()
        times.append(time.time())
        budget.done(slot)
        if i < PACED:
            time.sleep(PACE)
    out.put((times, budget.backend.warnings))


def saturate_then(
    port: int, admin: redis.Redis, reset: Callable[[], None], halfway: Callable[[], None] | None = None
) -> list[float]:
    """
    Run the processes through ``port``; ``reset`` once the first window is full; the grant times.

    :param halfway: called once the first window is half full, while the processes run.
    """
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    processes = [ctx.Process(target=_send, args=(port, EACH, out)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    try:
        deadline = time.monotonic() + 60
        for count, step in ((LIMIT // 2, halfway), (LIMIT, None)):
            while admin.llen(WINDOW_KEY) < count:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            if step is not None:
                step()
        # The window is full, its places spread over most of a second, and still in the API's window
        # for two more seconds: Redis loses them now.
        for process in processes:  # between two requests, as in a pause of the processes
            os.kill(process.pid, signal.SIGSTOP)  # type: ignore[arg-type]
        try:
            reset()
        finally:
            for process in processes:
                os.kill(process.pid, signal.SIGCONT)  # type: ignore[arg-type]
        reports = [out.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.exitcode is None:
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    assert sum(warnings for _, warnings in reports) == 0  # Redis was reachable throughout: no fallback
    return sorted(t for times, _ in reports for t in times)


def assert_limit_held(times: list[float]) -> None:
    assert len(times) == PROCESSES * EACH
    assert max_in_any_window(times, MEASURE) <= LIMIT


@pytest.fixture(autouse=True)
def _quick_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    # Inherited by the forked processes: a process that met the server mid-restart asks again soon.
    monkeypatch.setattr(_redis_store, "BACKEND_RETRY_SECONDS", 0.2)


@pytest.mark.slow
def test_the_limit_holds_across_a_flushdb(redis_server: RedisServer, proxy: Proxy) -> None:
    admin = redis_server.client()
    assert_limit_held(saturate_then(proxy.port, admin, admin.flushdb))


@pytest.mark.slow
def test_the_limit_holds_across_a_restart_that_lost_everything(redis_server: RedisServer, proxy: Proxy) -> None:
    admin = redis_server.client()

    def restart() -> None:
        with contextlib.suppress(redis.ConnectionError):
            admin.shutdown(nosave=True)
        redis_server.process.wait(timeout=10)  # type: ignore[union-attr]
        redis_server.start()
        proxy.switch(redis_server.port)  # the same server: the proxy's connections to the old one end

    assert_limit_held(saturate_then(proxy.port, admin, restart))


class Replica:
    """A real ``redis-server --replicaof`` the primary, in sync before it is used."""

    def __init__(self, primary: int) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="empiriolabs-redis-replica-")  # where it loads the primary's copy
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--replicaof", "127.0.0.1", str(primary)],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if self.client.info("replication").get("master_link_status") == "up":
                    break
            assert time.monotonic() < deadline, "the replica did not sync"
            time.sleep(0.02)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.mark.slow
def test_the_limit_holds_across_a_failover_to_a_replica_that_missed_the_last_writes(
    redis_server: RedisServer, proxy: Proxy
) -> None:
    replica = Replica(redis_server.port)
    admin = redis_server.client()

    def stop_following() -> None:
        # The replica's copy freezes here; the primary goes on taking grants it misses.
        replica.client.execute_command("REPLICAOF", "NO", "ONE")

    def failover() -> None:
        assert admin.lrange(WINDOW_KEY, 0, -1) != replica.client.lrange(WINDOW_KEY, 0, -1)  # it missed some
        # The primary dies, and the clients' address leads to the promoted replica.
        redis_server.stop()
        proxy.switch(replica.port)

    try:
        assert_limit_held(saturate_then(proxy.port, admin, failover, halfway=stop_following))
    finally:
        replica.stop()
