"""
The account's budget shared through a REAL Redis server by real processes.

Debian's ``redis-server`` (``make test`` installs it) is started on a free port in a temporary
folder, without persistence, and killed after. Windows are scaled down for speed (10 requests per
2 s): ``limits`` counts whole seconds, so the same code runs with 50 per 61 s in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import subprocess
import sys
import time
from typing import Any

import pytest
import respx

from airflow_provider_empiriolabs.hooks import _redis_store
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget, account_of
from airflow_provider_empiriolabs.hooks.shared_budget import (
    MAX_SHARED_PAUSE_SECONDS,
    RedisBackend,
    RedisSettings,
    SharedBudget,
    pause_key,
)
from tests.support import RedisServer, free_port

ACCOUNT = account_of("https://api.test", "sk-empiriolabs-shared")
LIMIT, WINDOW = 10, 2
LOGGER = "airflow_provider_empiriolabs.hooks.shared_budget"
pytestmark = pytest.mark.usefixtures("fresh_shared_budgets")


def shared(server_settings: RedisSettings, limit: int = LIMIT, window: int = WINDOW) -> SharedBudget:
    """A fresh budget with its own backend: what another process of the account would have."""
    return SharedBudget(limit, RedisBackend(server_settings), ACCOUNT, window_seconds=window)


# -- real processes ---------------------------------------------------------------------------


def _send(port: int, count: int, out: Any) -> None:
    """A worker process: take ``count`` slots from the shared budget, report when each was taken."""
    budget = shared(RedisSettings(host="127.0.0.1", port=port))
    times = []
    for _ in range(count):
        slot = budget.acquire()
        times.append(time.time())
        budget.done(slot)
    out.put(times)


def max_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max((sum(1 for u in ordered[i:] if u < t + window) for i, t in enumerate(ordered)), default=0)


@pytest.mark.slow
def test_processes_sharing_one_redis_never_exceed_the_limit_in_any_window(redis_server: RedisServer) -> None:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    processes = [ctx.Process(target=_send, args=(redis_server.port, 6, out)) for _ in range(4)]
    for process in processes:
        process.start()
    times = sorted(t for _ in processes for t in out.get(timeout=60))
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    # Alone, each process would take its 6 slots at once (24 in the first window); sharing the
    # account's 10 per 2 s, the 24 need three windows, and no window ever holds more than 10.
    assert len(times) == 24
    # Each time is stamped after Redis answered: a process scheduled late under load (two xdist
    # workers beside this test's four processes) stamps late, so a window is measured this much
    # shorter than the limit's (a breach, 24 at once, is still seen).
    assert max_in_any_window(times, WINDOW - 0.25) <= LIMIT
    assert 2 * WINDOW - 0.1 <= times[-1] - times[0] < 2 * WINDOW + 1.5


def _pause_for(port: int, seconds: float) -> None:
    shared(RedisSettings(host="127.0.0.1", port=port)).pause(seconds)


def test_a_pause_set_by_one_process_holds_another(redis_server: RedisServer) -> None:
    here = shared(redis_server.settings)
    process = multiprocessing.get_context("fork").Process(target=_pause_for, args=(redis_server.port, 3.0))
    process.start()
    process.join(timeout=30)
    assert process.exitcode == 0
    remaining = here.pause_remaining()
    assert 0.5 < remaining <= 3.0
    started = time.monotonic()
    here.done(here.acquire())
    assert remaining - 0.2 < time.monotonic() - started < remaining + 0.5  # waited out the other's pause


def test_a_shared_pause_is_clamped_and_never_shortened(redis_server: RedisServer) -> None:
    one, other = shared(redis_server.settings), shared(redis_server.settings)
    one.pause(3600)  # a silly Retry-After: the account is held at most MAX_SHARED_PAUSE_SECONDS
    assert MAX_SHARED_PAUSE_SECONDS - 1 < other.pause_remaining() <= MAX_SHARED_PAUSE_SECONDS
    other.pause(5)  # a shorter pause never shortens the one in force
    assert other.pause_remaining() > MAX_SHARED_PAUSE_SECONDS - 1
    assert redis_server.client().pttl(pause_key(ACCOUNT)) <= MAX_SHARED_PAUSE_SECONDS * 1000


# -- Redis unreachable -----------------------------------------------------------------------


def fallback_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and "falls back" in r.getMessage()]


def test_redis_down_at_start_falls_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    budget = shared(RedisSettings(host="127.0.0.1", port=free_port()), limit=3, window=60)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            budget.done(budget.acquire())
        budget.pause(0.01)  # a 429: still no error
    assert budget.in_window() == 3  # this process's own budget counted them
    assert budget._reserve()[1] is None  # and holds the fourth: the fallback is a real budget
    [message] = fallback_warnings(caplog)
    assert "own budget" in message
    assert "redis://127.0.0.1" in message


def test_without_the_redis_extra_the_budget_falls_back_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "limits", None)  # as if `limits` were not installed
    budget = shared(RedisSettings(host="127.0.0.1", port=free_port()))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        budget.done(budget.acquire())
    [message] = fallback_warnings(caplog)
    assert "airflow-provider-empiriolabs[redis]" in message


@pytest.mark.slow
def test_redis_killed_mid_run_falls_back_then_comes_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_redis_store, "BACKEND_RETRY_SECONDS", 0.3)
    budget = shared(redis_server.settings, limit=50, window=60)
    key = f"empiriolabs:LIMITER/empiriolabs/https://api.test/{ACCOUNT[1]}/50/60/second"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(3):
            budget.done(budget.acquire())
        assert redis_server.client().llen(key) == 3
        redis_server.stop()
        for _ in range(4):
            budget.done(budget.acquire())  # no call fails
        assert budget.in_window() == 7  # the fallback knows the 3 sent through Redis
        redis_server.start()
        time.sleep(0.35)
        budget.done(budget.acquire())
    # A fresh server: the shared window is in use again. It lost the 3 grants (6 counts: one before
    # and one after each hit), so 6 places are put back (at most twice the grants lost), then the new one.
    assert redis_server.client().llen(key) == 7
    assert len(fallback_warnings(caplog)) == 1
    assert any("back in use" in r.getMessage() for r in caplog.records)


# -- the event loop ----------------------------------------------------------------------------


# What runs in a fresh interpreter (a triggerer's, which has not imported the Redis clients yet):
# a finder first on sys.meta_path notes every module of redis or limits loaded while an event loop
# runs in the loading thread. The scenario: five callers through three 1 s windows of 2, then a 429
# paused from inside the loop, read back by another backend.
_IN_A_TRIGGERER = """
import asyncio, json, sys, threading, time

