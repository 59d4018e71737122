"""
``@task.empiriolabs_video`` on real Airflow: registered through the provider info, validated when
the DAG is parsed, run on ``dag.test()`` against the simulator over real HTTP.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.support import task_instance, xcom

DAGS = REPO / "tests" / "decorators" / "dags"


def _run(dag_id: str, **run_conf: Any) -> Any:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.get_dag(dag_id).test(run_conf=run_conf or None)


def _prompts(sim: Any) -> list[str]:
    return [job.prompt for job in sim.state.jobs.values()]


def test_task_empiriolabs_video_is_the_providers_decorator() -> None:
    from airflow.sdk import task

    from airflow_provider_empiriolabs.decorators.empiriolabs import empiriolabs_video_task

    assert task.empiriolabs_video is empiriolabs_video_task


def _dag_with(**decorator_kwargs: Any) -> Any:
    from airflow.sdk import DAG, task

    with DAG("parse_time_check", schedule=None, start_date=datetime(2026, 1, 1)) as dag:

        @task.empiriolabs_video(**decorator_kwargs)
        def make_clip() -> str:
            return "a horse"

        make_clip()
    return dag


def test_the_decorators_arguments_are_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="resolution") as caught:
        _dag_with(resolution="4k")
    assert "1080p" in str(caught.value)  # the allowed values are named
    with pytest.raises(ValueError, match="max_cost_usd"):
        _dag_with(duration=15, resolution="1080p", max_cost_usd=0.10)


def test_a_valid_decorated_task_is_the_operator_with_the_functions_name() -> None:
    from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

    dag = _dag_with(resolution="1080p", duration=4)
    task = dag.get_task("make_clip")
    assert isinstance(task, EmpirioLabsGenerateVideoOperator)
    assert task.resolution == "1080p"
    assert task.task_type == "_EmpirioLabsVideoDecoratedOperator"
    assert task.multiple_outputs is False


@pytest.mark.usefixtures("airflow_db")
def test_the_example_dag_sends_the_functions_prompt_and_stores_the_video(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    from tests.example_dags.test_example_dags import _run as run_example

    sim = empiriolabs_connection
    run = run_example("example_empiriolabs_taskflow", destination=f"file://{tmp_path}/", subject="a grey pony")

    assert sim.stats()["posts"] == 1
    assert _prompts(sim) == ["a grey pony galloping along a misty beach at sunrise, slow motion, cinematic"]
    summary = xcom(run, "generate_video")
    assert summary["status"] == "completed"
    assert summary["cost_usd"] == pytest.approx(0.70)  # 5 s at 720p, the decorator's arguments
    assert xcom(run, "generate_video", key="job_id") == summary["job_id"]
    assert xcom(run, "generate_video", key="job_url").endswith(summary["job_id"])
    landed = sorted(tmp_path.rglob("*.mp4"))
    assert len(landed) == 1
    assert hashlib.sha256(landed[0].read_bytes()).hexdigest() == sim.expected_video_sha256()


@pytest.mark.usefixtures("airflow_db")
def test_a_retry_reattaches_to_the_paid_job_though_the_function_returns_another_prompt(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    sim.configure(fail_next_requests=[{"match": "poll", "status": 500, "count": 1}])
    calls = tmp_path / "calls"

    run = _run("empiriolabs_taskflow_test_retry_worker", calls_file=str(calls))

    ti = task_instance(run, "generate")
    assert run.state == "success", ti.state
    assert ti.try_number == 2
    stats = sim.stats()
    assert stats["responses_by_status"].get("500") == 1  # try 1 did fail after the POST
    assert stats["posts"] == stats["jobs_created"] == 1
    assert len(_prompts(sim)) == 1
    # Called once per try (the deferred case's resume is the next test).
    assert calls.read_text().splitlines() == ["called", "called"]
    summary = xcom(run, "generate")
    assert summary["status"] == "completed"
    assert summary["job_id"] == xcom(run, "generate", key="job_id")


@pytest.mark.usefixtures("airflow_db")
def test_a_deferred_task_resumes_without_calling_the_function_again(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    run = _run("empiriolabs_taskflow_test_retry", calls_file=str(calls))

    assert run.state == "success"
    assert task_instance(run, "generate").try_number == 1
    assert calls.read_text().splitlines() == ["called"]
    assert empiriolabs_connection.stats()["posts"] == 1


@pytest.mark.usefixtures("airflow_db")
def test_a_dict_of_request_fields_overrides_the_decorators_arguments(empiriolabs_connection: Any) -> None:
    run = _run("empiriolabs_taskflow_test_returns", returned={"prompt": "a foal asleep", "resolution": "1080p"})

    assert run.state == "success"
    assert _prompts(empiriolabs_connection) == ["a foal asleep"]
    assert xcom(run, "generate")["cost_usd"] == pytest.approx(0.54)  # 3 s at 1080p, not 720p


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    "returned",
    [None, "", ["a horse"], {"seed": 3}, {"prompt": "a horse", "colour": "bay"}, {"prompt": "a horse", "seed": -1}],
    ids=["none", "empty", "list", "no-prompt", "unknown-field", "bad-seed"],
)
def test_a_wrong_return_value_fails_the_task_before_anything_is_sent(
    empiriolabs_connection: Any, returned: Any
) -> None:
    run = _run("empiriolabs_taskflow_test_returns", returned=returned)

    assert run.state == "failed"
    ti = task_instance(run, "generate")
    assert ti.state == "failed"
    assert ti.try_number == 1  # not retried: the same function returns the same thing
    assert empiriolabs_connection.stats()["posts"] == 0
