"""
The Compose example DAG end to end on ``dag.test()``: brief -> plan -> a person edits and approves the
storyboard (through Airflow's REST API, as the Required Actions page does) -> render -> stored copy.
"""

from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from tests.example_dags.test_approval import Reviewer, rest_api
from tests.example_dags.test_example_dags import _dag, _xcom

pytestmark = pytest.mark.usefixtures("airflow_db")

__all__ = ["rest_api"]  # the fixture, shared with the approval DAG's test

DAG_ID = "example_empiriolabs_compose"
BRIEF = "A steel water bottle that stays cold for a day, for hikers"
REWORDED = "Cold water at the summit, still."


def _run(client: Any, answers: list[tuple[str, Any]], tmp_path: Path) -> tuple[Any, Reviewer]:
    with Reviewer(client, answers, dag_id=DAG_ID) as reviewer:
        run = _dag(DAG_ID).test(
            run_conf={"brief": BRIEF, "scene_count": 3, "destination": f"file://{tmp_path}/videos/"}
        )
    assert not reviewer.errors, reviewer.errors
    return run, reviewer


def _edited(detail: dict[str, Any]) -> dict[str, Any]:
    """The reviewer's edit: the last scene dropped, the first one's narration reworded."""
    storyboard = copy.deepcopy(detail["params"]["storyboard"]["value"])
    storyboard["scenes"] = storyboard["scenes"][:-1]
    storyboard["scenes"][0]["narration"] = REWORDED
    return {"storyboard": storyboard}


def test_the_storyboard_as_edited_by_the_reviewer_is_rendered_and_stored(
    empiriolabs_connection: Any, rest_api: Any, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=2.0, render_seconds_per_video_second=0.5)

    run, reviewer = _run(rest_api, [("Approve", _edited)], tmp_path)

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert sim.stats()["posts"] == 2  # the plan and the render, each once
    plan_job, render_job = (sim.state.jobs[job_id] for job_id in sim.state.job_order)
    assert plan_job.prompt == BRIEF
    planned = _xcom(run, "plan")["storyboard"]
    assert len(planned["scenes"]) == 3
    # The reviewer read the plan's scenes and no signed URL.
    [seen] = reviewer.seen
    assert seen["subject"] == "Render this storyboard?"
    assert planned["scenes"][0]["narration"] in seen["body"]
    assert "signature" not in seen["body"]
    # What was rendered is the edited storyboard: 2 scenes, the first reworded.
    rendered = _xcom(run, "render")
    assert rendered["video_seconds"] == pytest.approx(10.0)
    assert render_job.duration == pytest.approx(10.0)
    assert _xcom(run, "approved_storyboard")["scenes"][0]["narration"] == REWORDED
    [stored] = sorted((tmp_path / "videos").rglob("*.mp4"))
    assert stored.relative_to(tmp_path / "videos").as_posix() == f"{rendered['job_id']}/0.mp4"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sim.expected_video_sha256()


def test_an_answer_recorded_before_dag_test_has_finished_the_review_task_is_not_lost(
    empiriolabs_connection: Any, rest_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    dag.test() writes the review task's state again once the task has come back (Airflow 3.3's
    ``_run_task``): an answer recorded after the task parked and before that write was overwritten with
    ``awaiting_input``, and the run waited for it forever (CI: the worker killed at the 300 s timeout).
    Here the review task takes 3 s to come back after parking, so a reviewer answering as soon as it can
    would answer in that window every time.
    """
    from airflow.sdk.execution_time import supervisor

    run_task_in_process = supervisor.run_task_in_process

    def slow_to_come_back(*, ti: Any, task: Any) -> Any:
        result = run_task_in_process(ti=ti, task=task)
        if ti.task_id == "review":
            time.sleep(3)
        return result

    monkeypatch.setattr(supervisor, "run_task_in_process", slow_to_come_back)
    empiriolabs_connection.configure(render_base_seconds=2.0, render_seconds_per_video_second=0.5)

    run, reviewer = _run(rest_api, [("Approve", _edited)], tmp_path)

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert [seen["task_id"] for seen in reviewer.seen] == ["review"]  # answered once, and that answer used
    assert _xcom(run, "approved_storyboard")["scenes"][0]["narration"] == REWORDED


def test_a_rejected_storyboard_is_never_rendered(empiriolabs_connection: Any, rest_api: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=2.0)

    run, _ = _run(rest_api, [("Reject", lambda detail: {"storyboard": None})], tmp_path)

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["review"] == "success"
    assert {states[task_id] for task_id in ("approved_storyboard", "render", "store")} == {"skipped"}
    assert sim.stats()["posts"] == 1  # the plan only: nothing paid for the render
    assert not (tmp_path / "videos").exists() or not any((tmp_path / "videos").rglob("*.mp4"))


def test_a_storyboard_edited_into_nonsense_is_refused_before_the_render_is_paid(
    empiriolabs_connection: Any, rest_api: Any, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=2.0)

    def broken(detail: dict[str, Any]) -> dict[str, Any]:
        storyboard = copy.deepcopy(detail["params"]["storyboard"]["value"])
        storyboard["scenes"][0]["image_url"] = "file:///etc/passwd"  # Compose takes http(s) URLs only
        return {"storyboard": storyboard}

    run, _ = _run(rest_api, [("Approve", broken)], tmp_path)

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert states["approved_storyboard"] == "failed"
    assert states["render"] in ("upstream_failed", None)
    assert sim.stats()["posts"] == 1  # the plan only
