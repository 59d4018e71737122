"""
Every video model family on real Airflow (``dag.test()``) against the simulator over real HTTP.

A good request of each family reaches the simulator, which checks it by the same spec and accepts
it, and the task's summary costs what the spec estimated (typed here by hand from the model
page). A bad one, rendered only at run time, fails the task before any request. The operator's
``validation`` argument (strict, warn, off) is checked where the DAG is parsed and applied both
there and at run time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.dags.video_models_dags import FAMILIES, IMG, VID
from tests.support import make_context, run_dag, task_instance, xcom

#: What each family's request costs, from its model page (the DAG file's request, by hand).
PAGE_PRICE: dict[str, float] = {
    "happyhorse_1_0": 4 * 0.14,  # 720p $0.14/s
    "kling_3_0_turbo": 10 * 0.225,  # 1080p $0.225/s
    "kling_o3": (5 + 10) * 0.224,  # Standard T2V/I2V Sound, the sum of the scenes' seconds
    "seedance_2_0_fast": 7 * 0.122,  # T2V/I2V 480P
    "wan_2_6": 10 * 0.045,  # Flash 720P (audio)
    "pixverse_v5_6": 2.60,  # 720p 8 s audio, per clip
    "svi_2_0_pro": 20 * 0.17 + 0.065,  # 720p Video per second + T2V Fast fee
}


def _fast(sim: Any) -> None:
    sim.configure(render_base_seconds=1, render_seconds_per_video_second=0.05)


pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.mark.parametrize("family", list(PAGE_PRICE))
def test_each_family_is_sent_accepted_and_costs_its_estimate(family: str, empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    _fast(sim)
    run = run_dag(f"video_models_{family}")

    assert run.state == "success", task_instance(run, "generate").state
    assert sim.stats()["posts"] == 1
    (job,) = sim.state.jobs.values()
    assert job.model == FAMILIES[family]["model"]
    summary = xcom(run, "generate")
    assert summary["status"] == "completed"
    assert summary["cost_usd"] == pytest.approx(PAGE_PRICE[family])  # what the simulator billed ...
    estimate = EmpirioLabsGenerateVideoOperator(
        task_id="t", **{"prompt": "A red fox", **FAMILIES[family]}
    ).request.estimated_cost_usd()
    assert estimate == pytest.approx(PAGE_PRICE[family])  # ... is what the operator estimated


def test_a_videoedit_sends_its_video_and_is_billed_by_it(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    _fast(sim)
    run = run_dag("video_models_happyhorse_1_0_videoedit")

    assert run.state == "success"
    assert sim.stats()["posts"] == 1
    summary = xcom(run, "generate")
    # Not priced before sending (billed by the input video's length); the simulator's video is 6 s long.
    assert summary["cost_usd"] == pytest.approx(6 * 0.24)
    request = xcom(run, "generate", key="request")
    assert request is not None


#: (conf rendered at run time, field, words of the rule): one bad request per family.
BAD_RENDERED: list[tuple[dict[str, Any], str, str]] = [
    ({"model": "happyhorse-1-0", "mode": "videoedit", "images": [IMG]}, "video", "Required for videoedit"),
    ({"model": "kling-3-0-turbo", "duration": 16}, "duration", "3 to 15"),
    ({"model": "kling-o3", "prompt": "a|b|c|d|e|f|g"}, "prompt", "at most 6 scenes"),
    (
        {"model": "seedance-2-0-fast", "duration": 5, "extra_params": {"custom_duration": False}},
        "duration",
        "only used when custom_duration=true",
    ),
    (
        {"model": "wan-2-6", "mode": "t2v", "extra_params": {"flash_mode": True}},
        "extra_params.flash_mode",
        "i2v and r2v only",
    ),
    ({"model": "pixverse-v5-6", "resolution": "1080p", "duration": 10}, "resolution", "no price row"),
    ({"model": "svi-2-0-pro", "extra_params": {"cfg": 3}}, "extra_params.cfg", "1 to 2"),
    ({"model": "happyhorse-1-0", "extra_params": {"video": VID}, "mode": "r2v"}, "images", "Required for i2v"),
]


@pytest.mark.parametrize(
    ("conf", "field", "rule"), BAD_RENDERED, ids=[c["model"] + "-" + f for c, f, _ in BAD_RENDERED]
)
def test_a_bad_request_rendered_at_run_time_fails_before_any_request(
    conf: dict[str, Any], field: str, rule: str, empiriolabs_connection: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = empiriolabs_connection
    run = run_dag("video_models_any_rendered", **conf)

    assert run.state == "failed"
    assert task_instance(run, "generate").try_number == 1  # no retry can fix it
    stats = sim.stats()
    assert (stats["requests_total"], stats["posts"]) == (0, 0)
    out = capsys.readouterr()
    said = next(line for line in (out.out + out.err).splitlines() if "AirflowFailException: task" in line)
    assert "video_models_any_rendered" in said  # the DAG and its file are named ...
    assert f"{field}: " in said and rule in said, said  # ... with the field and its rule


# -- validation: strict, warn, off ----------------------------------------------------------------

_UNLISTED = {"fps": 30, "camera": "dolly"}  # two parameters the kling-3-0-turbo spec does not list


@pytest.mark.parametrize("value", ["lenient", "", "STRICT", None, 1, True])
def test_an_unknown_validation_is_refused_when_built_naming_the_allowed_ones(value: Any) -> None:
    with pytest.raises(ValueError, match=r"validation: must be one of 'strict', 'warn', 'off'") as caught:
        EmpirioLabsGenerateVideoOperator(task_id="generate", prompt="a fox", validation=value)
    assert "'generate'" in str(caught.value)  # the task is named


def test_the_decorator_takes_validation_and_refuses_an_unknown_one() -> None:
    from airflow.sdk import DAG, task

    with (
        pytest.raises(ValueError, match="validation: must be one of"),
        DAG("v", schedule=None, start_date=datetime(2026, 1, 1)),
    ):

        @task.empiriolabs_video(validation="loose")
        def clip() -> str:
            return "a fox"

        clip()
    with DAG("v2", schedule=None, start_date=datetime(2026, 1, 1)):

        @task.empiriolabs_video(model="kling-3-0-turbo", extra_params=_UNLISTED, validation="warn")
        def clip2() -> str:
            return "a fox"

        clip2()


def test_strict_refuses_at_parse_time_what_warn_and_off_let_through() -> None:
    kwargs: dict[str, Any] = {"task_id": "g", "prompt": "a fox", "model": "kling-3-0-turbo", "extra_params": _UNLISTED}
    with pytest.raises(ValueError, match=r"extra_params\.camera: kling-3-0-turbo takes no such parameter"):
        EmpirioLabsGenerateVideoOperator(**kwargs)
    with pytest.raises(ValueError, match=r"extra_params\.camera"):
        EmpirioLabsGenerateVideoOperator(**kwargs, validation="strict")
    EmpirioLabsGenerateVideoOperator(**kwargs, validation="warn")
    EmpirioLabsGenerateVideoOperator(**kwargs, validation="off")
    # warn and off still refuse what is not the spec's to judge (a cap the spec prices above)
    with pytest.raises(ValueError, match="max_cost_usd"):
        EmpirioLabsGenerateVideoOperator(**kwargs, validation="off", duration=10, max_cost_usd=1.0)


@pytest.mark.parametrize(("validation", "warnings"), [("warn", 2), ("off", 0)])
def test_warn_logs_each_problem_once_and_sends(
    validation: str, warnings: int, empiriolabs_connection: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    sim = empiriolabs_connection
    sim.configure(strict_parameters=False)  # a world whose model takes them
    _fast(sim)
    op = EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt="a fox",
        model="kling-3-0-turbo",
        duration=3,
        extra_params=_UNLISTED,
        validation=validation,
        poll_interval=0.1,
    )
    summary = op.execute(make_context())

    lines = "".join(capfd.readouterr()).splitlines()
    said = [line for line in lines if "validation='warn'" in line]
    assert len(said) == warnings, said
    if warnings:
        assert all("warning" in line for line in said)
        assert "extra_params.fps: kling-3-0-turbo takes no such parameter" in said[0]
        assert "extra_params.camera: " in said[1]
        sending = next(i for i, line in enumerate(lines) if "Sending kling-3-0-turbo" in line)
        assert lines.index(said[-1]) < sending  # said before anything is sent
    assert sim.stats()["posts"] == 1
    assert summary["cost_usd"] == pytest.approx(3 * 0.18)


def test_strict_at_run_time_refuses_a_rendered_problem_that_warn_sends(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(strict_parameters=False)
    _fast(sim)
    for validation, posts in (("strict", 0), ("warn", 1)):
        op = EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt="a fox",
            model="kling-3-0-turbo",
            duration=3,
            extra_params="{{ params.extra }}",
            validation=validation,
            poll_interval=0.1,
        )
        op.extra_params = {"fps": 30}  # what rendering left
        if validation == "strict":
            with pytest.raises(Exception, match=r"extra_params\.fps"):
                op.execute(make_context())
        else:
            op.execute(make_context())
        assert sim.stats()["posts"] == posts
