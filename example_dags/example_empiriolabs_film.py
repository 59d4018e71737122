"""
A 45 s film from a storyboard: three 15 s shots, each extending the video of the shot before.

HappyHorse 1.1 makes at most 15 s per job, so a longer film is a chain of jobs: the first shot
starts from its prompt, and every later one is sent with ``extend_from`` the previous job. The
whole chain is checked and its cost capped before the first shot is sent, each shot is paid once
across retries (a crash between shots reuses the finished ones), and every shot's video is then
copied into durable storage.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_empiriolabs.operators.chain import EmpirioLabsVideoChainOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)

# [START howto_operator_empiriolabs_film_storyboard]
STORYBOARD = [
    {
        "prompt": "Dawn over a misty valley; a lone rider crests the hill on a grey horse, wide shot",
        "duration": 15,
        "seed": 7,
    },
    {
        "prompt": "The rider gallops down into the valley, mist parting around the horse, tracking shot",
        "duration": 15,
    },
    {
        "prompt": "The rider reins in at a river crossing as the sun breaks through, slow push-in",
        "duration": 15,
    },
]
# [END howto_operator_empiriolabs_film_storyboard]


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs"],
    params={"destination": Param("file:///tmp/empiriolabs-films/", type="string")},
    doc_md=__doc__,
)
def example_empiriolabs_film() -> None:
    # [START howto_operator_empiriolabs_video_chain]
    film = EmpirioLabsVideoChainOperator(
        task_id="film",
        shots=STORYBOARD,
        shot_defaults={"resolution": "720p", "aspect_ratio": "16:9"},
        max_cost_usd=6.50,  # 45 s at $0.14/s: $6.30, an extension priced as a generation of its seconds
        deferrable=True,
        poll_interval=10,
        retries=2,
        retry_delay=timedelta(seconds=30),
    )
    # [END howto_operator_empiriolabs_video_chain]

    # [START howto_transfer_empiriolabs_film_shots]
    @task
    def every_shot(summary: dict[str, Any]) -> list[dict[str, Any]]:
        """Each shot's summary (its URLs sealed, as the chain returned them): one copy per shot."""
        return list(summary["links"])

    EmpirioLabsToObjectStorageOperator.partial(
        task_id="store_shot",
        destination="{{ params.destination }}",
    ).expand(output_urls=every_shot(film.output))
    # [END howto_transfer_empiriolabs_film_shots]


example_empiriolabs_film()
