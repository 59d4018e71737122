"""
The Compose operator against the simulator over real HTTP: plan, render and edit on ``dag.test()``
(each job's input the previous one's XCom), bad input and a cost cap refused before any request.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.operators.compose import STORYBOARD_KEY, EmpirioLabsComposeOperator
from tests.dags.compose_test_dags import BRIEF, RECIPE
from tests.support import event_for, make_context, run_dag, xcom

STORYBOARD: dict[str, Any] = {
    "title": "Travel Mug",
    "scenes": [
        {"index": 0, "narration": "Meet the mug", "visual_prompt": "a mug on a desk", "duration_seconds": 4},
        {"index": 1, "narration": "Hot all day", "visual_prompt": "steam at dusk", "duration_seconds": 6},
    ],
}


def _compose(**kwargs: Any) -> EmpirioLabsComposeOperator:
    kwargs.setdefault("task_id", "compose")
    kwargs.setdefault("recipe", RECIPE)
    kwargs.setdefault("poll_interval", 0.05)
    return EmpirioLabsComposeOperator(**kwargs)


# -- end to end -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("dag_id", ["empiriolabs_test_compose", "empiriolabs_test_compose_deferrable"])
def test_plan_render_edit_each_pays_once_and_passes_its_result_on(empiriolabs_connection: Any, dag_id: str) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=2.0, render_seconds_per_video_second=0.5)

    run = run_dag(dag_id)

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert sim.stats()["posts"] == 3  # one job per task
    plan, render, edit = (sim.state.jobs[job_id] for job_id in sim.state.job_order)
    # The plan: its storyboard returned and pushed under its own key, no video.
    planned = xcom(run, "plan")
    assert planned["mode"] == "plan" and planned["status"] == "succeeded"  # the blog's word, read as success
    assert planned["output_urls"] == [] and planned["video_seconds"] is None
    assert len(planned[STORYBOARD_KEY]["scenes"]) == 2
    assert xcom(run, "plan", key=STORYBOARD_KEY) == planned[STORYBOARD_KEY]
    assert plan.prompt == BRIEF
    # The render: the plan's storyboard went in as it came out; an MP4 summary came back, sealed.
    rendered = xcom(run, "render")
    assert rendered["job_id"] == render.job_id
    assert rendered["video_seconds"] == pytest.approx(10.0)  # the storyboard's 2 scenes of 5 s
    assert rendered["output_urls"] and "signature" not in str(rendered["output_urls"])
    assert rendered["sealed_output_urls"]
    assert rendered["cost_usd"] == pytest.approx(0.70)  # the API's own figure, afterwards (2 scenes)
    assert rendered["manifest"]["scenes"]
    # The edit: the render's manifest went in through a template.
    edited = xcom(run, "edit")
    assert edited["job_id"] == edit.job_id and edited["mode"] == "edit"
    assert edited["output_urls"]
    pushed = str([xcom(run, t) for t in ("plan", "render", "edit")] + [xcom(run, "plan", key=STORYBOARD_KEY)])
    assert sim.api_key not in pushed
    assert "signature=" not in pushed  # the output URLs are sealed, not pushed signed


def test_render_output_is_stored_by_the_transfer(empiriolabs_connection: Any, tmp_path: Path) -> None:
    from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
        EmpirioLabsToObjectStorageOperator,
    )

    sim = empiriolabs_connection
    sim.configure(render_base_seconds=1.0, render_seconds_per_video_second=0.1)
    summary = _compose(mode="render", storyboard=STORYBOARD).execute(make_context())

    stored = EmpirioLabsToObjectStorageOperator(
        task_id="store", output_urls=summary, destination=f"file://{tmp_path}/"
    ).execute(make_context())

    assert len(stored) == 1
    [landed] = sorted(tmp_path.rglob("*.mp4"))
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == sim.expected_video_sha256()


def test_a_deferred_plan_resumes_with_its_storyboard_pushed(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=1.0)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        _compose(brief=BRIEF, deferrable=True).execute(context)
    event = event_for(deferred.value.trigger.job_id)

    summary = _compose(brief=BRIEF, deferrable=True).execute_complete(context, event)

    assert summary[STORYBOARD_KEY]["scenes"]
    assert context["ti"].xcoms[STORYBOARD_KEY] == summary[STORYBOARD_KEY]
    assert sim.stats()["posts"] == 1


def test_a_retry_after_the_plan_finished_returns_it_unpaid_with_its_storyboard(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=1.0)
    context = make_context()
    first = _compose(brief=BRIEF).execute(context)
    store = context["task_state_store"]

    again = make_context(**store.values)
    second = _compose(brief=BRIEF).execute(again)

    assert second == first
    assert again["ti"].xcoms[STORYBOARD_KEY] == first[STORYBOARD_KEY]
    assert sim.stats()["posts"] == 1


# -- refused before any request -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"mode": "plan"}, "brief: mode plan needs a brief or a script"),
        ({"mode": "render"}, "storyboard: mode render needs the storyboard"),
        ({"mode": "edit", "manifest": {"scenes": []}}, "edits: mode edit needs at least one"),
        ({"mode": "edit", "edits": [{"scene_index": 0, "instruction": "x"}]}, "manifest: mode edit needs"),
        ({"brief": BRIEF, "product_image": "s3://bucket/mug.jpg"}, "product_image: must be an http(s):// URL"),
        ({"brief": BRIEF, "scene_count": 20}, "scene_count: Input should be less than or equal to 12"),
        ({"brief": BRIEF, "mode": "publish"}, "mode: Input should be 'plan', 'render' or 'edit'"),
        ({"brief": BRIEF, "prompt": "x"}, "unknown argument 'prompt'"),
    ],
)
def test_bad_literal_input_is_refused_when_the_dag_is_parsed(
    empiriolabs_connection: Any, kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises((EmpirioLabsRequestError, TypeError)) as caught:
        _compose(**kwargs)
    assert named in str(caught.value)
    assert "task 'compose'" in str(caught.value) and "test_compose.py" in str(caught.value)  # the task, its file
    assert empiriolabs_connection.stats()["requests_total"] == 0


@pytest.mark.parametrize(
    ("kwargs", "rendered", "named"),
    [
        ({"mode": "render", "storyboard": "{{ params.sb }}"}, {"sb": {"scenes": [{"image_url": "ftp://x/y.png"}]}},
         "storyboard.scenes.0.image_url: must be an http(s):// URL"),
        ({"brief": "{{ params.brief }}", "face_image": "{{ params.face }}"}, {"brief": BRIEF, "face": "/tmp/face.png"},
         "face_image: must be an http(s):// URL"),
        ({"mode": "{{ params.mode }}", "brief": BRIEF}, {"mode": "render"},
         "storyboard: mode render needs the storyboard"),
    ],
)  # fmt: skip
def test_bad_rendered_input_fails_before_any_request_naming_field_and_rule(
    empiriolabs_connection: Any, kwargs: dict[str, Any], rendered: dict[str, Any], named: str
) -> None:
    from airflow.sdk.definitions.context import Context

    operator = _compose(**kwargs)  # templated: accepted at parse time
    context: Any = Context(**make_context(), params=rendered)
    operator.render_template_fields(context)

    with pytest.raises(AirflowFailException) as caught:
        operator.execute(context)

    assert named in str(caught.value)
    assert empiriolabs_connection.stats()["requests_total"] == 0


@pytest.mark.parametrize("mode", ["plan", "render", "edit"])
def test_any_cost_cap_refuses_compose_before_sending_saying_why(empiriolabs_connection: Any, mode: str) -> None:
    fields: dict[str, Any] = {
        "plan": {"brief": BRIEF},
        "render": {"storyboard": STORYBOARD},
        "edit": {"manifest": {"scenes": []}, "edits": [{"scene_index": 0, "instruction": "warmer"}]},
    }[mode]
    with pytest.raises(EmpirioLabsRequestError) as caught:
        _compose(mode=mode, max_cost_usd=100.0, **fields)
    message = str(caught.value)
    assert "max_cost_usd: Compose has no published price" in message
    assert "known only afterwards" in message
    assert empiriolabs_connection.stats()["requests_total"] == 0


def test_a_cost_cap_is_refused_when_the_dag_is_parsed_even_with_every_field_templated(
    empiriolabs_connection: Any,
) -> None:
    with pytest.raises(EmpirioLabsRequestError, match="max_cost_usd: Compose has no published price"):
        _compose(mode="{{ params.mode }}", brief="{{ params.brief }}", recipe="{{ params.recipe }}", max_cost_usd=5.0)
    assert empiriolabs_connection.stats()["requests_total"] == 0


def test_a_templated_mode_and_storyboard_pass_the_parse_time_check() -> None:
    operator = _compose(mode="{{ params.mode }}", storyboard="{{ params.storyboard }}")
    assert operator.mode == "{{ params.mode }}"


@pytest.mark.usefixtures("airflow_db")
def test_the_dag_file_is_named_in_a_parse_time_refusal(empiriolabs_connection: Any) -> None:
    from airflow.sdk import DAG

    with DAG("compose_refused", schedule=None), pytest.raises(EmpirioLabsRequestError) as caught:
        _compose(task_id="render_it", mode="render")
    assert "render_it" in str(caught.value) and "storyboard" in str(caught.value)


def test_the_task_instance_of_a_run_reports_the_recipe(empiriolabs_connection: Any) -> None:
    empiriolabs_connection.configure(render_base_seconds=1.0)
    context = make_context()
    _compose(brief=BRIEF).execute(context)
    request = context["ti"].xcoms["request"]
    assert request["recipe"] == RECIPE and request["mode"] == "plan"
    assert request["estimated_cost_usd"] is None
