"""
The chain operator on real Airflow (``dag.test()``) against the simulator.

A 3-link chain in the triggerer and on a worker; a failure between two links, then the task's
retry: each link is paid exactly once; a chain over its cap once rendered fails before any POST.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_empiriolabs.operators import _job_record
from tests.reliability.support import task_outcomes
from tests.support import run_dag, xcom

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.mark.parametrize("dag_id", ["empiriolabs_test_chain", "empiriolabs_test_chain_worker"])
def test_a_three_link_chain_pays_each_link_once(empiriolabs_connection: Any, dag_id: str) -> None:
    sim = empiriolabs_connection
    run = run_dag(dag_id)

    assert task_outcomes(run) == {"film": ("success", 1)}
    summary = xcom(run, "film")
    first, second, third = summary["job_ids"]
    stats = sim.stats()
    assert stats["posts"] == 3
    assert stats["extends"] == {second: {"job_id": first}, third: {"job_id": second}}
    assert summary["job_id"] == third and summary["video_seconds"] == 10
    assert summary["estimated_cost_usd"] == pytest.approx(1.40)
    assert xcom(run, "film", key="job_id") == third


@pytest.mark.parametrize("dag_id", ["empiriolabs_test_chain", "empiriolabs_test_chain_worker"])
def test_a_failure_between_links_is_retried_without_paying_again(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch, dag_id: str
) -> None:
    sim = empiriolabs_connection
    real_save = _job_record.Ledger.save
    done = 0

    def save(self: Any, state: Any, **kwargs: Any) -> None:
        nonlocal done
        real_save(self, state, **kwargs)
        if state == "done":
            done += 1
            if done == 1:  # link 1 is done and recorded; link 2 not sent: the worker goes away
                raise RuntimeError("the worker was lost between link 1 and link 2")

    monkeypatch.setattr(_job_record.Ledger, "save", save)
    run = run_dag(dag_id)

    assert task_outcomes(run) == {"film": ("success", 2)}
    summary = xcom(run, "film")
    assert sim.stats()["posts"] == 3 and sim.stats()["jobs_created"] == 3
    assert len(set(summary["job_ids"])) == 3


def test_a_chain_over_its_cap_once_rendered_fails_before_any_post(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    run = run_dag("empiriolabs_test_chain_templated", seconds=15)  # 3 x 15 s at $0.14: $6.30 > $5

    assert task_outcomes(run) == {"film": ("failed", 1)}  # refused, no retry
    assert sim.stats()["posts"] == 0 and sim.stats()["requests_total"] == 0


def test_a_templated_chain_within_its_cap_runs(empiriolabs_connection: Any) -> None:
    run = run_dag("empiriolabs_test_chain_templated", seconds=3)

    assert task_outcomes(run) == {"film": ("success", 1)}
    assert xcom(run, "film")["video_seconds"] == 9
    assert empiriolabs_connection.stats()["posts"] == 3


def test_the_spend_counts_a_chain_once_at_the_cost_of_all_its_links(empiriolabs_connection: Any) -> None:
    from airflow.utils.session import create_session

    from airflow_provider_empiriolabs.ui.records import spend_summary

    def spend() -> Any:
        with create_session() as session:
            return spend_summary(session, {"empiriolabs_test_chain"})

    before = spend()
    run = run_dag("empiriolabs_test_chain")

    summary = xcom(run, "film")
    assert summary["cost_source"] == "usage"  # each link's debited cost, matched by its output URL
    assert summary["cost_usd"] == pytest.approx(sum(link["cost_usd"] for link in summary["links"]))
    recorded = xcom(run, "film", key="request")
    assert recorded["shots"] == 3 and recorded["estimated_cost_usd"] == pytest.approx(1.40)
    after = spend()
    assert after.jobs - before.jobs == 1  # the film, once: not its last link alone, not each link
    assert after.total_usd - before.total_usd == pytest.approx(summary["cost_usd"])
