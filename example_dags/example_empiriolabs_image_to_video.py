"""Image to video: animate one still. The video follows the image's aspect ratio."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["example", "empiriolabs"])
def example_empiriolabs_image_to_video() -> None:
    # [START howto_operator_empiriolabs_image_to_video]
    EmpirioLabsGenerateVideoOperator(
        task_id="animate_still",
        prompt="The horse turns its head towards the camera as the wind lifts its mane",
        mode="i2v",
        images=["https://assets.example.com/stills/horse-portrait.png"],
        resolution="1080p",
        duration=4,
        deferrable=True,
        poll_interval=10,
    )
    # [END howto_operator_empiriolabs_image_to_video]


example_empiriolabs_image_to_video()
