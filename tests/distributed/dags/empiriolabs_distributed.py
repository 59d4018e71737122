"""
Many videos at once, as a scaled-out deployment runs them: one paid job per prompt.

The generate operator is mapped over ``params.videos`` prompts and waits in the triggerer
(deferrable); each finished video is copied by a mapped transfer into ``params.destination``.
Retries are on, as in production: a task whose worker died is retried, and its retry must
reattach to the job it already paid for instead of submitting a second one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)

DAG_ID = "empiriolabs_distributed"


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=128,
    params={
        "videos": Param(48, type="integer", minimum=1),
        "destination": Param("file:///tmp/empiriolabs-distributed/", type="string"),
    },
    doc_md=__doc__,
)
def empiriolabs_distributed() -> None:
    @task
    def prompts(params: dict[str, Any]) -> list[str]:
        return [f"Horse number {i} galloping across a windswept plain, shot {i}" for i in range(params["videos"])]

    generated = EmpirioLabsGenerateVideoOperator.partial(
        task_id="generate",
        duration=5,
        resolution="720p",
        deferrable=True,
        poll_interval=10,
        max_cost_usd=1.00,
        retries=2,
        retry_delay=timedelta(seconds=5),
    ).expand(prompt=prompts())

    EmpirioLabsToObjectStorageOperator.partial(
        task_id="store_video",
        destination="{{ params.destination }}",
        retries=2,
        retry_delay=timedelta(seconds=5),
    ).expand(output_urls=generated.output)


empiriolabs_distributed()
