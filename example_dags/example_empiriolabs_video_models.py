"""
Several video models in one DAG, each checked and priced by its model's spec.

Each model's own parameters (``flash_mode``, ``model_tier``, ``audio``, ``t2v_quality``...) go in
``extra_params``; the common ones (``resolution``, ``duration``, ``mode``, ``images``) keep their
names. Every request is checked against its model's spec file when the DAG is parsed, and its
estimate against ``max_cost_usd``: a parameter the model does not take, a value outside its range
or a request over its cap is refused before anything is sent.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

STILL = "https://assets.example.com/stills/red-fox.png"


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["example", "empiriolabs"], doc_md=__doc__)
def example_empiriolabs_video_models() -> None:
    # [START howto_operator_empiriolabs_video_models]
    # Kling 3.0 Turbo: $0.225 per second at 1080p, so 10 s is $2.25.
    EmpirioLabsGenerateVideoOperator(
        task_id="kling_turbo",
        model="kling-3-0-turbo",
        prompt="A red fox trotting through fresh snow at dawn, tracking shot",
        resolution="1080p",
        duration=10,
        max_cost_usd=2.25,
    )
    # Kling O3: a multi-scene prompt is billed for the sum of its scenes (5 s + 10 s at $0.224).
    EmpirioLabsGenerateVideoOperator(
        task_id="kling_o3_scenes",
        model="kling-o3",
        prompt="5s: a fox wakes in its den | 10s: the fox runs across a frozen lake",
        extra_params={"model_tier": "standard", "sound": True},
        max_cost_usd=3.50,
    )
    # Wan 2.6 in flash mode (image to video only), with audio: $0.045 per second at 720p.
    EmpirioLabsGenerateVideoOperator(
        task_id="wan_flash",
        model="wan-2-6",
        prompt="The fox in the still turns its head, then leaps out of frame",
        mode="i2v",
        images=[STILL],
        resolution="720p",
        duration=10,
        extra_params={"flash_mode": True, "audio": True},
        max_cost_usd=0.50,
    )
    # PixVerse v5.6 is priced per clip: 8 s at 720p with audio is $2.60 whatever happens.
    EmpirioLabsGenerateVideoOperator(
        task_id="pixverse_clip",
        model="pixverse-v5-6",
        resolution="720p",
        duration=8,
        prompt="A paper fox unfolding itself on a desk, stop motion",
        extra_params={"audio": True},
        max_cost_usd=2.60,
    )
    # SVI 2.0 Pro: long clips by the second, plus a flat fee for text to video.
    EmpirioLabsGenerateVideoOperator(
        task_id="svi_long_take",
        model="svi-2-0-pro",
        prompt="One unbroken take following a fox through a winter forest",
        resolution="1280x720",
        duration=20,
        extra_params={"t2v_quality": "fast"},
        max_cost_usd=3.50,
    )
    # [END howto_operator_empiriolabs_video_models]


example_empiriolabs_video_models()