class Watch:
    loaded_in_loop = []
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("redis", "limits"):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return None
            self.loaded_in_loop.append(name)
        return None

sys.meta_path.insert(0, Watch())
from airflow_provider_empiriolabs.hooks.rate_budget import account_of
from airflow_provider_empiriolabs.hooks.shared_budget import RedisBackend, RedisSettings, SharedBudget

settings = RedisSettings(host="127.0.0.1", port=int(sys.argv[1]))
account = account_of("https://api.test", "sk-empiriolabs-shared")

async def main():
    budget = SharedBudget(2, RedisBackend(settings), account, window_seconds=1)
    started = time.monotonic()
    slots = await asyncio.gather(*(budget.aacquire() for _ in range(5)))
    took = time.monotonic() - started
    budget.pause(0.5)  # from inside the loop (a 429 in a trigger): written to Redis by a task
    await asyncio.sleep(0.05)
    remaining = await SharedBudget(2, RedisBackend(settings), account, window_seconds=1).apause_remaining()
    for slot in slots:
        budget.done(slot)
    return took, remaining, len(slots)

took, remaining, slots = asyncio.run(main())
print(json.dumps({
    "loaded_in_loop": Watch.loaded_in_loop,
    "loaded": [m for m in ("redis.asyncio", "limits.aio.strategies") if m in sys.modules],
    "took": took, "remaining": remaining, "slots": slots,
}))
"""


def test_waiting_in_the_event_loop_never_blocks_it(redis_server: RedisServer) -> None:
    # Importing redis.asyncio and limits.aio takes over half a second: done inside the loop, it
    # stalled every trigger of a real triggerer once. Here no module of either is loaded by the
    # loop's thread while the loop runs, yet both are in use.
    run = subprocess.run(
        [sys.executable, "-c", _IN_A_TRIGGERER, str(redis_server.port)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["loaded"] == ["redis.asyncio", "limits.aio.strategies"]
    assert result["loaded_in_loop"] == []
    assert result["slots"] == 5
    assert result["took"] > 1.5  # 2 + 2 + 1 across three 1 s windows: the callers waited
    assert 0.2 < result["remaining"] <= 0.5


async def test_the_callers_of_one_process_queue_and_one_asks_redis(redis_server: RedisServer) -> None:
    budget = shared(redis_server.settings, limit=10, window=1)
    slots = await asyncio.wait_for(asyncio.gather(*(budget.aacquire() for _ in range(30))), timeout=10)
    assert len(slots) == 30
    # 30 callers waiting through three windows: one connection asked Redis (plus this test's own).
    assert len(redis_server.client().client_list()) <= 2


async def test_the_event_loop_survives_redis_down(caplog: pytest.LogCaptureFixture) -> None:
    budget = shared(RedisSettings(host="127.0.0.1", port=free_port()), limit=5, window=60)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        slots = await asyncio.gather(*(budget.aacquire() for _ in range(5)))
        assert await budget.apause_remaining() == 0
    assert len(slots) == 5
    assert len(fallback_warnings(caplog)) == 1


# -- the hook --------------------------------------------------------------------------------


def connections(monkeypatch: pytest.MonkeyPatch, port: int, redis_conn: str = "redis_budget") -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT",
        '{"conn_type": "empiriolabs", "host": "https://api.test", "password": "sk-empiriolabs-shared",'
        f' "extra": {{"requests_per_minute": 3, "budget_conn_id": "{redis_conn}"}}}}',
    )
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_BUDGET", f'{{"conn_type": "redis", "host": "127.0.0.1", "port": {port}}}')


JOB = {"job_id": "job_1", "status": "processing", "progress": 0.5}


@respx.mock(base_url="https://api.test", assert_all_called=False)
def test_a_hook_whose_connection_names_redis_uses_the_shared_budget(
    respx_mock: respx.MockRouter, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections(monkeypatch, redis_server.port)
    respx_mock.get("/v1/jobs/job_1").respond(200, json=JOB)
    hook = EmpirioLabsHook()
    budget = hook.budget
    assert isinstance(budget, SharedBudget)
    assert budget.backend.settings == redis_server.settings
    hook.get_job("job_1")
    key = f"empiriolabs:LIMITER/empiriolabs/https://api.test/{ACCOUNT[1]}/3/61/second"
    assert redis_server.client().llen(key) == 1
    assert not any(b"sk-empiriolabs" in k for k in redis_server.client().keys("*"))  # never the key itself


@respx.mock(base_url="https://api.test", assert_all_called=False)
async def test_a_trigger_hook_reads_the_connections_without_blocking_and_shares_a_429(
    respx_mock: respx.MockRouter, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections(monkeypatch, redis_server.port)

    def blocking_read(conn_id: str) -> None:
        raise AssertionError(f"a synchronous connection read in the event loop ({conn_id})")

    monkeypatch.setattr(EmpirioLabsHook, "get_connection", blocking_read)
    route = respx_mock.get("/v1/jobs/job_1")
    route.respond(429, headers={"Retry-After": "30"}, json={})
    hook = EmpirioLabsHook(max_attempts=1)
    with pytest.raises(Exception, match="429"):
        await hook.aget_job("job_1")
    await asyncio.sleep(0.05)  # the pause's Redis write is a task of the loop
    # Another process of the account (its own backend) sees the pause.
    assert 25 < await shared(redis_server.settings).apause_remaining() <= 30
    assert isinstance(await hook.abudget(), SharedBudget)


def test_a_missing_redis_connection_falls_back_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    connections(monkeypatch, free_port(), redis_conn="no_such_redis")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        budgets = [EmpirioLabsHook().budget for _ in range(3)]
    assert all(type(b) is RequestBudget for b in budgets)
    assert len([r for r in caplog.records if "no_such_redis" in r.getMessage()]) == 1


def test_redis_settings_from_a_connection_keep_the_password_out_of_repr() -> None:
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="r", conn_type="redis", host="redis.internal", port=6380, login="airflow", password="s3cr/et",
        extra='{"db": 2, "ssl": true}',
    )  # fmt: skip
    settings = RedisSettings.from_connection(conn)
    assert settings.url == "rediss://airflow:s3cr%2Fet@redis.internal:6380/2"
    assert "s3cr" not in repr(settings) and "s3cr" not in settings.describe()
    assert os.fspath(settings.describe()) == "rediss://redis.internal:6380/2"
