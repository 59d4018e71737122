"""Operator snippets of the how-tos, built when ``tests/docs`` imports this module."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def reference_images() -> None:
    # [START images_conn_id]
    EmpirioLabsGenerateVideoOperator(
        task_id="animate_still",
        prompt="The horse turns its head towards the camera",
        images=["s3://my-bucket/stills/horse.png"],
        images_conn_id="aws_default",
    )
    # [END images_conn_id]


reference_images()


def over_the_cap() -> None:
    """Refused when the DAG is parsed: the estimate is over ``max_cost_usd``."""
    # [START max_cost_usd]
    EmpirioLabsGenerateVideoOperator(
        task_id="generate", prompt="...", duration=15, resolution="1080p", max_cost_usd=2.00
    )  # $2.70: refused
    # [END max_cost_usd]
