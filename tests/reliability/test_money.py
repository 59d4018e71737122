"""
Money: the cost cap is enforced before sending, a 402 stops at once, and the result says what was paid.

Against the simulator over real HTTP; the cap and 402 cases also run as real tasks on ``dag.test()``
(see the fault matrix for the 402 row). Costs are compared three ways: the task's result, the
provider's price table, and what the API's own usage history and balance say was charged.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import Job, estimate_cost_usd
from tests.reliability.support import task_outcomes
from tests.support import make_context, make_operator, run_dag

pytestmark = pytest.mark.usefixtures("airflow_db")


# Exact caps where binary floating point would round the wrong way (0.14 * 7 = 0.9800000000000001).
AT_THE_CAP = [(3, "720p", 0.42), (7, "720p", 0.98), (15, "720p", 2.10), (11, "1080p", 1.98), (15, "1080p", 2.70)]


@pytest.mark.parametrize(("duration", "resolution", "cap"), AT_THE_CAP)
def test_a_request_just_at_the_cap_is_sent(
    empiriolabs_connection: Any, duration: int, resolution: str, cap: float
) -> None:
    sim = empiriolabs_connection
    op = make_operator(duration=duration, resolution=resolution, max_cost_usd=cap, wait_for_completion=False)

    assert op.execute(make_context()).startswith("job_")
    assert sim.stats()["posts"] == 1


@pytest.mark.parametrize(("duration", "resolution", "cap"), AT_THE_CAP)
def test_a_request_a_cent_over_the_cap_is_refused_with_nothing_sent(
    empiriolabs_connection: Any, duration: int, resolution: str, cap: float
) -> None:
    sim = empiriolabs_connection
    # Literal arguments: refused when the operator is built, i.e. when the DAG is parsed.
    with pytest.raises(EmpirioLabsRequestError, match=rf"max_cost_usd: the estimated cost \${cap:.2f} exceeds"):
        make_operator(duration=duration, resolution=resolution, max_cost_usd=round(cap - 0.01, 2))
    assert sim.stats()["requests_total"] == 0


def test_insufficient_credits_fail_at_once_saying_so(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(credit_balance_usd=0.10)

    with pytest.raises(AirflowFailException) as caught:  # AirflowFailException: Airflow does not retry it
        make_operator(duration=3).execute(make_context())

    assert "Insufficient credits" in str(caught.value)
    assert "insufficient_credits" in str(caught.value)
    assert sim.stats()["posts"] == 1  # not retried by the hook either
    assert sim.stats()["jobs_created"] == 0


def test_insufficient_credits_fail_the_task_without_retries_on_a_real_run(
    empiriolabs_connection: Any, tmp_path: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    sim = empiriolabs_connection
    sim.configure(credit_balance_usd=0.10)

    run = run_dag("reliability_deferrable", destination=f"file://{tmp_path}/")  # retries=2 on generate

    assert task_outcomes(run)["generate"] == ("failed", 1)
    assert sim.stats()["posts"] == 1
    assert "AirflowFailException" in "".join(capfd.readouterr())


@pytest.mark.parametrize(("duration", "resolution"), [(3, "720p"), (7, "1080p"), (15, "1080p")])
def test_the_result_carries_what_the_api_charged(empiriolabs_connection: Any, duration: int, resolution: str) -> None:
    sim = empiriolabs_connection
    balance = sim.stats()["balance_usd"]

    summary = make_operator(duration=duration, resolution=resolution).execute(make_context())

    price_table = estimate_cost_usd("happyhorse-1-1", resolution, duration)
    assert price_table == pytest.approx({"720p": 0.14, "1080p": 0.18}[resolution] * duration)
    assert summary["video_seconds"] == duration
    assert summary["cost_usd"] == pytest.approx(price_table)
    # The API's own accounts agree: its usage history for the job, and the balance it charged.
    hook = EmpirioLabsHook()
    try:
        [event] = [e for e in hook.get_account_usage().events if e.job_id == summary["job_id"]]
    finally:
        hook.close()
    assert event.cost_usd == pytest.approx(summary["cost_usd"])
    assert sim.stats()["balance_usd"] == pytest.approx(balance - summary["cost_usd"])


def test_the_result_of_a_real_run_carries_the_cost(empiriolabs_connection: Any, tmp_path: Any) -> None:
    from tests.support import xcom

    run = run_dag("reliability_deferrable", destination=f"file://{tmp_path}/")

    assert run.state == "success"
    summary = xcom(run, "generate")
    assert summary["cost_usd"] == pytest.approx(0.42)  # 3 s at 720p, as the API reported it
    assert summary["cost_usd"] == pytest.approx(estimate_cost_usd("happyhorse-1-1", "720p", 3))


def test_the_api_s_reported_cost_wins_over_the_price_table() -> None:
    # A promotion, a price change: what the job's usage says is what was paid.
    job = Job.from_api(
        {
            "job_id": "job_1",
            "status": "completed",
            "result": {"data": [{"url": "https://x/0.mp4"}], "usage": {"billable_units": 5, "cost_usd": 0.5}},
        }
    )
    assert (
        job.summary(seconds=5, price=lambda s: estimate_cost_usd("happyhorse-1-1", "720p", s or 5))["cost_usd"] == 0.5
    )
    # Without a reported cost, the billed seconds priced by the table.
    job = Job.from_api({"job_id": "job_1", "status": "completed", "result": {"usage": {"billable_units": 4}}})
    assert job.summary(seconds=5, price=lambda s: estimate_cost_usd("happyhorse-1-1", "1080p", s or 5))[
        "cost_usd"
    ] == pytest.approx(0.72)
