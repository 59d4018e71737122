"""
The hook's retries: Retry-After, backoff, the billed POST's rule (``hooks/_retry.py``); respx,
no network: the waits are recorded instead of slept.
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsRateLimitError,
    EmpirioLabsServerError,
    EmpirioLabsSubmissionUnknownError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import (
    MAX_RETRY_WAIT_SECONDS,
    EmpirioLabsHook,
    EmpirioLabsTransportError,
)
from tests.hooks.support import ACCEPTED, JOB, envelope, logged, request

# ---------------------------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------------------------


class TestRetryAfter:
    def test_seconds(self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float]) -> None:
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(429, headers={"Retry-After": "7"}, json=envelope("rate_limit_exceeded", "slow down")),
            httpx.Response(200, json=JOB),
        ]
        assert hook.get_job("job_1").job_id == "job_1"
        assert sleeps == [7.0]

    def test_http_date(self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float]) -> None:
        when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(429, headers={"Retry-After": when}, json=envelope("rate_limit_exceeded", "slow down")),
            httpx.Response(200, json=JOB),
        ]
        hook.get_job("job_1")
        assert len(sleeps) == 1
        assert 28.5 <= sleeps[0] <= 30.0

    def test_http_date_in_the_past_means_now(
        self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float]
    ) -> None:
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, json={}),
            httpx.Response(200, json=JOB),
        ]
        hook.get_job("job_1")
        assert sleeps == [0.0]

    def test_carried_by_the_error(self, api: respx.MockRouter) -> None:
        api.get("/v1/jobs/job_1").respond(429, headers={"Retry-After": "12"}, json={})
        with pytest.raises(EmpirioLabsRateLimitError) as info:
            EmpirioLabsHook(max_attempts=1).get_job("job_1")
        assert info.value.retry_after == 12

    def test_ratelimit_reset_header_when_no_retry_after(
        self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float]
    ) -> None:
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(429, headers={"X-RateLimit-Reset": "4"}, json={}),
            httpx.Response(200, json=JOB),
        ]
        hook.get_job("job_1")
        assert sleeps == [4.0]

    def test_capped(self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float]) -> None:
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(503, headers={"Retry-After": "3600"}, json={}),
            httpx.Response(200, json=JOB),
        ]
        hook.get_job("job_1")
        assert sleeps == [MAX_RETRY_WAIT_SECONDS]

    @pytest.mark.parametrize("value", ["soon", "", "Wed, 21 Oct 2015 07:28:00 -0000", "-"])
    def test_unparseable_retry_after_falls_back_to_backoff(
        self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float], value: str
    ) -> None:
        # Retry-After is undocumented; a value that is neither seconds nor an HTTP date (a date
        # without a time zone included) must not turn a 429 into a bare ValueError.
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(429, headers={"Retry-After": value}, json=envelope("rate_limit_exceeded", "slow down")),
            httpx.Response(200, json=JOB),
        ]
        assert hook.get_job("job_1").job_id == "job_1"
        assert len(sleeps) == 1
        assert 1.0 <= sleeps[0] <= 2.0

    def test_without_retry_after_backoff_is_exponential_with_jitter(
        self, api: respx.MockRouter, sleeps: list[float]
    ) -> None:
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(503, json={}),
            httpx.Response(503, json={}),
            httpx.Response(503, json={}),
            httpx.Response(200, json=JOB),
        ]
        EmpirioLabsHook(max_attempts=4).get_job("job_1")
        assert len(sleeps) == 3
        assert 1.0 <= sleeps[0] <= 2.0
        assert 2.0 <= sleeps[1] <= 3.0
        assert 4.0 <= sleeps[2] <= 5.0

    def test_retry_is_logged(
        self,
        hook: EmpirioLabsHook,
        api: respx.MockRouter,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(429, headers={"Retry-After": "7"}, json=envelope("rate_limit_exceeded", "slow down")),
            httpx.Response(200, json=JOB),
        ]
        hook.get_job("job_1")
        text = logged(caplog, capfd)
        assert "retrying in 7.0 s (attempt 2 of 3)" in text
        assert "rate_limit_exceeded" in text


class TestSubmitRetries:
    @pytest.mark.parametrize(
        "first",
        [
            httpx.ConnectError("connection refused"),
            httpx.ConnectTimeout("connect timed out"),
            httpx.PoolTimeout("no free connection"),
            httpx.Response(429, headers={"Retry-After": "1"}, json=envelope("rate_limit_exceeded", "slow")),
            httpx.Response(503, json=envelope("model_unavailable", "retry shortly")),
        ],
        ids=["connect-error", "connect-timeout", "pool-timeout", "429", "503"],
    )
    def test_retried_when_provably_not_accepted(self, hook: EmpirioLabsHook, api: respx.MockRouter, first: Any) -> None:
        route = api.post("/v1/videos/generations")
        route.side_effect = [first, httpx.Response(202, json=ACCEPTED)]
        assert hook.submit_video(request()) == "job_new"
        assert route.call_count == 2
        bodies = [json.loads(call.request.content) for call in route.calls]
        assert bodies[0] == bodies[1] == request().to_payload()

    @pytest.mark.parametrize(
        "failure",
        [
            httpx.ReadTimeout("read timed out"),
            httpx.WriteTimeout("write timed out"),
            httpx.RemoteProtocolError("server disconnected"),
            httpx.ReadError("connection reset"),
        ],
        ids=["read-timeout", "write-timeout", "disconnected", "read-error"],
    )
    def test_not_retried_after_sending(self, hook: EmpirioLabsHook, api: respx.MockRouter, failure: Exception) -> None:
        route = api.post("/v1/videos/generations")
        route.side_effect = [failure, httpx.Response(202, json=ACCEPTED)]
        with pytest.raises(EmpirioLabsSubmissionUnknownError, match="not sent again") as info:
            hook.submit_video(request())
        assert route.call_count == 1
        assert type(failure).__name__ in str(info.value)

    @pytest.mark.parametrize("status", [500, 502, 504])
    def test_not_retried_after_a_server_error_other_than_503(
        self, hook: EmpirioLabsHook, api: respx.MockRouter, status: int
    ) -> None:
        route = api.post("/v1/videos/generations")
        route.side_effect = [
            httpx.Response(status, json=envelope("internal_error", "oops")),
            httpx.Response(202, json=ACCEPTED),
        ]
        with pytest.raises(EmpirioLabsSubmissionUnknownError) as info:
            hook.submit_video(request())
        assert route.call_count == 1
        assert info.value.status_code == status
        assert info.value.code == "internal_error"
        assert "usage" in str(info.value)

    def test_accepted_but_unreadable_answer_is_not_resubmitted(
        self, hook: EmpirioLabsHook, api: respx.MockRouter
    ) -> None:
        route = api.post("/v1/videos/generations")
        route.side_effect = [httpx.Response(202, text='{"job_id": "job_'), httpx.Response(202, json=ACCEPTED)]
        with pytest.raises(EmpirioLabsSubmissionUnknownError, match="HTTP 202"):
            hook.submit_video(request())
        assert route.call_count == 1

    def test_accepted_without_a_job_id_is_not_resubmitted(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.post("/v1/videos/generations").respond(202, json={"status": "queued"})
        with pytest.raises(EmpirioLabsSubmissionUnknownError, match="no job_id"):
            hook.submit_video(request())
        assert route.call_count == 1

    def test_gives_up_after_max_attempts(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.post("/v1/videos/generations").respond(
            429, headers={"Retry-After": "1"}, json=envelope("rate_limit_exceeded", "slow")
        )
        with pytest.raises(EmpirioLabsRateLimitError):
            hook.submit_video(request())
        assert route.call_count == 3


class TestGetRetries:
    @pytest.mark.parametrize(
        "first",
        [
            httpx.Response(500, json=envelope("internal_error", "oops")),
            httpx.Response(502, json=envelope("upstream_error", "oops")),
            httpx.Response(503, json=envelope("model_unavailable", "oops")),
            httpx.Response(504, text="gateway timeout"),
            httpx.Response(429, json=envelope("rate_limit_exceeded", "slow")),
            httpx.Response(200, text="{not json"),
            httpx.ReadTimeout("read timed out"),
            httpx.ConnectError("refused"),
            httpx.RemoteProtocolError("disconnected"),
        ],
        ids=["500", "502", "503", "504", "429", "bad-json", "read-timeout", "connect-error", "disconnected"],
    )
    def test_retried(self, hook: EmpirioLabsHook, api: respx.MockRouter, first: Any) -> None:
        route = api.get("/v1/jobs/job_1")
        route.side_effect = [first, httpx.Response(200, json=JOB)]
        assert hook.get_job("job_1").job_id == "job_1"
        assert route.call_count == 2

    def test_gives_up_after_max_attempts(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.get("/v1/jobs/job_1").respond(503, json=envelope("upstream_error", "down"))
        with pytest.raises(EmpirioLabsServerError, match="down"):
            hook.get_job("job_1")
        assert route.call_count == 3

    def test_timeout_gives_up_with_a_named_transport_error(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.get("/v1/jobs/job_1")
        route.side_effect = httpx.ReadTimeout("read timed out")
        with pytest.raises(EmpirioLabsTransportError, match=r"ReadTimeout: read timed out") as info:
            hook.get_job("job_1")
        assert isinstance(info.value, EmpirioLabsServerError), "still what triggers retry on"
        assert route.call_count == 3
