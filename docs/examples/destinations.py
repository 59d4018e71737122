"""Other destinations, as the README and the transfer how-to show them (``tests/docs`` builds this DAG)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def other_destinations() -> None:
    generate = EmpirioLabsGenerateVideoOperator(task_id="generate_video", prompt="A horse", max_cost_usd=1.00)
    # [START destinations]
    EmpirioLabsToObjectStorageOperator(
        task_id="store_video_s3",
        output_urls=generate.output,
        destination="s3://my-bucket/videos/",
        dest_conn_id="aws_default",  # the [amazon] extra
    )
    EmpirioLabsToObjectStorageOperator(
        task_id="store_video_gcs",
        output_urls=generate.output,
        destination="gs://my-bucket/videos/",
        dest_conn_id="google_cloud_default",  # the [google] extra
    )
    EmpirioLabsToObjectStorageOperator(
        task_id="store_video_azure",
        output_urls=generate.output,
        destination="abfs://my-container/videos/",
        dest_conn_id="wasb_default",  # the [azure] extra
    )
    # [END destinations]


other_destinations()
