"""
TaskFlow: a function writes the prompt, ``@task.empiriolabs_video`` generates the video.

The first task turns a brief into a prompt; the decorated one returns the request's fields (here
a prompt and a seed, from the run's ``params``) and the decorator's arguments are the operator's:
validated when the DAG is parsed, estimated and capped before anything is sent, waited on in the
triggerer. Its return value is the video's summary, as with ``EmpirioLabsGenerateVideoOperator``,
so the transfer takes it as it takes the operator's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs"],
    params={
        "subject": Param("a chestnut horse", type="string"),
        "seed": Param(7, type="integer"),
        "destination": Param("file:///tmp/empiriolabs-videos/", type="string"),
    },
    doc_md=__doc__,
)
def example_empiriolabs_taskflow() -> None:
    @task
    def write_brief(params: dict[str, Any]) -> str:
        return f"{params['subject']} galloping along a misty beach at sunrise"

    # [START howto_decorator_empiriolabs_video]
    @task.empiriolabs_video(
        resolution="720p",
        duration=5,
        aspect_ratio="16:9",
        deferrable=True,
        poll_interval=10,
        max_cost_usd=1.00,
    )
    def generate_video(brief: str, params: dict[str, Any]) -> dict[str, Any]:
        # Return the prompt alone (a str), or a dict of request fields as here.
        return {"prompt": f"{brief}, slow motion, cinematic", "seed": params["seed"]}

    video = generate_video(write_brief())
    # [END howto_decorator_empiriolabs_video]

    EmpirioLabsToObjectStorageOperator(
        task_id="store_video",
        output_urls=video,  # the summary: the transfer reads its output_urls
        destination="{{ params.destination }}",
    )


example_empiriolabs_taskflow()
