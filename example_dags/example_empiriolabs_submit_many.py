"""
Submit many, then wait: one paid job per prompt, submitted without waiting, then waited on together.

Submitting tasks finish at once (holding no slot while videos render); each prompt's sensor waits
in the triggerer for its own job (one mapped task group per prompt, so a refused submission holds
no other prompt back). Each submit task stores its job id in the task state store, so a
retry of a submit task reattaches instead of paying for a second video.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task_group

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
    @task_group
    def one_video(prompt: str) -> None:
        """Submit one prompt's job, then wait for it: a refused job fails its own group only."""
        submitted = EmpirioLabsGenerateVideoOperator(
            task_id="submit",
            prompt=prompt,
            wait_for_completion=False,
            duration=3,
            retries=2,
        )
        EmpirioLabsJobSensor(
            task_id="wait_for_video",
            job_id=submitted.output,
            deferrable=True,
            poke_interval=10,
            timeout=1800,
        )

    one_video.expand(prompt=PROMPTS)
    # [END howto_sensor_empiriolabs_job]


example_empiriolabs_submit_many()
