"""
Submit many, then wait: one paid job per prompt, submitted without waiting, then waited on together.

Submitting tasks finish at once (holding no slot while videos render); the mapped sensor waits in
the triggerer for each job. Each submit task stores its job id in the task state store, so a
retry of a submit task reattaches instead of paying for a second video.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor

PROMPTS = [
    "A foal taking its first steps in a sunlit meadow",
    "Wild horses crossing a river at dusk, aerial shot",
    "A carousel horse coming to life at midnight, whimsical",
]


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["example", "empiriolabs"])
def example_empiriolabs_submit_many() -> None:
    # [START howto_sensor_empiriolabs_job]
    submitted = EmpirioLabsGenerateVideoOperator.partial(
        task_id="submit",
        wait_for_completion=False,
        duration=3,
        retries=2,
    ).expand(prompt=PROMPTS)

    EmpirioLabsJobSensor.partial(
        task_id="wait_for_video",
        deferrable=True,
        poke_interval=10,
        timeout=1800,
    ).expand(job_id=submitted.output)
    # [END howto_sensor_empiriolabs_job]


example_empiriolabs_submit_many()
