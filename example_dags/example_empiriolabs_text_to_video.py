"""
Text to video: generate a clip with HappyHorse 1.1, then copy it somewhere durable.

The generate task waits in the triggerer (deferrable), so no worker slot is held while the video
renders; the transfer streams the finished MP4 into object storage before its URL expires.
Swap ``destination`` for ``s3://bucket/videos/``, ``gs://...`` or ``abfs://...`` with a
``dest_conn_id`` to land it in a bucket.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs"],
    params={"destination": Param("file:///tmp/empiriolabs-videos/", type="string")},
    doc_md=__doc__,
)
def example_empiriolabs_text_to_video() -> None:
    # [START howto_operator_empiriolabs_generate_video]
    generate = EmpirioLabsGenerateVideoOperator(
        task_id="generate_video",
        prompt="A chestnut horse galloping along a misty beach at sunrise, slow motion, cinematic",
        resolution="720p",
        duration=5,
        aspect_ratio="16:9",
        seed=42,
        deferrable=True,
        poll_interval=10,
        max_cost_usd=1.00,
    )
    # [END howto_operator_empiriolabs_generate_video]

    # [START howto_transfer_empiriolabs_to_object_storage]
    EmpirioLabsToObjectStorageOperator(
        task_id="store_video",
        output_urls=generate.output,
        destination="{{ params.destination }}",
    )
    # [END howto_transfer_empiriolabs_to_object_storage]


example_empiriolabs_text_to_video()
