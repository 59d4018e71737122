"""
A templated video: list the templates a model supports, then generate one under a cost cap.

A template ships a recommended model, the models it supports and default parameters, which the API
merges into the request for every key it does not set. The generate task reads the template when
it runs: a model outside its supported ones is refused before anything is sent, and its default
duration and resolution are in the estimate, so ``max_cost_usd`` holds with them. The summary's
``cost_usd`` is what the account was debited (``cost_source`` says where it comes from).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["example", "empiriolabs"], doc_md=__doc__)
def example_empiriolabs_template() -> None:
    # [START howto_hook_empiriolabs_list_templates]
    @task
    def templates_for_happyhorse() -> list[dict[str, Any]]:
        """The video templates HappyHorse 1.1 may use, with what each one sets."""
        templates = EmpirioLabsHook().list_templates(modality="video", model="happyhorse-1-1")
        return [{"slug": t.slug, "category": t.category, "default_params": t.default_params} for t in templates]

    # [END howto_hook_empiriolabs_list_templates]

    # [START howto_operator_empiriolabs_template]
    generate = EmpirioLabsGenerateVideoOperator(
        task_id="generate_video",
        prompt="A bottle of olive oil on a marble table, soft morning light",
        template="product-showcase",  # its default_params: 10 s at 1080p
        max_cost_usd=2.00,  # checked when the task runs, with the template's defaults
        deferrable=True,
        poll_interval=10,
    )
    # [END howto_operator_empiriolabs_template]

    # [START howto_actual_cost]
    @task
    def report_cost(summary: dict[str, Any]) -> str:
        """``cost_source``: usage (debited), job (the job's own figure) or estimate."""
        return f"{summary['job_id']}: ${summary['cost_usd']:.2f} ({summary['cost_source']})"

    report_cost(generate.output)
    # [END howto_actual_cost]

    templates_for_happyhorse() >> generate


example_empiriolabs_template()
