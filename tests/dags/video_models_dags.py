"""
Test-only DAGs: one video model family each, every request templated from ``dag_run.conf``.

A run's conf holds the request's arguments (``model``, ``prompt``, ``duration``, ``extra_params``...)
so one DAG per family is run with a good request (tests/reliability/test_video_models.py) and
with a bad one rendered at run time, which must fail before anything is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

IMG = "https://assets.example.com/stills/fox.png"
VID = "https://assets.example.com/clips/fox.mp4"

#: Each family's literal request (checked and priced when the file is parsed), and its cap.
FAMILIES: dict[str, dict[str, Any]] = {
    "happyhorse_1_0": {"model": "happyhorse-1-0", "resolution": "720p", "duration": 4, "max_cost_usd": 0.56},
    "happyhorse_1_0_videoedit": {
        "model": "happyhorse-1-0",
        "mode": "videoedit",
        "images": [IMG],
        "extra_params": {"video": VID},
        "duration": 6,
    },
    "kling_3_0_turbo": {"model": "kling-3-0-turbo", "resolution": "1080p", "duration": 10, "max_cost_usd": 2.25},
    "kling_o3": {
        "model": "kling-o3",
        "prompt": "5s: a fox wakes | 10s: the fox runs through snow",
        "extra_params": {"model_tier": "standard"},
        "max_cost_usd": 3.36,
    },
    "seedance_2_0_fast": {
        "model": "seedance-2-0-fast",
        "resolution": "480p",
        "duration": 7,
        "extra_params": {"custom_duration": True},
        "max_cost_usd": 0.854,
    },
    "wan_2_6": {
        "model": "wan-2-6",
        "mode": "i2v",
        "images": [IMG],
        "resolution": "720p",
        "duration": 10,
        "extra_params": {"flash_mode": True, "audio": True},
        "max_cost_usd": 0.45,
    },
    "pixverse_v5_6": {
        "model": "pixverse-v5-6",
        "resolution": "720p",
        "duration": 8,
        "extra_params": {"audio": True},
        "max_cost_usd": 2.60,
    },
    "svi_2_0_pro": {
        "model": "svi-2-0-pro",
        "resolution": "1280x720",
        "duration": 20,
        "extra_params": {"t2v_quality": "fast"},
        "max_cost_usd": 3.465,
    },
}


def _family(family: str, request: dict[str, Any]) -> None:
    @dag(dag_id=f"video_models_{family}", start_date=datetime(2026, 1, 1), schedule=None, catchup=False, tags=["test"])
    def one_family() -> None:
        EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            **{"prompt": "A red fox trotting through fresh snow", **request},
            poll_interval=0.1,
            timeout=120,
        )

    one_family()


def _rendered(family: str) -> None:
    """The same family with every request argument rendered from the run's conf."""

    @dag(
        dag_id=f"video_models_{family}_rendered",
        start_date=datetime(2026, 1, 1),
        schedule=None,
        catchup=False,
        tags=["test"],
        render_template_as_native_obj=True,
    )
    def rendered() -> None:
        EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt="{{ dag_run.conf.get('prompt', 'A red fox trotting through fresh snow') }}",
            model="{{ dag_run.conf['model'] }}",
            mode="{{ dag_run.conf.get('mode') }}",
            images="{{ dag_run.conf.get('images') }}",
            resolution="{{ dag_run.conf.get('resolution') }}",
            duration="{{ dag_run.conf.get('duration') }}",
            extra_params="{{ dag_run.conf.get('extra_params') }}",
            poll_interval=0.1,
            timeout=120,
        )

    rendered()


for _name, _request in FAMILIES.items():
    _family(_name, _request)
_rendered("any")
