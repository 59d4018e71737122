"""
Test-only DAGs for stored-video reuse (``tests/adversarial/test_reuse.py``), run on ``dag.test()``.

Each is re-run under the same logical date, which is what a clear does: the same run, its task
instances cleared, their task state store kept. What changes between runs comes from outside the
DAG (the connection, a Variable naming the image file, the file's bytes), as it would in a
deployment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}
_FAST: dict[str, Any] = {"duration": 3, "poll_interval": 0.05, "timeout": 120}
PROMPT = "A horse galloping along a beach at sunrise"


@dag(dag_id="empiriolabs_test_reuse_account", **_DEFAULTS)
def reuse_account() -> None:
    """One video; the connection's account may change between clears."""
    EmpirioLabsGenerateVideoOperator(task_id="generate", prompt=PROMPT, **_FAST)


@dag(dag_id="empiriolabs_test_reuse_image", **_DEFAULTS)
def reuse_image() -> None:
    """A video from one reference image file, named by the Variable ``reuse_image_path``."""
    EmpirioLabsGenerateVideoOperator(
        task_id="generate", prompt=PROMPT, mode="i2v", images="{{ var.value.reuse_image_path }}", **_FAST
    )


@dag(dag_id="empiriolabs_test_reuse_mapped", **_DEFAULTS)
def reuse_mapped() -> None:
    """Three mapped instances asking for the very same video, operator and decorator alike."""
    EmpirioLabsGenerateVideoOperator.partial(task_id="generate", **_FAST).expand(prompt=[PROMPT, PROMPT, PROMPT])

    @task.empiriolabs_video(**_FAST)
    def written(prompt: str) -> str:
        return prompt

    written.expand(prompt=[PROMPT, PROMPT, PROMPT])


reuse_account()
reuse_image()
reuse_mapped()
