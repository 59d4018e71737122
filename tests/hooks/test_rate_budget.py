"""The process-wide request budget: a sliding window, shared, and paused as a whole by a 429."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.hooks.rate_budget import MAX_PAUSE_SECONDS, RequestBudget, budget_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_of(budget: RequestBudget) -> float:
    """How long the next request must wait (0: it took a slot, answered at once)."""
    wait, slot = budget._reserve()
    if slot is not None:
        budget.done(slot)
    return wait


def test_a_full_window_makes_the_next_request_wait_until_the_oldest_leaves() -> None:
    clock = FakeClock()
    budget = RequestBudget(3, clock=clock)
    assert [wait_of(budget) for _ in range(3)] == [0, 0, 0]
    clock.now += 20
    assert wait_of(budget) == pytest.approx(40)  # the first one leaves the window at +60 s
    clock.now += 40
    assert wait_of(budget) == 0
    assert budget.in_window() == 1  # the three first ones left together


def test_a_slot_counts_from_the_answer_not_from_the_send() -> None:
    # A slow answer: the API may have counted the request late in its window, so the slot is
    # held for 60 s after the answer, never less (no burst overlaps the next in the API's window).
    clock = FakeClock()
    budget = RequestBudget(1, clock=clock)
    _, slot = budget._reserve()
    assert slot is not None
    clock.now += 10  # the answer takes 10 s
    budget.done(slot)
    clock.now += 55
    assert wait_of(budget) == pytest.approx(5)
    clock.now += 5
    assert wait_of(budget) == 0


@pytest.mark.parametrize(
    ("asked", "held"),
    [
        (float("nan"), 0.0),
        (float("inf"), 0.0),
        (float("-inf"), 0.0),
        (-5.0, 0.0),
        (0.0, 0.0),
        (1e308, MAX_PAUSE_SECONDS),
        (10**400, MAX_PAUSE_SECONDS),
        (1_790_000_000_000, MAX_PAUSE_SECONDS),  # a millisecond epoch taken for seconds
        (30.5, 30.5),
    ],
)
def test_a_pause_is_finite_and_capped(asked: float, held: float) -> None:
    # One answer must never stop every call of the account for longer than the cap, and NaN
    # (which compares false with everything) must not pause forever or crash.
    clock = FakeClock()
    budget = RequestBudget(50, clock=clock)
    budget.pause(asked)
    assert wait_of(budget) == pytest.approx(held)


def test_a_pause_holds_every_caller() -> None:
    clock = FakeClock()
    budget = RequestBudget(50, clock=clock)
    budget.pause(7)
    assert wait_of(budget) == pytest.approx(7)
    clock.now += 7
    assert wait_of(budget) == 0


def test_the_remaining_pause_is_exposed_for_callers_that_wait_anyway() -> None:
    clock = FakeClock()
    budget = RequestBudget(50, clock=clock)
    assert budget.pause_remaining() == 0
    budget.pause(7)
    clock.now += 2
    assert budget.pause_remaining() == pytest.approx(5)
    assert asyncio.run(budget.apause_remaining()) == pytest.approx(5)
    clock.now += 6
    assert budget.pause_remaining() == 0


def test_one_budget_per_account_in_the_process() -> None:
    a = budget_for("https://api.empiriolabs.ai", "sk-one", 50)
    assert budget_for("https://api.empiriolabs.ai", "sk-one", 50) is a
    assert budget_for("https://api.empiriolabs.ai", "sk-two", 50) is not a
    assert budget_for("https://api.empiriolabs.ai", "sk-one", 20).requests_per_minute == 20


def test_refuses_a_budget_below_one() -> None:
    with pytest.raises(ValueError, match="requests_per_minute"):
        RequestBudget(0)


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT",
        '{"conn_type": "empiriolabs", "host": "https://api.test", "password": "sk-empiriolabs-unit",'
        ' "extra": {"requests_per_minute": 3}}',
    )


JOB = {"job_id": "job_1", "status": "processing", "progress": 0.5}


@respx.mock(base_url="https://api.test", assert_all_called=False)
async def test_triggers_of_one_account_share_the_budget(respx_mock: respx.MockRouter, connection: None) -> None:
    respx_mock.get("/v1/jobs/job_1").respond(200, json=JOB)
    hooks = [EmpirioLabsHook() for _ in range(5)]
    done = await asyncio.wait_for(asyncio.gather(*(h.aget_job("job_1") for h in hooks[:3])), timeout=5)
    assert len(done) == 3
    # The fourth caller, whichever hook it uses, waits for the window: the budget is the account's.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(hooks[4].aget_job("job_1"), timeout=0.5)
    assert respx_mock.calls.call_count == 3
    assert (await hooks[0].abudget()).in_window() == 3


@respx.mock(base_url="https://api.test", assert_all_called=False)
async def test_a_429_with_retry_after_pauses_every_hook(respx_mock: respx.MockRouter, connection: None) -> None:
    route = respx_mock.get("/v1/jobs/job_1")
    route.side_effect = [httpx.Response(429, headers={"Retry-After": "30"}, json={})]
    first, other = EmpirioLabsHook(max_attempts=1), EmpirioLabsHook()
    with pytest.raises(Exception, match="429"):
        await first.aget_job("job_1")
    # Another hook of the same account does not even send: it waits out the pause.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(other.aget_job("job_1"), timeout=0.5)
    assert route.call_count == 1


@respx.mock(base_url="https://api.test", assert_all_called=False)
async def test_hooks_on_one_loop_share_one_client_closed_by_the_last(
    respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_empiriolabs.hooks.empiriolabs import shared_async_clients

    monkeypatch.setenv(
        "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT",
        '{"conn_type": "empiriolabs", "host": "https://api.test", "password": "sk-empiriolabs-unit"}',
    )
    respx_mock.get("/v1/jobs/job_1").respond(200, json=JOB)
    one, two = EmpirioLabsHook(), EmpirioLabsHook()
    await one.aget_job("job_1")
    await two.aget_job("job_1")
    client = await one.aget_conn()
    assert client is await two.aget_conn()
    assert shared_async_clients.open_clients() == 1
    await one.aclose()
    assert not client.is_closed
    await two.aclose()
    assert client.is_closed
    assert shared_async_clients.open_clients() == 0
