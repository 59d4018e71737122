"""
The view says where each cost comes from: debited (the job's usage event), the job's own figure, or
the estimate; the spend page counts the jobs it could only estimate. On real runs (``dag.test()``
against the simulator), then through the view's app, and on the page builders alone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_empiriolabs.ui.pages import run_page, spend_page
from airflow_provider_empiriolabs.ui.records import SpendSummary, VideoRecord
from tests.support import run_dag
from tests.ui.view_server import StandInAuthManager

DAG_ID = "empiriolabs_test_actual_cost"


def _record(summary: dict[str, Any] | None) -> VideoRecord:
    return VideoRecord("d", "r", "t", -1, "job_1", request={"estimated_cost_usd": 0.42}, summary=summary)


@pytest.mark.parametrize(
    ("source", "label"),
    [
        ("usage", "debited, from the account&#x27;s usage"),
        ("estimate", "estimate: no usage event matched"),
        ("job", "as the job reported it"),
    ],
)
def test_the_run_page_says_where_the_actual_cost_comes_from(source: str, label: str) -> None:
    record = _record({"job_id": "job_1", "cost_usd": 0.42, "cost_source": source})
    page = run_page("t", [record], lambda r, i: "/m", "none")
    assert f'<span class="muted" data-field="cost-source">({label})</span>' in page


def test_a_summary_that_does_not_say_or_lies_gets_no_label() -> None:
    for summary in ({"cost_usd": 0.42}, {"cost_usd": 0.42, "cost_source": "<script>"}):
        record = _record(summary)
        assert record.cost_source is None
        assert 'data-field="cost-source"' not in run_page("t", [record], lambda r, i: "/m", "none")


def test_the_spend_page_counts_the_estimated_jobs() -> None:
    summary = SpendSummary(per_dag={"d": 1.12}, jobs=2, estimated=1, estimated_usd=0.42)
    page = spend_page(summary, {}, {"conn_id": "c", "balance_usd": 1.0}, lambda r: "/r")
    assert '<p class="muted" id="estimated">1 finished job(s) counted at their estimate ($0.42)' in page
    assert 'id="estimated"' not in spend_page(SpendSummary(per_dag={"d": 1.0}, jobs=1), {}, {}, lambda r: "/r")


@pytest.mark.usefixtures("airflow_db")
def test_the_view_shows_the_debited_cost_and_labels_the_estimate(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.api_fastapi import app as airflow_app
    from fastapi.testclient import TestClient

    from airflow_provider_empiriolabs.ui import app as view_app

    debited = run_dag(DAG_ID)
    empiriolabs_connection.configure(usage_lists_outputs=False, job_reports_cost=False)
    estimated = run_dag(DAG_ID)
    assert debited.state == estimated.state == "success"

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", StandInAuthManager({DAG_ID}))
    view_app._cache.clear()
    client = TestClient(view_app.create_app(), root_path="/empiriolabs")
    headers = {"Authorization": "Bearer admin-token"}

    def page_of(run: Any) -> str:
        resp = client.get(f"/runs/{DAG_ID}/{quote(run.run_id, safe='')}", headers=headers)
        assert resp.status_code == 200
        return resp.text

    assert '$0.42</span> <span class="muted" data-field="cost-source">(debited' in page_of(debited)
    assert '$0.42</span> <span class="muted" data-field="cost-source">(estimate' in page_of(estimated)
    spend = client.get("/api/spend", headers=headers).json()
    assert spend["estimated"] >= 1 and spend["estimated_usd"] >= 0.42  # other tests' runs of the DAG count too
    assert 'id="estimated"' in client.get("/spend", headers=headers).text
