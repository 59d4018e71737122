"""
Test-only DAGs for templates and the actual cost (run with ``dag.test()`` against the simulator).

The template and the model come from ``dag_run.conf``; the cap is a literal, so the parse-time
check sees a template under ``max_cost_usd`` and must leave it to the run-time check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}


@dag(dag_id="empiriolabs_test_template_capped", **_DEFAULTS)
def template_capped() -> None:
    EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt="A bottle of olive oil turning on a marble table",
        template="{{ dag_run.conf['template'] }}",
        model="{{ dag_run.conf.get('model', 'happyhorse-1-1') }}",
        max_cost_usd=2.0,
        poll_interval=0.05,
        timeout=120,
    )


@dag(dag_id="empiriolabs_test_template_literal", **_DEFAULTS)
def template_literal() -> None:
    # A literal template under a cap: built at parse time without a refusal (the defaults are unknown).
    EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt="A presenter speaking to camera in a bright studio",
        template="talking-head",
        max_cost_usd=1.2,
        deferrable=True,
        poll_interval=0.05,
        timeout=120,
    )


@dag(dag_id="empiriolabs_test_actual_cost", **_DEFAULTS)
def actual_cost() -> None:
    EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt="A horse grazing in a misty field",
        duration=3,
        poll_interval=0.05,
        timeout=120,
    )


template_capped()
template_literal()
actual_cost()
