"""
The hook against a hostile API, one behaviour at a time, on both paths (worker and triggerer).

Each test names what a broken or malicious server does and what the hook must still promise: a
result or a named error, within the request's deadline, the billed POST sent at most once when it
may have got in, every wait bounded, the key never shown.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsError,
    EmpirioLabsNotFoundError,
    EmpirioLabsRequestError,
    EmpirioLabsServerError,
    EmpirioLabsSubmissionUnknownError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import (
    MAX_RETRY_WAIT_SECONDS,
    EmpirioLabsAnswerTooLargeError,
    EmpirioLabsDeadlineError,
    EmpirioLabsHook,
    EmpirioLabsTransportError,
)
from airflow_provider_empiriolabs.models import Job, JobStatus, VideoRequest
from tests.adversarial.hostile_api import (
    ABSURD_WAITS,
    HOSTILE_JOB_IDS,
    JOB_ROUTE,
    POST_ROUTE,
    Answer,
    HostileAPI,
    deep_json,
    envelope,
    huge_json,
    json_answer,
)
from tests.adversarial.support import DEADLINE, KEY, SLACK, assert_named, assert_waits_bounded, outcome, request

ACCEPTED = {"job_id": "job_new", "status": "queued"}
JOB = {"job_id": "job_1", "status": "processing", "progress": 0.5}
MODES = ["sync", "async"]

#: Answers that never finish in time: headers or body dripped, never ending, or none at all
#: (that one is cut off by the per-read timeout, before the deadline).
STALLING = {
    "head-dripped": json_answer(202, ACCEPTED, drip=0.2),
    "head-endless": Answer(202, endless_head=True, drip=0.05),
    "body-endless": Answer(202, b'{"job_id": "job_new"', endless_body=True, drip=0.05),
    "body-dripped": Answer(202, json.dumps(ACCEPTED).encode() + b" " * 200, drip=0.05),
    "no-answer": Answer(hang=True),
}


def call(mode: str, name: str, *args: Any, **hook_kwargs: Any) -> tuple[Any, BaseException | None, float]:
    """Run ``hook.<name>`` (sync) or ``hook.a<name>`` (async, in a fresh loop): result, error, seconds."""
    hook = EmpirioLabsHook(**{"total_timeout": DEADLINE, **hook_kwargs})
    started = time.monotonic()
    if mode == "sync":
        try:
            result, error = outcome(getattr(hook, name), *args)
        finally:
            hook.close()
    else:

        async def run() -> tuple[Any, BaseException | None]:
            try:
                return await getattr(hook, f"a{name}")(*args), None
            except Exception as error:
                return None, error
            finally:
                await hook.aclose()

        result, error = asyncio.run(run())
    return result, error, time.monotonic() - started


@pytest.mark.parametrize("mode", MODES)
class TestSubmission:
    def test_deep_json_in_an_accepted_answer_is_an_unknown_outcome_never_resent(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str
    ) -> None:
        api.script(POST_ROUTE, Answer(202, deep_json(100_000)), json_answer(202, ACCEPTED))
        _, error, _ = call(mode, "submit_video", request())
        assert isinstance(error, EmpirioLabsSubmissionUnknownError), repr(error)
        assert "RecursionError" in str(error) and "usage" in str(error)
        assert error.status_code == 202
        assert api.posts == 1

    def test_huge_json_is_refused_unread_and_never_resent(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str
    ) -> None:
        api.script(POST_ROUTE, Answer(202, huge_json(3 << 20)), json_answer(202, ACCEPTED))
        _, error, _ = call(mode, "submit_video", request())
        assert isinstance(error, EmpirioLabsSubmissionUnknownError), repr(error)
        assert "bytes" in str(error)
        assert api.posts == 1

    def test_gzip_bomb_is_refused_not_inflated(self, api: HostileAPI, waits: dict[str, list[float]], mode: str) -> None:
        api.script(POST_ROUTE, Answer(202, huge_json(16 << 20), gzip=True))
        _, error, _ = call(mode, "submit_video", request())
        assert isinstance(error, EmpirioLabsSubmissionUnknownError), repr(error)
        assert "inflates to more than" in str(error)
        assert api.posts == 1

    def test_gzip_not_asked_for_is_still_read(self, api: HostileAPI, waits: dict[str, list[float]], mode: str) -> None:
        api.script(POST_ROUTE, json_answer(202, ACCEPTED, gzip=True))
        result, error, _ = call(mode, "submit_video", request())
        assert error is None and result == "job_new"
        assert api.requests_to(POST_ROUTE)[0].headers["accept-encoding"] == "identity"

    @pytest.mark.parametrize("answer", list(STALLING.values()), ids=list(STALLING))
    def test_a_stalling_server_is_cut_off_at_the_deadline_and_not_resent(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, answer: Answer
    ) -> None:
        api.script(POST_ROUTE, answer, json_answer(202, ACCEPTED))
        _, error, elapsed = call(mode, "submit_video", request())
        assert isinstance(error, EmpirioLabsSubmissionUnknownError), repr(error)
        assert ("ReadTimeout" if answer.hang else "deadline") in str(error)
        assert elapsed < DEADLINE + SLACK
        assert api.posts == 1

    @pytest.mark.parametrize(
        "answer",
        [
            Answer(202, json.dumps(ACCEPTED).encode(), content_length=1000),
            Answer(202, json.dumps(ACCEPTED).encode(), close_after=5),
            Answer(202, b"", content_length=0),
            Answer(204),
        ],
        ids=["length-lies", "closed-early", "empty", "no-content"],
    )
    def test_a_broken_answer_is_an_unknown_outcome(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, answer: Answer
    ) -> None:
        api.script(POST_ROUTE, answer, json_answer(202, ACCEPTED))
        _, error, elapsed = call(mode, "submit_video", request())
        assert isinstance(error, EmpirioLabsSubmissionUnknownError), repr(error)
        assert elapsed < DEADLINE + SLACK
        assert api.posts == 1

    @pytest.mark.parametrize("location", ["http://127.0.0.1:9/v1/videos/generations", "ftp://elsewhere.test/x"])
    @pytest.mark.parametrize("status", [302, 307, 308])
    def test_a_redirect_is_not_followed_nor_resent(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, status: int, location: str
    ) -> None:
        api.script(POST_ROUTE, json_answer(status, {}, headers=(("Location", location),)))
        _, error, _ = call(mode, "submit_video", request())
        assert isinstance(error, EmpirioLabsSubmissionUnknownError), repr(error)
        assert "not followed" in str(error)
        assert api.posts == 1

    @pytest.mark.parametrize("job_id", HOSTILE_JOB_IDS, ids=[f"id{i}" for i in range(len(HOSTILE_JOB_IDS))])
    def test_a_hostile_job_id_is_never_handed_on(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, job_id: str
    ) -> None:
        api.script(POST_ROUTE, json_answer(202, {"job_id": job_id}))
        _, error, _ = call(mode, "submit_video", request())
        assert isinstance(error, EmpirioLabsSubmissionUnknownError), repr(error)
        assert api.posts == 1

    @pytest.mark.parametrize("value", ABSURD_WAITS)
    @pytest.mark.parametrize("header", ["Retry-After", "X-RateLimit-Reset"])
    def test_absurd_waits_are_bounded_and_the_429_is_retried(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, header: str, value: str
    ) -> None:
        api.script(
            POST_ROUTE,
            json_answer(429, envelope("rate_limit_exceeded", "slow"), headers=((header, value),)),
            json_answer(202, ACCEPTED),
        )
        result, error, _ = call(mode, "submit_video", request())
        assert error is None and result == "job_new"
        assert api.posts == 2
        assert len(waits["retry"]) <= 1  # a wait of 0 is not recorded on the async path
        assert_waits_bounded(waits)

    def test_a_request_that_cannot_be_built_is_not_sent(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        built = request()
        monkeypatch.setattr(VideoRequest, "to_payload", lambda self: {"prompt": object()})
        _, error, _ = call(mode, "submit_video", built)
        assert isinstance(error, EmpirioLabsRequestError), repr(error)
        assert "not sent" in str(error)
        assert api.posts == 0


@pytest.mark.parametrize("mode", MODES)
class TestJobReads:
    @pytest.mark.slow  # each case waits out a real deadline: make test, not test-quick
    @pytest.mark.parametrize("answer", list(STALLING.values()), ids=list(STALLING))
    def test_a_stalling_server_is_cut_off_at_the_deadline(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, answer: Answer
    ) -> None:
        api.always(JOB_ROUTE, answer)
        _, error, elapsed = call(mode, "get_job", "job_1", max_attempts=2)
        assert isinstance(error, EmpirioLabsTransportError if answer.hang else EmpirioLabsDeadlineError), repr(error)
        assert elapsed < 2 * DEADLINE + SLACK
        assert len(api.requests_to(JOB_ROUTE)) == 2, "a read is retried"

    @pytest.mark.parametrize(
        ("answer", "error_type"),
        [
            (Answer(200, deep_json(100_000)), EmpirioLabsServerError),
            (Answer(200, huge_json(3 << 20)), EmpirioLabsAnswerTooLargeError),
            (Answer(200, huge_json(16 << 20), gzip=True), EmpirioLabsAnswerTooLargeError),
            (Answer(200, b"\xff\xfe\x00garbage"), EmpirioLabsServerError),
            (Answer(200, json.dumps(JOB).encode(), close_after=3), EmpirioLabsServerError),
        ],
        ids=["deep", "huge", "gzip-bomb", "bytes", "closed-early"],
    )
    def test_an_unreadable_answer_is_a_named_error(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, answer: Answer, error_type: type
    ) -> None:
        api.always(JOB_ROUTE, answer)
        _, error, _ = call(mode, "get_job", "job_1", max_attempts=2)
        assert isinstance(error, error_type), repr(error)
        assert_named(error)

    def test_status_flips_and_404_then_found(self, api: HostileAPI, waits: dict[str, list[float]], mode: str) -> None:
        done = {**JOB, "status": "completed", "progress": 1, "result": {"data": [{"url": "https://x.test/v.mp4"}]}}
        api.script(
            JOB_ROUTE,
            json_answer(404, envelope("not_found", "no such job")),
            json_answer(502, {}),
            json_answer(200, JOB),
            json_answer(200, done),
        )
        _, error, _ = call(mode, "get_job", "job_1", max_attempts=2)
        assert isinstance(error, EmpirioLabsNotFoundError), "a 404 is final for this call"
        job, error, _ = call(mode, "get_job", "job_1", max_attempts=2)
        assert error is None and isinstance(job, Job) and job.status is JobStatus.RUNNING
        job, error, _ = call(mode, "get_job", "job_1", max_attempts=2)
        assert error is None and job.status is JobStatus.SUCCEEDED

    def test_a_redirect_is_not_followed(self, api: HostileAPI, waits: dict[str, list[float]], mode: str) -> None:
        api.always(JOB_ROUTE, json_answer(302, {}, headers=(("Location", "http://127.0.0.1:9/v1/jobs/job_1"),)))
        _, error, _ = call(mode, "get_job", "job_1", max_attempts=2)
        assert isinstance(error, EmpirioLabsError) and "not followed" in str(error), repr(error)
        assert len(api.requests_to(JOB_ROUTE)) == 1

    @pytest.mark.parametrize("job_id", HOSTILE_JOB_IDS, ids=[f"id{i}" for i in range(len(HOSTILE_JOB_IDS))])
    def test_a_hostile_job_id_never_reaches_another_path(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, job_id: str
    ) -> None:
        api.always(JOB_ROUTE, json_answer(200, {**JOB, "job_id": job_id}))
        _, error, _ = call(mode, "get_job", job_id, max_attempts=1)
        targets = [r.target for r in api.received]
        if error is not None:
            assert isinstance(error, ValueError), repr(error)  # refused before sending
            assert targets == []
        else:
            assert targets == [f"/v1/jobs/{quote(job_id, safe='')}"]

    @pytest.mark.parametrize("value", ABSURD_WAITS)
    def test_absurd_retry_after_is_bounded(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str, value: str
    ) -> None:
        api.script(
            JOB_ROUTE,
            json_answer(429, envelope("rate_limit_exceeded", "slow"), headers=(("Retry-After", value),)),
            json_answer(200, JOB),
        )
        job, error, _ = call(mode, "get_job", "job_1", max_attempts=2)
        assert error is None and job.job_id == "job_1"
        assert_waits_bounded(waits)
        assert max(waits["retry"], default=0.0) <= MAX_RETRY_WAIT_SECONDS

    def test_the_key_echoed_anywhere_is_not_shown(
        self, api: HostileAPI, waits: dict[str, list[float]], mode: str
    ) -> None:
        api.always(
            JOB_ROUTE,
            json_answer(
                307,
                {"error": {"code": f"bad {KEY}", "message": f"key {KEY}"}},
                reason=f"Moved {KEY}",
                headers=(("Location", f"http://x.test/?key={KEY}"),),
            ),
        )
        _, error, _ = call(mode, "get_job", "job_1", max_attempts=1)
        assert error is not None
        assert_named(error)
