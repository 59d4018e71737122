"""
Every wait of the account's budget is bounded in total (issue 16, item 4), with a real ``redis-server``.

The shared pause is clamped (scaled down here from 120 s to 1 s): a pause key left with an hour's
TTL by an older version, a script or an operator counts as the clamp from the moment it was first
seen, and a slot wait that no window frees (sustained contention) ends, unsent, at the bound.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import respx

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRateLimitError
from airflow_provider_empiriolabs.hooks import _redis_store, rate_budget
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.hooks.shared_budget import pause_key
from tests.hooks.test_shared_budget import (
    ACCOUNT,
    JOB,
    connections,
    shared,
)
from tests.support import RedisServer

pytestmark = pytest.mark.usefixtures("fresh_shared_budgets")
CLAMP = 1.0  # the shared pause's clamp, scaled down from 120 s
HANG = 30.0  # a call still waiting this long waits for the key's hour: the bound did not hold


def in_thread(call: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``call`` in a thread; its result or error lands in the dict."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = call()
        except Exception as error:
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


@respx.mock(base_url="https://api.test", assert_all_called=False)
def test_a_pause_key_left_for_an_hour_holds_get_job_only_for_the_clamp(
    respx_mock: respx.MockRouter, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_redis_store, "MAX_SHARED_PAUSE_SECONDS", CLAMP)
    connections(monkeypatch, redis_server.port)
    route = respx_mock.get("/v1/jobs/job_1").respond(200, json=JOB)
    redis_server.client().set(pause_key(ACCOUNT), "1", ex=3600)  # left behind, an hour to go
    thread, result = in_thread(lambda: EmpirioLabsHook(max_attempts=1).get_job("job_1"))
    thread.join(HANG)
    assert not thread.is_alive(), "get_job waited out the hour-long pause key"
    assert "error" not in result
    assert result["value"].job_id == "job_1"
    assert route.call_count == 1  # nothing sent while paused, the one GET after
    # Everyone's clamp: the key itself was cut to the clamp when first seen.
    assert redis_server.client().pttl(pause_key(ACCOUNT)) <= CLAMP * 1000


def test_a_pause_renewed_past_the_clamp_counts_as_the_clamp_from_first_sight(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A writer that keeps putting the hour back (an older version, a script): the wait still ends.
    monkeypatch.setattr(_redis_store, "MAX_SHARED_PAUSE_SECONDS", CLAMP)
    client = redis_server.client()
    stop = threading.Event()

    def renew() -> None:
        while not stop.is_set():
            client.set(pause_key(ACCOUNT), "1", ex=3600)
            stop.wait(0.05)

    writer = threading.Thread(target=renew, daemon=True)
    writer.start()
    try:
        budget = shared(redis_server.settings)
        thread, result = in_thread(budget.acquire)
        thread.join(HANG)
        assert not thread.is_alive(), "the slot wait never ended while the pause was renewed"
        assert "error" not in result
        assert budget.in_window() == 1
    finally:
        stop.set()
        writer.join()


def test_a_slot_wait_under_sustained_contention_ends_unsent_at_the_bound(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rate_budget, "MAX_WAIT_SECONDS", 0.5)
    others = shared(redis_server.settings, limit=2, window=3600)
    others.acquire()
    others.acquire()  # the account's window is full for an hour
    budget = shared(redis_server.settings, limit=2, window=3600)
    thread, result = in_thread(budget.acquire)
    thread.join(HANG)
    assert not thread.is_alive(), "the slot wait had no bound"
    error = result["error"]
    assert isinstance(error, EmpirioLabsRateLimitError)
    assert "nothing was sent" in str(error)
    assert budget.in_window() == 0


async def test_the_event_loop_s_slot_wait_is_bounded_too(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rate_budget, "MAX_WAIT_SECONDS", 0.5)
    others = shared(redis_server.settings, limit=2, window=3600)
    others.acquire()
    others.acquire()
    budget = shared(redis_server.settings, limit=2, window=3600)
    # Two callers: the one that asks Redis and the one queued behind it; both end at the bound.
    results = await asyncio.wait_for(asyncio.gather(budget.aacquire(), budget.aacquire(), return_exceptions=True), HANG)
    assert all(isinstance(r, EmpirioLabsRateLimitError) for r in results)
    assert budget.in_window() == 0


async def test_the_event_loop_s_pause_wait_ends_at_the_clamp(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_redis_store, "MAX_SHARED_PAUSE_SECONDS", CLAMP)
    redis_server.client().set(pause_key(ACCOUNT), "1", ex=3600)
    budget = shared(redis_server.settings)
    started = time.monotonic()
    slot = await asyncio.wait_for(budget.aacquire(), HANG)
    budget.done(slot)
    assert time.monotonic() - started >= CLAMP - 0.1  # the pause was honoured up to the clamp
    assert await budget.apause_remaining() <= CLAMP


def test_the_local_budget_s_wait_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_budget, "MAX_WAIT_SECONDS", 0.3)
    budget = rate_budget.RequestBudget(1)
    budget.done(budget.acquire())
    with pytest.raises(EmpirioLabsRateLimitError, match="nothing was sent"):
        budget.acquire()  # the window frees in 60 s: past the bound
