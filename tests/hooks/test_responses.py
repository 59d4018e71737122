"""
Reading untrusted answers (``hooks/_responses.py``): the one parser of server-requested waits,
bounded bodies, and errors that never carry the key.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_empiriolabs import _outcome
from airflow_provider_empiriolabs._outcome import error_class
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsError,
    EmpirioLabsRateLimitError,
    EmpirioLabsServerError,
    EmpirioLabsValidationError,
)
from airflow_provider_empiriolabs.hooks._calls import job_path as _job_path
from airflow_provider_empiriolabs.hooks._calls import submit as _submit
from airflow_provider_empiriolabs.hooks._responses import (
    MAX_ANSWER_BYTES,
    MAX_RETRY_WAIT_SECONDS,
    BoundedBody,
    EmpirioLabsAnswerTooLargeError,
    clamp_wait,
    error_for,
    server_wait,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator
from tests.support import submit_job, wait_until_terminal

KEY = "sk-empiriolabs-UNIT-responses-0123456789"
CAP = MAX_RETRY_WAIT_SECONDS


def http_date(offset: float) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-5", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-inf", None),
        ("1e308", CAP),
        ("1" * 400, None),  # beyond a float: infinite
        ("300", CAP),
        ("soon", None),
        ("", None),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Fri, 01 Jan 9999 00:00:00 GMT", CAP),
        ("Sun, 06 Nov 1994 08:49:37 +9999", None),
    ],
)
def test_retry_after_is_finite_non_negative_and_capped(value: str, expected: float | None) -> None:
    assert server_wait(httpx.Headers({"Retry-After": value}), 429) == expected


@pytest.mark.parametrize("header", ["Retry-After", "X-RateLimit-Reset"])
@pytest.mark.parametrize(
    "value",
    [
        lambda: str(time.time() + 30),  # a Unix time in seconds
        lambda: str(int((time.time() + 30) * 1000)),  # a Unix time in milliseconds
    ],
    ids=["epoch-s", "epoch-ms"],
)
def test_a_unix_time_is_recognised(header: str, value: object) -> None:
    wait = server_wait(httpx.Headers({header: value()}), 429)  # type: ignore[operator]
    assert wait is not None and 25 <= wait <= 30


def test_http_date_is_a_wait() -> None:
    wait = server_wait(httpx.Headers({"Retry-After": http_date(30)}), 503)
    assert wait is not None and 25 <= wait <= 30


def test_ratelimit_reset_counts_only_on_a_429() -> None:
    assert server_wait(httpx.Headers({"X-RateLimit-Reset": "7"}), 429) == 7.0
    assert server_wait(httpx.Headers({"X-RateLimit-Reset": "7"}), 503) is None


def test_an_unusable_retry_after_falls_back_to_ratelimit_reset() -> None:
    assert server_wait(httpx.Headers({"Retry-After": "nan", "X-RateLimit-Reset": "7"}), 429) == 7.0


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(3, 3.0), (0.0, 0.0), (-1, None), (float("nan"), None), (float("inf"), None), (10**400, CAP), (True, None)],
)
def test_clamp_wait(seconds: object, expected: float | None) -> None:
    assert clamp_wait(seconds) == expected


class TestBoundedBody:
    def test_announced_too_large_is_refused_before_reading(self) -> None:
        with pytest.raises(EmpirioLabsAnswerTooLargeError, match="announces"):
            BoundedBody(httpx.Headers({"Content-Length": str(MAX_ANSWER_BYTES + 1)}))

    def test_growing_too_large_is_refused(self) -> None:
        body = BoundedBody(httpx.Headers())
        body.add(b"x" * MAX_ANSWER_BYTES)
        with pytest.raises(EmpirioLabsAnswerTooLargeError):
            body.add(b"x")

    def test_an_error_answers_body_is_dropped_not_refused(self) -> None:
        body = BoundedBody(httpx.Headers({"Content-Length": str(10 * MAX_ANSWER_BYTES)}), strict=False)
        assert body.dropped and body.content() is None

    @pytest.mark.parametrize("encoding", ["gzip", "deflate"])
    def test_unasked_encodings_are_undone(self, encoding: str) -> None:
        payload = b'{"job_id": "job_1"}'
        raw = gzip.compress(payload) if encoding == "gzip" else zlib.compress(payload)
        body = BoundedBody(httpx.Headers({"Content-Encoding": encoding}))
        body.add(raw)
        assert body.content() == payload

    def test_a_compressed_bomb_is_refused(self) -> None:
        body = BoundedBody(httpx.Headers({"Content-Encoding": "gzip"}))
        body.add(gzip.compress(b" " * (8 * MAX_ANSWER_BYTES)))
        with pytest.raises(EmpirioLabsAnswerTooLargeError, match="inflates"):
            body.content()

    @pytest.mark.parametrize("encoding", ["br", "gzip"])
    def test_an_unreadable_encoding_is_a_named_error(self, encoding: str) -> None:
        body = BoundedBody(httpx.Headers({"Content-Encoding": encoding}))
        body.add(b"not compressed at all")
        with pytest.raises(EmpirioLabsServerError):
            body.content()


class TestErrorFor:
    def test_the_key_is_scrubbed_from_everything_the_server_says(self) -> None:
        body = json.dumps({"error": {"code": f"bad_{KEY}", "message": f"key {KEY}"}}).encode()
        headers = httpx.Headers({"Location": f"https://x.test/?k={KEY}"})
        error = error_for(307, f"Moved {KEY}", headers, body, KEY)
        assert KEY not in str(error) and KEY not in repr(error) and KEY not in str(error.code)
        assert "not followed" in str(error)

    def test_a_long_message_is_cut(self) -> None:
        body = json.dumps({"message": "x" * 100_000}).encode()
        error = error_for(500, "", httpx.Headers(), body, KEY)
        assert len(str(error)) < 1000

    @pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", None])
    def test_an_unreadable_body_still_gives_the_typed_error(self, body: bytes | None) -> None:
        error = error_for(429, "Too Many Requests", httpx.Headers({"Retry-After": "nan"}), body, KEY)
        assert isinstance(error, EmpirioLabsRateLimitError)
        assert error.retry_after is None
        assert str(error) == "HTTP 429: Too Many Requests"


class TestJobIds:
    @pytest.mark.parametrize(("job_id", "path"), [("job_1", "/v1/jobs/job_1"), ("job:1", "/v1/jobs/job%3A1")])
    def test_the_path_is_percent_encoded(self, job_id: str, path: str) -> None:
        assert _job_path(job_id) == path

    @pytest.mark.parametrize("job_id", [".", "..", "a\nb", "a/b", "", "a\x00b"])
    def test_ids_that_could_break_the_path_are_refused(self, job_id: str) -> None:
        with pytest.raises(ValueError, match="job_id"):
            _job_path(job_id)

    @pytest.mark.parametrize("job_id", ["..", "job\n1", "job_\u202e1", "job\x001", "j" * 4000, "job 1", "a/b"])
    def test_an_unusable_id_from_the_api_is_refused(self, job_id: str) -> None:
        with pytest.raises(ValueError):
            _usable_job_id(job_id)

    def test_a_plain_id_is_kept(self) -> None:
        assert _usable_job_id("job_01HZX-abc.def") == "job_01HZX-abc.def"


def _usable_job_id(job_id: str) -> str:
    """The id a submission's answer gives, as the submit call reads it (the one job-id rule)."""
    request = VideoRequest.build(prompt="a horse")
    return _submit(request).parse({"job_id": job_id})


