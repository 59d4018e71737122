"""The image operator on the video's job path: jobs (worker, deferred), held answers, b64 to storage, bad input."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models.image_request import HeldAnswer, ImageRequest
from airflow_provider_empiriolabs.operators import image
from airflow_provider_empiriolabs.operators.image import EmpirioLabsGenerateImageOperator
from airflow_provider_empiriolabs.sealing import unseal_output_urls
from airflow_provider_empiriolabs.testing.image import PNG_SIGNATURE
from tests.support import event_for, make_context

PROMPT = "A lighthouse on a cliff at dawn"


def _operator(**kwargs: Any) -> EmpirioLabsGenerateImageOperator:
    kwargs.setdefault("task_id", "draw")
    kwargs.setdefault("prompt", PROMPT)
    kwargs.setdefault("poll_interval", 0.05)
    return EmpirioLabsGenerateImageOperator(**kwargs)


@pytest.fixture
def sim(empiriolabs_connection: Any) -> Any:
    empiriolabs_connection.configure(render_base_seconds=0.2)
    return empiriolabs_connection


def test_the_job_path_posts_once_polls_and_returns_the_images(sim: Any) -> None:
    context = make_context()
    summary = _operator(num_images=2).execute(context)

    assert summary["status"] == "completed" and summary["media"] == "image"
    assert summary["image_count"] == 2 and len(summary["output_urls"]) == 2
    assert summary["cost_usd"] == pytest.approx(0.07)  # Seedream: $0.035 per image, 2 asked (max_images)
    assert sim.stats()["posts"] == 1
    urls = unseal_output_urls(summary)
    assert all(".png?" in url for url in urls)
    assert context["ti"].xcoms["job_id"] == summary["job_id"]
    assert context["ti"].xcoms["request"]["image_count"] == 2


def test_the_count_is_sent_under_the_models_own_field(sim: Any) -> None:
    for model, field in [("seedream-5-0-lite", "max_images"), ("flux-2-klein-4b", "num_images")]:
        assert ImageRequest.build(prompt=PROMPT, model=model, num_images=3).to_payload()[field] == 3
    summary = _operator(model="flux-2-klein-4b", num_images=3).execute(make_context())
    assert summary["image_count"] == 3
    assert summary["cost_usd"] == pytest.approx(3 * 0.0085)


def test_deferrable_defers_on_the_same_trigger_and_finishes(sim: Any) -> None:
    operator = _operator(deferrable=True)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert type(trigger).__name__ == "EmpirioLabsJobTrigger"
    event = event_for(context["ti"].xcoms["job_id"])
    summary = _operator(deferrable=True).execute_complete(context, event)
    assert summary["status"] == "completed" and summary["image_count"] == 4  # Seedream's default max_images
    assert sim.stats()["posts"] == 1


def test_a_held_request_returns_its_urls_records_them_and_a_retry_does_not_pay_again(sim: Any) -> None:
    context = make_context()
    summary = _operator(sync=True, num_images=2).execute(context)
    assert summary["job_id"].startswith("held-") and len(summary["output_urls"]) == 2
    record = context["task_state_store"].values["empiriolabs_job_id"]
    assert record["state"] == "done" and record["summary"] == summary

    again = _operator(sync=True, num_images=2).execute(context)  # a retry of the same task instance
    assert again == summary
    assert sim.stats()["posts"] == 1
    assert sim.stats()["polls_total"] == 0  # a held request has no job to poll


def test_b64_images_are_written_to_storage_and_never_put_in_xcom(sim: Any, tmp_path: Path) -> None:
    context = make_context()
    summary = _operator(
        sync=True, num_images=2, response_format="b64_json", destination=f"file://{tmp_path}/out/"
    ).execute(context)
    assert summary["output_urls"] == [] and len(summary["stored_uris"]) == 2
    for uri in summary["stored_uris"]:
        path = Path(uri.removeprefix("file://"))
        assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert not list((tmp_path / "out").rglob("*.partial"))
    assert "iVBOR" not in str(context["ti"].xcoms) + str(summary)  # base64 of a PNG: no image bytes in XCom


def test_a_held_request_whose_images_were_lost_is_never_sent_again(sim: Any, tmp_path: Path) -> None:
    context = make_context()
    operator = _operator(sync=True, response_format="b64_json", destination=f"file://{tmp_path}/out/")

    def crash(job_id: str, images: Any) -> list[str]:
        raise KeyboardInterrupt  # the worker dies between the answer and the record's "done"

    operator._store = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        operator.execute(context)
    with pytest.raises(AirflowFailException, match="not sent again"):
        _operator(sync=True, response_format="b64_json", destination=f"file://{tmp_path}/out/").execute(context)
    assert sim.stats()["posts"] == 1


class WorkerKilled(BaseException):
    """The worker dies at this step: no ``except Exception`` and no later code of the try runs."""


def test_a_held_answers_urls_survive_a_worker_killed_while_reading_the_usage(
    sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = make_context()

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise WorkerKilled  # the worker dies during the usage read, after the answer arrived

    with monkeypatch.context() as patched:
        patched.setattr(EmpirioLabsHook, "get_account_usage_once", killed)
        with pytest.raises(WorkerKilled):
            _operator(sync=True, num_images=2).execute(context)

    again = _operator(sync=True, num_images=2).execute(context)  # the retry
    assert again["job_id"].startswith("held-") and len(unseal_output_urls(again)) == 2
    assert all(".png?" in url for url in unseal_output_urls(again))
    assert sim.stats()["posts"] == 1


def _failing_writes(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[int]:
    """Make the first ``failures`` storage writes of images fail as a storage outage does; the attempts seen."""
    from airflow_provider_empiriolabs.transfers._commit import PendingObject

    attempts: list[int] = []
    write = PendingObject.write

    def flaky(self: PendingObject, data: bytes) -> None:
        attempts.append(len(data))
        if len(attempts) <= failures:
            raise OSError(28, "No space left on device")
        write(self, data)

    monkeypatch.setattr(PendingObject, "write", flaky)
    monkeypatch.setattr(image, "STORE_BACKOFF_SECONDS", 0.01)  # the waits between tries: not what is tested
    return attempts


def test_a_b64_image_whose_write_fails_once_is_written_on_a_second_attempt(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _failing_writes(monkeypatch, failures=1)
    context = make_context()
    summary = _operator(
        sync=True, num_images=2, response_format="b64_json", destination=f"file://{tmp_path}/out/"
    ).execute(context)

    assert len(summary["stored_uris"]) == 2 and len(attempts) == 3  # image 1 twice, image 2 once
    for uri in summary["stored_uris"]:
        assert Path(uri.removeprefix("file://")).read_bytes().startswith(PNG_SIGNATURE)
    assert not list((tmp_path / "out").rglob("*.partial"))
    assert context["task_state_store"].values["empiriolabs_job_id"]["state"] == "done"
    assert sim.stats()["posts"] == 1


def test_b64_images_that_cannot_be_written_fail_saying_they_were_paid_and_a_retry_pays_nothing(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_writes(monkeypatch, failures=1_000)
    context = make_context()
    destination = f"file://{tmp_path}/out/"
    with pytest.raises(AirflowFailException) as failed:
        _operator(sync=True, num_images=2, response_format="b64_json", destination=destination).execute(context)
    text = str(failed.value)
    assert "paid" in text and "could not be written" in text and "No space left on device" in text
    assert "will not send the request again" in text and "regenerate=True" in text
    assert not list((tmp_path / "out").rglob("*.*"))  # nothing partial left behind

    with pytest.raises(AirflowFailException, match="not sent again"):  # a retry, or a clear, of the task
        _operator(sync=True, num_images=2, response_format="b64_json", destination=destination).execute(context)
    assert sim.stats()["posts"] == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"model": "flux-2-klein-4b", "num_images": 9}, "num_images", "1 to 4"),
        ({"num_images": 16}, "num_images", "1 to 15"),
        ({"extra_params": {"quality": "9K"}}, "quality", "'2K', '3K'"),
        ({"extra_params": {"max_images": 2}}, "extra_params", "num_images"),
        ({"model": "happyhorse-1-1"}, "model", "makes videos"),
        ({"response_format": "b64_json", "destination": "file:///tmp/x/"}, "response_format", "sync=True"),
        ({"response_format": "b64_json", "sync": True}, "destination", "destination"),
        ({"model": "qwen-image-2-0", "images": ["https://a.example/1.png"] * 4}, "images", "at most 3"),
        ({"max_cost_usd": 0.05, "num_images": 2}, "max_cost_usd", "exceeds"),
        ({"model": "some-other-image-model", "max_cost_usd": 1.0}, "max_cost_usd", "no model spec"),
    ],
)
def test_bad_input_is_refused_when_the_dag_is_parsed_naming_field_and_rule(
    sim: Any, kwargs: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises((EmpirioLabsRequestError, ValueError)) as refused:
        _operator(**kwargs)
    text = str(refused.value)
    assert field in text and rule in text and "draw" in text  # the task is named
    assert sim.stats()["posts"] == 0


def test_a_bad_rendered_value_fails_before_any_post(sim: Any) -> None:
    operator = _operator(model="flux-2-klein-4b", num_images="{{ params.n }}")
    operator.num_images = "7"  # as rendered
    with pytest.raises(AirflowFailException, match="num_images: must be 1 to 4"):
        operator.execute(make_context())
    assert sim.stats()["posts"] == 0


def test_an_unreadable_held_answer_is_an_unknown_outcome() -> None:
    for junk in [{"data": []}, {"data": [{"url": "javascript:alert(1)"}]}, {"data": [{"b64_json": "not base64!"}]}]:
        with pytest.raises(ValueError):
            HeldAnswer.from_api(junk)
    html = base64.b64encode(b"<html><script>x</script></html>").decode()
    with pytest.raises(ValueError, match="not a PNG"):
        HeldAnswer.from_api({"data": [{"b64_json": html}]})


#: Literal bad input of the image operator, refused when the DAG file is parsed: (id, kwargs, field, rule).
_PARSE_CASES = [
    ("flux-count", {"model": "flux-2-klein-4b", "num_images": 9}, "num_images", "1 to 4"),
    ("seedream-quality", {"extra_params": {"quality": "9K"}}, "extra_params.quality", "'2K', '3K'"),
    ("b64-job", {"response_format": "b64_json", "destination": "file:///tmp/x/"}, "response_format", "sync=True"),
    ("b64-nowhere", {"response_format": "b64_json", "sync": True}, "destination", "image bytes never go in XCom"),
    ("over-cap", {"num_images": 4, "max_cost_usd": 0.1}, "max_cost_usd", "exceeds"),
    ("video-model", {"model": "happyhorse-1-1"}, "model", "takes image models"),
]


@pytest.mark.usefixtures("airflow_db")
def test_literal_bad_input_fails_the_dag_file_naming_file_task_field_and_rule(sim: Any, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.reliability.test_bad_input import Bad, _write_dag

    files = {}
    for case_id, kwargs, field, rule in _PARSE_CASES:
        path = _write_dag(
            tmp_path,
            Bad(case_id, kwargs, field, rule),
            "airflow_provider_empiriolabs.operators.image",
            "EmpirioLabsGenerateImageOperator",
            {"prompt": PROMPT},
        )
        files[str(path)] = (field, rule)
    bag = DagBag(dag_folder=str(tmp_path))

    assert sorted(bag.import_errors) == sorted(files)
    for path, (field, rule) in files.items():
        error = bag.import_errors[path]
        assert field in error and rule in error and "task" in error and Path(path).name in error, error[-600:]
    assert sim.stats()["posts"] == 0
