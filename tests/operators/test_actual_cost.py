"""
The actual cost of a finished job: its usage event, matched by output URL (the API gives no job
id), else the job's own figure or the estimate, labelled; a usage endpoint that fails or answers
junk never fails the task, and no output URL reaches the log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import Job, UsageEvent
from airflow_provider_empiriolabs.operators._actual_cost import usage_event_for, with_actual_cost
from tests.adversarial.hostile_api import Answer, HostileAPI, deep_json, json_answer
from tests.support import run_dag, submit_job, wait_until_terminal, xcom

URL = "https://cdn.example.com/v1/outputs/job_1/0.mp4"


def _other_requests(sim: Any) -> int:
    """The simulator's requests that are neither a POST, a poll, a download nor an upload (usage, templates)."""
    stats = sim.stats()
    return int(stats["requests_total"] - stats["posts"] - stats["polls_total"] - stats["downloads"] - stats["uploads"])


def _event(cost: float | None, *urls: str) -> UsageEvent:
    return UsageEvent(cost_usd=cost, output_urls=list(urls))


# -- matching ---------------------------------------------------------------------------------------


def test_the_event_listing_one_of_the_job_urls_is_the_job_one_not_the_newest() -> None:
    events = [_event(0.42, "https://cdn.example.com/other.mp4"), _event(0.70, URL), _event(0.14, URL + "x")]
    assert usage_event_for([URL], events) == events[1]


def test_a_url_signed_again_matches_without_its_query_but_an_exact_match_wins() -> None:
    signed = f"{URL}?expires=1&signature=aaa"
    again = _event(0.70, f"{URL}?expires=2&signature=bbb")
    exact = _event(0.71, signed)
    assert usage_event_for([signed], [again]) == again
    assert usage_event_for([signed], [again, exact]) == exact


def test_no_event_matches_another_path_or_host_or_an_event_without_a_cost() -> None:
    events = [
        _event(0.70, "https://cdn.example.com/v1/outputs/job_1/1.mp4"),
        _event(0.70, "https://evil.example.com/v1/outputs/job_1/0.mp4"),
        _event(None, URL),
    ]
    assert usage_event_for([URL], events) is None
    assert usage_event_for([], [_event(0.7, URL)]) is None


# -- against the simulator ------------------------------------------------------------------------


def test_each_job_gets_its_own_debited_cost_among_the_model_events(empiriolabs_connection: Any) -> None:
    first = wait_until_terminal(submit_job(duration=5))  # $0.70
    later = wait_until_terminal(submit_job(duration=3))  # $0.42, the newest event
    hook = EmpirioLabsHook()
    log = logging.getLogger("test")
    estimate = {"cost_usd": 9.99}

    assert with_actual_cost(estimate, first, hook, model="happyhorse-1-1", log=log) == {
        "cost_usd": pytest.approx(0.70),
        "cost_source": "usage",
    }
    assert with_actual_cost(estimate, later, hook, model="happyhorse-1-1", log=log)["cost_usd"] == pytest.approx(0.42)


@pytest.mark.usefixtures("airflow_db")
def test_a_finished_task_returns_the_debited_cost(empiriolabs_connection: Any) -> None:
    run = run_dag("empiriolabs_test_actual_cost")

    assert run.state == "success"
    summary = xcom(run, "generate")
    assert (summary["cost_usd"], summary["cost_source"]) == (pytest.approx(0.42), "usage")
    assert _other_requests(empiriolabs_connection) == 1  # the one usage read: no retry, no second look


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    ("job_reports_cost", "source"), [(True, "job"), (False, "estimate")], ids=["job-figure", "estimate"]
)
def test_without_a_matching_event_the_cost_is_labelled_by_where_it_comes_from(
    empiriolabs_connection: Any, job_reports_cost: bool, source: str
) -> None:
    empiriolabs_connection.configure(usage_lists_outputs=False, job_reports_cost=job_reports_cost)

    run = run_dag("empiriolabs_test_actual_cost")

    assert run.state == "success"
    summary = xcom(run, "generate")
    assert (summary["cost_usd"], summary["cost_source"]) == (pytest.approx(0.42), source)


# -- a hostile usage endpoint --------------------------------------------------------------------------

_SIGNED = "https://cdn.example.com/v1/outputs/job_1/0.mp4?expires=1&signature=SECRETSIG"
_USAGE = "GET /v1/account/usage"


@pytest.mark.parametrize(
    "answer",
    [
        json_answer(500, {"error": {"code": "internal_error", "message": "boom"}}),
        json_answer(429, {"error": {"code": "rate_limit_exceeded"}}, headers=(("Retry-After", "99999"),)),
        Answer(200, b"<html>not json</html>", headers=(("Content-Type", "text/html"),)),
        Answer(200, deep_json(100_000), headers=(("Content-Type", "application/json"),)),
        json_answer(200, [1, 2, 3]),
        json_answer(200, {"data": [{"cost": {"amount": "NaN"}, "output_urls": [_SIGNED]}]}),
        json_answer(200, {"data": [{"cost": {"amount": 0.7}, "output_urls": "javascript:alert(1)"}]}),
        json_answer(200, {"data": "junk"}),
        Answer(200, b'{"data": [', headers=(("Content-Type", "application/json"),)),
    ],
    ids=["500", "429", "html", "deep", "list", "nan-cost", "no-url", "junk-data", "truncated"],
)
def test_a_usage_endpoint_that_fails_or_answers_junk_never_fails_the_task(
    answer: Answer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job.from_api({"job_id": "job_1", "status": "completed", "result": {"data": [{"url": _SIGNED}]}})
    with HostileAPI() as api:
        api.always(_USAGE, answer)
        monkeypatch.setenv(
            "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT",
            json.dumps({"conn_type": "empiriolabs", "host": api.url, "password": "sk-test", "extra": {"timeout": 2}}),
        )
        with caplog.at_level(logging.INFO):
            summary = with_actual_cost(
                {"cost_usd": 0.42}, job, EmpirioLabsHook(), model="happyhorse-1-1", log=logging.getLogger("t")
            )
        assert len(api.requests_to(_USAGE)) == 1  # one try, never retried
    assert summary == {"cost_usd": 0.42, "cost_source": "estimate"}
    assert "the cost shown is not the debited one" in caplog.text
    assert "SECRETSIG" not in caplog.text and "cdn.example.com" not in caplog.text


@pytest.mark.parametrize(
    "answer", [json_answer(500, {"error": {"code": "internal_error"}}), Answer(200, b"junk")], ids=["500", "junk"]
)
def test_the_operator_finishes_with_the_estimate_when_usage_fails(
    answer: Answer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support import make_context
    from tests.support import make_operator as _operator

    with HostileAPI() as api:
        api.script("POST /v1/videos/generations", json_answer(202, {"job_id": "job_1", "status": "queued"}))
        api.always(
            "GET /v1/jobs/{id}",
            json_answer(200, {"job_id": "job_1", "status": "completed", "result": {"data": [{"url": _SIGNED}]}}),
        )
        api.always(_USAGE, answer)
        monkeypatch.setenv(
            "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT",
            json.dumps({"conn_type": "empiriolabs", "host": api.url, "password": "sk-test", "extra": {"timeout": 2}}),
        )
        summary = _operator(duration=3).execute(make_context())
        assert len(api.requests_to(_USAGE)) == 1
    assert (summary["cost_usd"], summary["cost_source"]) == (pytest.approx(0.42), "estimate")  # 3 s at 720p
    assert "SECRETSIG" not in json.dumps(summary)
