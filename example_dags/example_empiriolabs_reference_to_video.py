"""
Reference to video: up to nine reference images, named character1 ... character9 in the prompt.

The images come from an upstream task here (a list of URLs in XCom); the operator validates the
rendered list before anything is sent.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["example", "empiriolabs"])
def example_empiriolabs_reference_to_video() -> None:
    @task
    def reference_images() -> list[str]:
        return [f"https://assets.example.com/cast/rider-{n}.png" for n in range(1, 10)]

    # [START howto_operator_empiriolabs_reference_to_video]
    EmpirioLabsGenerateVideoOperator(
        task_id="ensemble_scene",
        prompt=(
            "A parade of nine riders: character1 leads, followed by character2, character3, character4, "
            "character5, character6, character7, character8 and character9, banners flying"
        ),
        mode="r2v",
        images=reference_images(),
        aspect_ratio="9:16",
        duration=8,
        deferrable=True,
        poll_interval=10,
    )
    # [END howto_operator_empiriolabs_reference_to_video]


example_empiriolabs_reference_to_video()
