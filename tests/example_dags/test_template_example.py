"""The template example DAG (``example_dags/example_empiriolabs_template.py``) end to end on ``dag.test()``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.example_dags.test_example_dags import _run, _xcom

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_the_template_example_prices_the_template_and_reports_the_debited_cost(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    run = _run("example_empiriolabs_template")

    listed = {t["slug"]: t for t in _xcom(run, "templates_for_happyhorse")}
    assert listed["product-showcase"]["default_params"] == {"duration": 10, "resolution": "1080p"}
    assert "slow-motion" not in listed  # it supports wan-2-5 only
    assert _xcom(run, "generate_video", key="request")["estimated_cost_usd"] == pytest.approx(1.80)
    summary = _xcom(run, "generate_video")
    assert (summary["cost_usd"], summary["cost_source"]) == (pytest.approx(1.80), "usage")
    assert _xcom(run, "report_cost") == f"{summary['job_id']}: $1.80 (usage)"
    assert sim.stats()["posts"] == 1
