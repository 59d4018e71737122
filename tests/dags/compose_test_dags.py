"""
Test-only DAGs of the Compose operator: plan -> render -> edit, on a worker and in the triggerer.

Each Compose job's input is the previous one's output through XCom, as a user's DAG would pass it:
the plan's storyboard (its own XCom key) to the render, the render's manifest to the edit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.compose import EmpirioLabsComposeOperator

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}
RECIPE = "ai-ugc-product-ad"
BRIEF = "A travel mug that keeps coffee hot for 12 hours"


def _plan_render_edit(dag_id: str, *, deferrable: bool) -> None:
    @dag(dag_id=dag_id, **_DEFAULTS)
    def chain() -> None:
        common: dict[str, Any] = {
            "recipe": RECIPE,
            "deferrable": deferrable,
            "poll_interval": 0.05,
            "timeout": 120,
            "retries": 1,
            "retry_delay": timedelta(0),
        }
        plan = EmpirioLabsComposeOperator(
            task_id="plan",
            mode="plan",
            brief=BRIEF,
            scene_count=2,
            product_image="https://example.com/mug.jpg",
            **common,
        )
        render = EmpirioLabsComposeOperator(
            task_id="render", mode="render", storyboard=plan.output["storyboard"], **common
        )
        EmpirioLabsComposeOperator(
            task_id="edit",
            mode="edit",
            manifest="{{ ti.xcom_pull(task_ids='render')['manifest'] }}",
            edits=[{"scene_index": 1, "instruction": "warmer light, slower camera"}],
            **common,
        ).set_upstream(render)

    chain()


_plan_render_edit("empiriolabs_test_compose", deferrable=False)
_plan_render_edit("empiriolabs_test_compose_deferrable", deferrable=True)
