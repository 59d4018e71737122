"""
EmpirioLabsGenerateVideoOperator: validation at parse and run time, the cost cap, submitting and
deferring, every outcome of ``execute_complete``, and never paying twice across tries.

Everything talks to the simulator over real HTTP; the end-to-end tests run test DAGs of
``tests/dags/`` on ``dag.test()``, which in 3.3 runs retries too (a failed try with retries left
goes ``up_for_retry`` and the loop schedules it again) and gives tasks the real task state store.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from structlog.testing import capture_logs

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRateLimitError, EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.operators._job_record import JobRecord
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from tests.support import (
    DictStateStore,
    RecordingTI,
    event_for,
    make_context,
    run_dag,
    submit_job,
    task_instance,
    wait_until_terminal,
    xcom,
)
from tests.support import make_operator as _operator

PROMPT = "A horse galloping along a beach at sunrise"
IMAGE = "https://assets.example.com/stills/horse.png"
STORE_KEY = EmpirioLabsGenerateVideoOperator.external_id_key


def _record(context: Any) -> JobRecord:
    record = JobRecord.load(context["task_state_store"].values.get(STORE_KEY))
    assert record is not None
    return record


def _posts(sim: Any) -> int:
    return int(sim.stats()["posts"])


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"duration": 2}, "duration"),
        ({"duration": 16}, "duration"),
        ({"seed": -1}, "seed"),
        ({"seed": 2147483648}, "seed"),
        ({"aspect_ratio": "21:9"}, "aspect_ratio"),
        ({"resolution": "4k"}, "resolution"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 2501}, "prompt"),
        ({"mode": "i2v"}, "images"),
        ({"mode": "t2v", "images": [IMAGE]}, "images"),
        ({"mode": "r2v", "images": [IMAGE] * 10}, "images"),
        ({"mode": "r2v", "images": [IMAGE], "prompt": "character2 waves"}, "prompt"),
        ({"mode": "i2v", "images": ["not-a-url"]}, "images"),
        ({"mode": "warp"}, "mode"),
    ],
)
def test_a_wrong_literal_argument_is_refused_when_the_operator_is_built(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(EmpirioLabsRequestError) as caught:
        _operator(**kwargs)
    assert f"{field}:" in str(caught.value) or f"{field}." in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"poll_interval": 0}, "poll_interval"), ({"timeout": 0}, "timeout"), ({"max_cost_usd": -1}, "max_cost_usd")],
)
def test_wrong_waiting_arguments_are_refused_when_the_operator_is_built(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _operator(**kwargs)


def test_templated_arguments_are_not_checked_when_the_operator_is_built() -> None:
    with DAG("templated_parse_check", schedule=None, start_date=datetime(2026, 1, 1)):

        @task
        def images() -> list[str]:
            return [IMAGE]

        # Each value below would be refused as a literal; as a template it is only known at run time.
        _operator(task_id="jinja", prompt="{{ dag_run.conf['prompt'] }}", seed="{{ dag_run.conf['seed'] }}")
        _operator(task_id="xcom_images", mode="i2v", images=images())
        _operator(task_id="jinja_images", mode="r2v", images="{{ dag_run.conf['images'] }}", prompt="character9 rides")
        _operator(task_id="jinja_mode", mode="{{ dag_run.conf['mode'] }}", images=[IMAGE])
        _operator(task_id="jinja_model", model="{{ dag_run.conf['model'] }}", watermark=True)
        _operator(task_id="jinja_extra", extra_params="{{ dag_run.conf['extra'] }}")


def test_templated_arguments_still_leave_the_literal_ones_checked() -> None:
    with pytest.raises(EmpirioLabsRequestError, match="duration"):
        _operator(prompt="{{ dag_run.conf['prompt'] }}", duration=30)


def test_a_templated_mode_does_not_refuse_what_the_rendered_mode_may_allow() -> None:
    # One image with an aspect ratio is a valid r2v request; only i2v (which auto-mode would infer)
    # refuses the aspect ratio. The mode is only known after rendering, so parsing must accept it.
    _operator(mode="{{ dag_run.conf['mode'] }}", images=[IMAGE], aspect_ratio="9:16")


def test_jinja_in_any_request_argument_is_rendered_not_refused_when_built() -> None:
    # Every request field is templated (issue 17 item 4): "{{ ... }}" in aspect_ratio (once a literal
    # refused as it would have been sent unrendered) is rendered, and checked after rendering.
    assert set(VideoRequest.model_fields) <= set(EmpirioLabsGenerateVideoOperator.template_fields)
    op = _operator(aspect_ratio="{{ dag_run.conf['aspect_ratio'] }}")
    op.aspect_ratio = "21:9"  # as rendered
    with pytest.raises(AirflowFailException, match="aspect_ratio: must be one of"):
        _ = op.request


@pytest.mark.parametrize(
    ("rendered", "field"),
    [
        ({"seed": "-1"}, "seed"),
        ({"prompt": ""}, "prompt"),
        ({"images": [IMAGE] * 2, "mode": "i2v"}, "images"),
        ({"mode": "warp"}, "mode"),
    ],
)
def test_rendered_values_are_checked_before_anything_is_sent(
    empiriolabs_connection: Any, rendered: dict[str, Any], field: str
) -> None:
    sim = empiriolabs_connection
    op = _operator(
        prompt="{{ dag_run.conf['prompt'] }}",
        seed="{{ dag_run.conf['seed'] }}",
        mode="{{ dag_run.conf['mode'] }}",
        images="{{ dag_run.conf['images'] }}",
    )
    # What rendering leaves on the operator: valid values except the one under test.
    op.prompt, op.seed, op.mode, op.images = PROMPT, "7", "t2v", None
    for name, value in rendered.items():
        setattr(op, name, value)
    context = make_context()

    with pytest.raises(AirflowFailException, match=field):
        op.execute(context)
    assert _posts(sim) == 0
    assert context["ti"].xcoms == {}
    assert context["task_state_store"].values == {}


def test_a_rendered_seed_string_is_accepted(empiriolabs_connection: Any) -> None:
    op = _operator(seed="{{ dag_run.conf['seed'] }}", wait_for_completion=False)
    op.seed = "42"  # Jinja renders to text
    assert op.execute(make_context()).startswith("job_")
    assert _posts(empiriolabs_connection) == 1


def test_an_estimate_over_max_cost_is_refused_when_the_dag_is_parsed(empiriolabs_connection: Any) -> None:
    with pytest.raises(EmpirioLabsRequestError, match=r"max_cost_usd.*\$2\.70.*\$1\.00"):
        _operator(duration=15, resolution="1080p", max_cost_usd=1.00)
    assert _posts(empiriolabs_connection) == 0


def test_a_rendered_model_over_max_cost_is_refused_before_sending(empiriolabs_connection: Any) -> None:
    op = _operator(model="{{ params.model }}", duration=15, resolution="1080p", max_cost_usd=1.00)
    op.model = "happyhorse-1-1"  # as rendered

    with pytest.raises(AirflowFailException, match=r"max_cost_usd.*\$2\.70.*\$1\.00"):
        op.execute(make_context())
    assert _posts(empiriolabs_connection) == 0


def test_a_model_without_a_price_is_refused_under_a_cost_cap(empiriolabs_connection: Any) -> None:
    with pytest.raises(EmpirioLabsRequestError, match=r"max_cost_usd.*unknown"):
        _operator(model="some-other-video-model", duration=5, max_cost_usd=100)
    assert _posts(empiriolabs_connection) == 0


def test_an_estimate_at_the_cap_is_sent(empiriolabs_connection: Any) -> None:
    op = _operator(duration=3, max_cost_usd=0.42, wait_for_completion=False)  # 3 s at 720p = $0.42
    assert op.execute(make_context()).startswith("job_")
    assert _posts(empiriolabs_connection) == 1


# -- submitting and deferring -------------------------------------------------------------------


def test_deferrable_execute_defers_to_the_job_trigger_with_an_absolute_deadline(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    op = _operator(deferrable=True, poll_interval=2.5, timeout=timedelta(minutes=20), hook_params={"timeout": 12})
    context = make_context()

    before = time.time()
    with pytest.raises(TaskDeferred) as caught:
        op.execute(context)
    after = time.time()

    deferred = caught.value
    trigger = deferred.trigger
    assert isinstance(trigger, EmpirioLabsJobTrigger)
    job_id = context["ti"].xcoms["job_id"]
    assert trigger.job_id == job_id
    assert trigger.empiriolabs_conn_id == "empiriolabs_default"
    assert trigger.poll_interval == 2.5
    assert trigger.hook_params == {"timeout": 12}
    assert trigger.end_time is not None
    assert before + 1200 <= trigger.end_time <= after + 1200
    assert deferred.timeout is None
    assert deferred.method_name == "execute_complete"
    # Pushed and stored before deferring, so the link works and a retry reattaches.
    assert context["ti"].pushes == ["job_id", "job_url", "request"]
    assert context["ti"].xcoms["job_url"] == f"{sim.url}/v1/jobs/{job_id}"
    assert context["ti"].xcoms["request"]["empiriolabs_conn_id"] == "empiriolabs_default"  # for the UI view
    assert (_record(context).state, _record(context).job_id) == ("accepted", job_id)
    assert _posts(sim) == 1


def test_a_custom_conn_id_is_carried_by_the_trigger(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MY_STUDIO", empiriolabs_connection.connection_json())
    op = _operator(deferrable=True, empiriolabs_conn_id="my_studio")

    with pytest.raises(TaskDeferred) as caught:
        op.execute(make_context())
    assert caught.value.trigger.empiriolabs_conn_id == "my_studio"


def test_a_cleared_task_with_the_same_request_gets_its_job_back_and_a_changed_one_pays_anew(
    empiriolabs_connection: Any,
) -> None:
    sim = empiriolabs_connection
    store = DictStateStore()
    clears = 0

    def run_after_a_clear(**kwargs: Any) -> Any:
        nonlocal clears
        ti = RecordingTI()
        ti.max_tries = clears  # Airflow raises max_tries on each clear: a new generation of tries
        clears += 1
        return _operator(**kwargs).execute({"ti": ti, "task_state_store": store})

    first = run_after_a_clear()
    assert run_after_a_clear() == first  # cleared, same request: the stored video, unpaid
    assert _posts(sim) == 1
    changed = run_after_a_clear(seed=7)  # a new seed is a new video
    assert changed["job_id"] != first["job_id"]
    assert _posts(sim) == 2
    again = run_after_a_clear(seed=7, regenerate=True)  # asked for a new one explicitly
    assert again["job_id"] != changed["job_id"]
    assert _posts(sim) == 3


@pytest.mark.parametrize("kwargs", [{"seed": 8}, {"regenerate": True}])
def test_a_retry_never_pays_again_even_if_its_request_renders_differently_or_regenerate_is_set(
    empiriolabs_connection: Any, kwargs: dict[str, Any]
) -> None:
    sim = empiriolabs_connection
    store = DictStateStore()

    def a_try(**fields: Any) -> Any:
        ti = RecordingTI()
        ti.max_tries = 2  # tries 1 to 3 of one generation (retries=2, never cleared)
        return _operator(retries=2, **fields).execute({"ti": ti, "task_state_store": store})

    first = a_try(wait_for_completion=False)  # try 1: accepted, then (say) its worker died
    second = a_try(**kwargs)  # try 2: a template rendered another seed, or regenerate=True is set

    assert second["job_id"] == first
    assert _posts(sim) == 1
    assert a_try(**kwargs)["job_id"] == first  # try 3, after the record says "done"
    assert _posts(sim) == 1


def test_other_image_files_are_another_request(empiriolabs_connection: Any, tmp_path: Any) -> None:
    sim = empiriolabs_connection
    store = DictStateStore()
    cat, dog = tmp_path / "cat.png", tmp_path / "dog.png"
    for path in (cat, dog):
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + path.name.encode() * 8)

    def run_after_a_clear(image: Any, clears: int) -> Any:
        ti = RecordingTI()
        ti.max_tries = clears
        return _operator(images=[str(image)], mode="i2v").execute({"ti": ti, "task_state_store": store})

    first = run_after_a_clear(cat, 0)
    second = run_after_a_clear(dog, 1)

    assert second["job_id"] != first["job_id"]
    assert _posts(sim) == 2


def test_without_waiting_the_job_id_is_returned_and_never_polled(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    context = make_context()

    job_id = _operator(wait_for_completion=False, deferrable=True).execute(context)

    assert job_id.startswith("job_")
    assert context["ti"].xcoms["job_id"] == job_id
    # Kept after success: a cleared, re-run task with the same request gets this job back.
    assert _record(context).job_id == job_id
    stats = sim.stats()
    assert stats["posts"] == 1
    assert stats["gets_per_job"].get(job_id, 0) == 0


def test_waiting_in_the_worker_returns_the_summary(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    context = make_context()

    summary = _operator(deferrable=False, duration=4, resolution="1080p").execute(context)

    assert summary["job_id"] == context["ti"].xcoms["job_id"]
    assert summary["status"] == "completed"
    assert summary["video_seconds"] == 4
    assert summary["cost_usd"] == pytest.approx(0.72)
    assert len(summary["output_urls"]) == 1
    assert summary["output_urls"][0].startswith(f"{sim.url}/v1/outputs/")
    assert _posts(sim) == 1


def test_waiting_in_the_worker_fails_for_good_on_a_content_policy_failure(empiriolabs_connection: Any) -> None:
    op = _operator(deferrable=False, prompt="A horse SIMULATE_CONTENT_POLICY")

    with pytest.raises(AirflowFailException, match="content_policy_violation"):
        op.execute(make_context())
    assert _posts(empiriolabs_connection) == 1


def test_waiting_in_the_worker_times_out_naming_the_job(empiriolabs_connection: Any) -> None:
    op = _operator(deferrable=False, duration=15, resolution="1080p", timeout=0.3)
    context = make_context()

    with pytest.raises(AirflowException, match="timed out") as caught:
        op.execute(context)
    assert context["ti"].xcoms["job_id"] in str(caught.value)
    assert not isinstance(caught.value, AirflowFailException)  # a retry reattaches to the same job


def test_insufficient_credits_fail_at_once_without_retries(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(credit_balance_usd=0.10)
    context = make_context()

    with pytest.raises(AirflowFailException, match=r"(?i)insufficient"):
        _operator(deferrable=True).execute(context)
    stats = sim.stats()
    assert stats["posts"] == 1  # the 402 is not retried
    assert stats["jobs_created"] == 0
    assert _record(context).state == "not_sent"  # refused: a later try may send it


def test_on_kill_names_the_job(empiriolabs_connection: Any) -> None:
    op = _operator(deferrable=True)
    context = make_context()
    with pytest.raises(TaskDeferred):
        op.execute(context)

    with capture_logs() as logs:
        op.on_kill()
    assert any(context["ti"].xcoms["job_id"] in entry["event"] for entry in logs), logs


# -- execute_complete ---------------------------------------------------------------------------


def test_execute_complete_returns_the_summary_of_a_finished_job(empiriolabs_connection: Any) -> None:
    op = _operator(duration=3)
    job_id = submit_job(duration=3)

    summary = op.execute_complete(make_context(), event_for(job_id))

    assert summary["job_id"] == job_id
    assert summary["status"] == "completed"
    assert summary["video_seconds"] == 3
    assert summary["cost_usd"] == pytest.approx(0.42)
    assert summary["output_urls"] and all(url.startswith(empiriolabs_connection.url) for url in summary["output_urls"])


def test_execute_complete_fails_for_good_on_a_content_policy_failure(empiriolabs_connection: Any) -> None:
    job_id = submit_job(prompt="A horse SIMULATE_CONTENT_POLICY")
    event = event_for(job_id)
    assert event["status"] == "failed"

    with pytest.raises(AirflowFailException, match="content_policy_violation") as caught:
        _operator().execute_complete(make_context(), event)
    assert job_id in str(caught.value)


def test_execute_complete_leaves_a_transient_unbilled_failure_to_retries(empiriolabs_connection: Any) -> None:
    job_id = submit_job(prompt="A horse SIMULATE_MODEL_UNAVAILABLE")
    event = event_for(job_id)
    assert event["job"]["error"]["billed"] is False

    with pytest.raises(AirflowException, match="model_unavailable") as caught:
        _operator().execute_complete(make_context(), event)
    assert not isinstance(caught.value, AirflowFailException)


def test_execute_complete_fails_for_good_on_a_billed_service_failure(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(failing_prompts={"SIMULATE_BILLED": {"code": "model_unavailable", "message": "gone", "billed": True}})
    job_id = submit_job(prompt="A horse SIMULATE_BILLED")

    with pytest.raises(AirflowFailException, match="model_unavailable"):
        _operator().execute_complete(make_context(), event_for(job_id))


def test_execute_complete_raises_on_a_timeout_naming_the_job(empiriolabs_connection: Any) -> None:
    job_id = submit_job()
    event = event_for(job_id, end_time=time.time() - 1)
    assert event["status"] == "timeout"

    with pytest.raises(AirflowException, match=job_id):
        _operator().execute_complete(make_context(), event)


def test_execute_complete_raises_on_an_error_event(empiriolabs_connection: Any) -> None:
    event = event_for("job_does_not_exist")
    assert event["status"] == "error"

    with pytest.raises(AirflowException, match="job_does_not_exist"):
        _operator().execute_complete(make_context(), event)


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        "success",
        {"status": "done", "job_id": "job_1"},
        {"status": "success", "job_id": "job_1", "message": "", "job": None},
        {"status": "success", "job_id": "job_1", "message": "", "job": "job_1"},
        {"status": "success", "job_id": "job_1", "message": "", "job": {"job_id": "job_1"}},
        {
            "status": "success",
            "job_id": "job_1",
            "message": "",
            "job": {"job_id": "job_1", "status": "running", "raw_status": "processing"},
        },
    ],
    ids=["none", "empty", "not-a-dict", "unknown-status", "no-job", "job-not-an-object", "job-incomplete", "not-done"],
)
def test_execute_complete_refuses_a_malformed_event(event: Any) -> None:
    with pytest.raises(AirflowException):
        _operator().execute_complete(make_context(), event)


# -- reattaching to the job of an earlier try (the task state store) ---------------------------


def test_a_retry_whose_job_already_succeeded_returns_it_without_waiting(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    wait_until_terminal(job_id)
    gets_before = sim.stats()["gets_per_job"][job_id]
    context = make_context(**{STORE_KEY: job_id})

    summary = _operator(deferrable=True).execute(context)  # no TaskDeferred: nothing to wait for

    assert summary["job_id"] == job_id
    assert summary["status"] == "completed"
    assert context["ti"].xcoms["job_id"] == job_id
    stats = sim.stats()
    assert stats["posts"] == 1  # the earlier try's only
    assert stats["gets_per_job"][job_id] - gets_before <= 2


def test_a_retry_whose_job_is_running_reattaches_and_defers_on_it(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job(duration=15, resolution="1080p")
    context = make_context(**{STORE_KEY: job_id})

    with pytest.raises(TaskDeferred) as caught:
        _operator(deferrable=True).execute(context)

    assert caught.value.trigger.job_id == job_id
    assert context["ti"].xcoms["job_id"] == job_id
    assert _posts(sim) == 1


def test_a_retry_whose_job_is_running_waits_for_it_in_the_worker(empiriolabs_connection: Any) -> None:
    job_id = submit_job()
    summary = _operator(deferrable=False).execute(make_context(**{STORE_KEY: job_id}))

    assert summary["job_id"] == job_id
    assert _posts(empiriolabs_connection) == 1


def test_a_retry_whose_job_failed_for_content_policy_fails_without_a_new_job(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job(prompt="A horse SIMULATE_CONTENT_POLICY")
    assert wait_until_terminal(job_id).status.value == "failed"

    with pytest.raises(AirflowFailException, match="content_policy_violation"):
        _operator(prompt="A horse SIMULATE_CONTENT_POLICY").execute(make_context(**{STORE_KEY: job_id}))
    assert _posts(sim) == 1


def test_a_retry_whose_job_is_gone_fails_without_a_new_job(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job()
    wait_until_terminal(job_id)
    sim.expire_job(job_id)

    with pytest.raises(AirflowFailException, match=job_id):
        _operator(deferrable=True).execute(make_context(**{STORE_KEY: job_id}))
    assert _posts(sim) == 1


def test_a_retry_whose_job_failed_transiently_submits_a_new_one(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    old = submit_job(prompt="A horse SIMULATE_MODEL_UNAVAILABLE")
    wait_until_terminal(old)
    context = make_context(**{STORE_KEY: old})

    new = _operator(wait_for_completion=False).execute(context)

    assert new != old
    assert _record(context).job_id == new  # a retry reattaches to the new job
    assert _posts(sim) == 2


# -- end to end: a try that fails after its POST was accepted, then its retry ------------------

pytestmark_e2e = pytest.mark.usefixtures("airflow_db")


@pytestmark_e2e
@pytest.mark.parametrize(
    "dag_id", ["empiriolabs_test_retry_after_submit", "empiriolabs_test_retry_after_submit_deferrable"]
)
def test_a_task_that_fails_after_submitting_is_retried_with_exactly_one_post(
    empiriolabs_connection: Any, dag_id: str
) -> None:
    sim = empiriolabs_connection
    # The first poll after the accepted POST fails, and the hook of the test DAG does not retry it.
    # On the worker, try 1 fails with its job id already in the task state store. Deferred, the task
    # defers straight from the POST's acceptance: that first poll is the trigger's, which waits out a
    # 500 as transient, so try 1 goes on (a failure of the worker's own steps after the POST is in
    # tests/reliability/test_crash_points.py).
    sim.configure(fail_next_requests=[{"match": "poll", "status": 500, "count": 1}])

    run = run_dag(dag_id)

    ti = task_instance(run, "generate")
    assert run.state == "success", ti.state
    assert ti.try_number == (1 if dag_id.endswith("_deferrable") else 2)  # dag.test ran the retry
    stats = sim.stats()
    assert stats["responses_by_status"].get("500") == 1  # the first poll did fail
    assert stats["posts"] == 1
    assert stats["jobs_created"] == 1
    summary = xcom(run, "generate")
    assert summary["status"] == "completed"
    assert summary["job_id"] == xcom(run, "generate", key="job_id")
    assert list(stats["gets_per_job"]) == [summary["job_id"]]


@pytestmark_e2e
def test_templated_values_from_a_real_run_are_sent(empiriolabs_connection: Any) -> None:
    run = run_dag("empiriolabs_test_templated", prompt="character1 and character2 ride", seed=11, images=[IMAGE] * 2)

    assert run.state == "success"
    assert xcom(run, "generate")["status"] == "completed"
    assert empiriolabs_connection.stats()["posts"] == 1


@pytestmark_e2e
@pytest.mark.parametrize(
    "conf",
    [
        {"seed": -1},
        {"images": [IMAGE] * 10},
        {"images": [IMAGE] * 2, "prompt": "character3 rides alone"},
        {"prompt": ""},
    ],
    ids=["seed", "ten-images", "character-beyond-images", "empty-prompt"],
)
def test_wrong_rendered_values_fail_the_task_of_a_real_run_before_any_post(
    empiriolabs_connection: Any, conf: dict[str, Any]
) -> None:
    run = run_dag("empiriolabs_test_templated", **conf)

    assert run.state == "failed"
    assert task_instance(run, "generate").state == "failed"
    assert empiriolabs_connection.stats()["posts"] == 0


@pytest.mark.slow  # the resumed try waits out the process's real 30 s pause: make test, not test-quick
def test_a_rate_limited_deferrable_submission_waits_in_the_triggerer_not_in_a_worker_slot(
    empiriolabs_connection: Any,
) -> None:
    sim = empiriolabs_connection
    sim.configure(fail_next_requests=[{"match": "post", "status": 429, "retry_after": 30, "count": 1}])
    context = make_context()
    op = _operator(deferrable=True, hook_params={"max_attempts": 1})

    with pytest.raises(TaskDeferred) as caught:
        op.execute(context)

    assert caught.value.method_name == "execute_after_rate_limit"
    assert type(caught.value.trigger).__name__ == "TimeDeltaTrigger"
    assert _record(context).state == "not_sent"  # refused: the resumed try may send it
    # Resumed after the wait, the try starts over and sends once more.
    with pytest.raises(TaskDeferred) as resumed:
        _operator(deferrable=True, hook_params={"max_attempts": 1}).execute_after_rate_limit(context, None)
    assert resumed.value.method_name == "execute_complete"
    assert sim.stats()["posts"] == 2 and sim.stats()["jobs_created"] == 1


def test_a_rate_limit_that_never_lifts_fails_the_task_after_its_timeout(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(fail_next_requests=[{"match": "post", "status": 429, "retry_after": 30, "count": 1}])
    op = _operator(deferrable=True, hook_params={"max_attempts": 1}, timeout=60)

    with pytest.raises(EmpirioLabsRateLimitError):  # not deferred again: Airflow's retries take over
        op.execute_after_rate_limit(make_context(), None, rate_limited_since=time.time() - 61)
    assert sim.stats()["jobs_created"] == 0
