"""
Test-only DAGs for the live catalogue (``tests/operators/test_live_catalogue_runs.py``).

A model with a shipped spec (``happyhorse-1-1``) is checked and priced by the spec the live
``GET /v1/models/{id}`` leaves: these DAGs run it against the simulator and a hostile catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}
#: Tasks of the "many" DAG: one process, one catalogue read among them.
MANY_TASKS = 4


def _generate(task_id: str, **kwargs: Any) -> EmpirioLabsGenerateVideoOperator:
    return EmpirioLabsGenerateVideoOperator(
        task_id=task_id,
        prompt="A horse trotting through a meadow",
        resolution="720p",
        duration=3,
        wait_for_completion=False,
        **kwargs,
    )


@dag(dag_id="live_catalogue_one", **_DEFAULTS)
def one() -> None:
    """One job, capped at $0.44: 3 s at the shipped $0.14/s ($0.42) fits, at $0.15/s ($0.45) does not."""
    _generate("generate", max_cost_usd=0.44)


@dag(dag_id="live_catalogue_many", **_DEFAULTS)
def many() -> None:
    """Several jobs of one model in one run (one process on dag.test())."""
    for index in range(MANY_TASKS):
        _generate(f"generate_{index}")


one()
many()
