"""
Brief to many: one video per prompt of a brief kept in storage, with a cap on paid jobs in flight.

``read_brief`` reads a text file (one prompt per line, ``#`` comments) from any ObjectStoragePath
URL (``s3://conn_id@bucket/brief.txt`` names its connection), and the generate operator is mapped
over the prompts: one task, and one paid job, per line. Every mapped task runs in the
``empiriolabs_paid_jobs`` pool, created with ``--include-deferred`` so that a task waiting in the
triggerer still holds its slot: the pool's size is then the number of paid jobs in flight at once,
whatever the brief's length::

    airflow pools set empiriolabs_paid_jobs 3 "Paid EmpirioLabs jobs in flight" --include-deferred

Each prompt is a mapped task group, generate then store: a prompt refused (a content-policy
refusal, say) fails its own group only, and every other paid video is still stored (a mapped
transfer expanded over the mapped generate's output would wait for all of them, and a single
failure would leave every paid video unstored while its URL runs out). ``max_videos`` refuses a
brief longer than expected before anything is sent, and each task's ``max_cost_usd`` caps one
video's estimate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task, task_group

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)

#: Create it with ``--include-deferred`` (see above): its size caps concurrent paid jobs.
PAID_JOBS_POOL = "empiriolabs_paid_jobs"


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs"],
    params={
        "brief": Param("file:///tmp/empiriolabs/brief.txt", type="string"),
        "destination": Param("file:///tmp/empiriolabs/videos/", type="string"),
        "max_videos": Param(20, type="integer", minimum=1),
    },
    doc_md=__doc__,
)
def example_empiriolabs_brief_to_many() -> None:
    # [START howto_operator_empiriolabs_brief_to_many]
    @task
    def read_brief(params: dict[str, Any]) -> list[str]:
        """The brief's prompts, one per non-empty line; refuses more than ``max_videos`` of them."""
        from airflow.sdk import ObjectStoragePath

        text = ObjectStoragePath(params["brief"]).read_text()
        prompts = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not prompts:
            raise ValueError(f"the brief {params['brief']} holds no prompt")
        if len(prompts) > params["max_videos"]:
            raise ValueError(f"the brief holds {len(prompts)} prompts, more than max_videos={params['max_videos']}")
        return prompts

    @task_group
    def one_video(prompt: str) -> None:
        """One prompt's video, generated then stored on its own: a refused sibling holds nothing back."""
        generated = EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt=prompt,
            pool=PAID_JOBS_POOL,  # include_deferred=True: a waiting job keeps its slot
            duration=5,
            resolution="720p",
            deferrable=True,
            poll_interval=10,
            max_cost_usd=1.00,
            retries=2,  # a retry reattaches to its job: never a second bill
        )
        EmpirioLabsToObjectStorageOperator(
            task_id="store_video",
            output_urls=generated.output,
            destination="{{ params.destination }}",
        )

    one_video.expand(prompt=read_brief())
    # [END howto_operator_empiriolabs_brief_to_many]


example_empiriolabs_brief_to_many()