def test_errors_are_provider_errors() -> None:
    assert issubclass(EmpirioLabsAnswerTooLargeError, EmpirioLabsError)


class TestOneEditRetriesAStatusEverywhere:
    """
    Which error a status becomes sits beside the statuses worth a retry (``_outcome``): adding one
    there (here 409) retries it on every path, the API's calls and the output downloads alike.
    """

    def test_a_409_made_transient_is_retried_by_an_api_get_and_a_download(
        self, empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        sim = empiriolabs_connection
        sim.configure(render_base_seconds=0, render_seconds_per_video_second=0)
        job_id = submit_job()
        wait_until_terminal(job_id)
        monkeypatch.setattr(_outcome, "TRANSIENT_STATUSES", _outcome.TRANSIENT_STATUSES | {409})

        sim.configure(fail_next_requests=[{"match": "poll", "status": 409, "retry_after": 0}])
        hook = EmpirioLabsHook(max_attempts=2)
        try:
            assert hook.get_job(job_id).status.is_success()
        finally:
            hook.close()
        assert sim.stats()["responses_by_status"].get("409") == 1

        sim.configure(fail_next_requests=[{"match": "download", "status": 409, "retry_after": 0}])
        op = EmpirioLabsToObjectStorageOperator(
            task_id="copy", job_id=job_id, destination=f"file://{tmp_path}/videos/", retry_backoff_seconds=0.01
        )
        op.execute({})  # type: ignore[arg-type]
        assert op.results[0].attempts == 2
        assert sim.stats()["responses_by_status"].get("409") == 2

    def test_a_409_is_final_as_shipped(self, empiriolabs_connection: Any) -> None:
        sim = empiriolabs_connection
        job_id = submit_job()
        sim.configure(fail_next_requests=[{"match": "poll", "status": 409, "retry_after": 0}])
        hook = EmpirioLabsHook(max_attempts=2)
        try:
            with pytest.raises(EmpirioLabsValidationError):
                hook.get_job(job_id)
        finally:
            hook.close()
        assert error_class(409) is EmpirioLabsValidationError
        assert error_class(503) is EmpirioLabsServerError and error_class(429) is EmpirioLabsRateLimitError
