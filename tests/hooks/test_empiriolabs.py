"""
The EmpirioLabs hook: unit tests with respx (one unit, no network), then over real HTTP against
the simulator on 127.0.0.1.

Connections are ``AIRFLOW_CONN_<ID>`` JSON environment variables (no metadata DB). Retry waits are
recorded instead of slept in the unit tests, which is also how the waits themselves (Retry-After,
backoff) are checked; the simulator tests sleep for real and measure.
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import json
import logging
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
import tenacity.nap

from airflow_provider_empiriolabs import __version__
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
    EmpirioLabsError,
    EmpirioLabsInsufficientCreditsError,
    EmpirioLabsNotFoundError,
    EmpirioLabsRateLimitError,
    EmpirioLabsServerError,
    EmpirioLabsSubmissionUnknownError,
    EmpirioLabsValidationError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import (
    DEFAULT_BASE_URL,
    MAX_RETRY_WAIT_SECONDS,
    EmpirioLabsHook,
    EmpirioLabsTransportError,
)
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget
from airflow_provider_empiriolabs.models import (
    HAPPYHORSE_MODEL,
    PRICE_USD_PER_SECOND,
    Job,
    JobStatus,
    VideoRequest,
    estimate_cost_usd,
)
from airflow_provider_empiriolabs.redaction import MASK
from airflow_provider_empiriolabs.testing import connection_json

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator

BASE = "https://api.empiriolabs.test"
KEY = "sk-empiriolabs-UNIT-test-key-0123456789abcdef"
CONN_ENV = "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"
JOB = {"job_id": "job_1", "status": "processing", "progress": 0.5, "result": None, "error": None}
ACCEPTED = {"job_id": "job_new", "status": "queued", "poll_url": "/v1/jobs/job_new"}


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "api_error", "code": code}}


def request() -> VideoRequest:
    return VideoRequest.build(prompt="a horse on a beach", duration=5)


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set an ``AIRFLOW_CONN_<ID>`` JSON connection."""

    def set_(conn_id: str = "empiriolabs_default", **fields: Any) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "empiriolabs", **fields}))

    return set_


@pytest.fixture
def unit_conn(set_conn: Callable[..., None]) -> None:
    set_conn(host=BASE, password=KEY)


@pytest.fixture
def api(unit_conn: None) -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits, recorded instead of slept (sync: tenacity's nap; async: asyncio.sleep)."""
    waits: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=waits.append))
    real_sleep = asyncio.sleep

    test_thread = threading.get_ident()

    async def fake_sleep(seconds: float, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != test_thread:  # e.g. a simulator's uvicorn loop in its thread
            return await real_sleep(seconds, *args, **kwargs)
        if seconds:
            waits.append(seconds)
        return await real_sleep(0, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    # The recorded waits do not pass real time, so the process-wide pause a 429 also sets
    # (tested in test_rate_budget.py) would be slept for real afterwards: keep it out of here.
    monkeypatch.setattr(RequestBudget, "pause", lambda self, seconds: None)
    return waits


@pytest.fixture
def hook(api: respx.MockRouter, sleeps: list[float]) -> Iterator[EmpirioLabsHook]:
    h = EmpirioLabsHook(max_attempts=3)
    yield h
    h.close()


def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything logged so far: stdlib records (httpx, ...) and Airflow's structlog output."""
    out, err = capfd.readouterr()
    return "\n".join([caplog.text, out, err])


def assert_no_key(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text), f"API key leaked in {text!r}"


# ---------------------------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------------------------


class TestConnection:
    @pytest.mark.parametrize(
        ("fields", "base_url"),
        [
            ({"host": "api.example.com"}, "https://api.example.com"),
            ({"host": "https://api.example.com/"}, "https://api.example.com"),
            ({"host": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
            ({"host": "http://127.0.0.1", "port": 8080}, "http://127.0.0.1:8080"),
            ({"host": "127.0.0.1", "port": 9000, "schema": "http"}, "http://127.0.0.1:9000"),
            ({}, DEFAULT_BASE_URL),
            ({"host": "  "}, DEFAULT_BASE_URL),
        ],
    )
    def test_base_url(self, set_conn: Callable[..., None], fields: dict[str, Any], base_url: str) -> None:
        set_conn(password=KEY, **fields)
        assert EmpirioLabsHook().base_url == base_url

    def test_default_base_url_is_the_documented_one(self) -> None:
        assert DEFAULT_BASE_URL == "https://api.empiriolabs.ai"

    def test_host_without_scheme_is_called_over_https(self, set_conn: Callable[..., None]) -> None:
        set_conn(host="api.example.com", password=KEY)
        with respx.mock(assert_all_called=True) as router:
            route = router.get("https://api.example.com/v1/jobs/job_1").respond(200, json=JOB)
            EmpirioLabsHook().get_job("job_1")
        assert route.call_count == 1

    def test_defaults(self, unit_conn: None) -> None:
        settings = EmpirioLabsHook().settings
        assert settings.timeout == 30
        assert settings.requests_per_minute == 50

    @pytest.mark.parametrize(
        "extra",
        [
            {"timeout": 12, "requests_per_minute": 20},
            {"timeout": "12", "requests_per_minute": "20"},
        ],
    )
    def test_extras(self, set_conn: Callable[..., None], extra: dict[str, Any]) -> None:
        set_conn(host=BASE, password=KEY, extra=extra)
        hook = EmpirioLabsHook()
        assert hook.settings.timeout == 12
        assert hook.settings.requests_per_minute == 20
        assert hook.get_conn().timeout.read == 12
        assert hook.budget.requests_per_minute == 20, "the account's request budget follows the extra"

    def test_extras_as_a_json_string(self, set_conn: Callable[..., None]) -> None:
        set_conn(host=BASE, password=KEY, extra=json.dumps({"timeout": 9}))
        assert EmpirioLabsHook().settings.timeout == 9

    def test_hook_timeout_overrides_the_connection(self, set_conn: Callable[..., None]) -> None:
        set_conn(host=BASE, password=KEY, extra={"timeout": 12, "requests_per_minute": 20})
        hook = EmpirioLabsHook(timeout=3)
        assert hook.settings.timeout == 3
        assert hook.settings.requests_per_minute == 20
        assert hook.get_conn().timeout.read == 3

    def test_other_conn_id(self, set_conn: Callable[..., None]) -> None:
        set_conn("my_video_api", host="http://10.0.0.1:1234", password=KEY)
        assert EmpirioLabsHook("my_video_api").base_url == "http://10.0.0.1:1234"

    @pytest.mark.parametrize("fields", [{"host": BASE}, {"host": BASE, "password": ""}])
    def test_missing_password(self, set_conn: Callable[..., None], fields: dict[str, Any]) -> None:
        set_conn("no_key", **fields)
        hook = EmpirioLabsHook("no_key")
        with pytest.raises(EmpirioLabsAuthenticationError, match=r"'no_key' has no API key.*password"):
            hook.get_job("job_1")

    def test_missing_password_async(self, set_conn: Callable[..., None]) -> None:
        set_conn("no_key", host=BASE)
        with pytest.raises(EmpirioLabsAuthenticationError, match="password"):
            asyncio.run(EmpirioLabsHook("no_key").aget_job("job_1"))

    def test_missing_password_fails_test_connection(self, set_conn: Callable[..., None]) -> None:
        set_conn("no_key", host=BASE)
        ok, message = EmpirioLabsHook("no_key").test_connection()
        assert ok is False
        assert "no API key" in message

    def test_hook_metadata(self) -> None:
        assert EmpirioLabsHook.conn_type == "empiriolabs"
        assert EmpirioLabsHook.default_conn_name == "empiriolabs_default"
        assert EmpirioLabsHook.conn_name_attr == "empiriolabs_conn_id"


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------


class TestRequests:
    def test_headers(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.get("/v1/jobs/job_1").respond(200, json=JOB)
        hook.get_job("job_1")
        sent = route.calls.last.request
        assert sent.headers["authorization"] == f"Bearer {KEY}"
        agent = sent.headers["user-agent"]
        assert agent.startswith(f"airflow-provider-empiriolabs/{__version__}")
        assert __version__ == "0.1.0"
        assert sent.headers["accept"] == "application/json"

    def test_submit_sends_the_payload_and_returns_the_job_id(
        self, hook: EmpirioLabsHook, api: respx.MockRouter
    ) -> None:
        route = api.post("/v1/videos/generations").respond(202, json=ACCEPTED)
        req = VideoRequest.build(prompt="p", mode="r2v", images=["https://x.test/a.png", "https://x.test/b.png"])
        assert hook.submit_video(req) == "job_new"
        assert json.loads(route.calls.last.request.content) == req.to_payload()

    @pytest.mark.parametrize("status", [200, 201, 202])
    def test_submit_accepts_any_2xx_and_id(self, hook: EmpirioLabsHook, api: respx.MockRouter, status: int) -> None:
        api.post("/v1/videos/generations").respond(status, json={"id": "job_by_id"})
        assert hook.submit_video(request()) == "job_by_id"

    def test_get_job_parses(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        api.get("/v1/jobs/job_1").respond(
            200,
            json={"job_id": "job_1", "status": "completed", "result": {"data": [{"url": "https://cdn.test/v.mp4"}]}},
        )
        job = hook.get_job("job_1")
        assert isinstance(job, Job)
        assert job.status is JobStatus.SUCCEEDED
        assert job.output_urls == ["https://cdn.test/v.mp4"]

    @pytest.mark.parametrize("job_id", ["", "../account/usage", "a/b"])
    def test_bad_job_id(self, hook: EmpirioLabsHook, api: respx.MockRouter, job_id: str) -> None:
        with pytest.raises(ValueError, match="job_id"):
            hook.get_job(job_id)
        assert not api.calls

    @pytest.mark.parametrize(
        "body",
        [
            {"object": "list", "data": [{"id": "happyhorse-1-1"}, {"id": "wan-2-5"}]},
            {"models": [{"id": "happyhorse-1-1"}, {"id": "wan-2-5"}]},
            [{"id": "happyhorse-1-1"}, {"id": "wan-2-5"}, "junk"],
        ],
    )
    def test_list_models(self, hook: EmpirioLabsHook, api: respx.MockRouter, body: Any) -> None:
        api.get("/v1/models").respond(200, json=body)
        assert [m["id"] for m in hook.list_models()] == ["happyhorse-1-1", "wan-2-5"]

    def test_unreadable_answer_to_a_get(self, api: respx.MockRouter, sleeps: list[float]) -> None:
        api.get("/v1/models").respond(200, json={"data": "nope"})
        with pytest.raises(EmpirioLabsServerError, match="unreadable answer to GET /v1/models"):
            EmpirioLabsHook(max_attempts=1).list_models()

    def test_get_model(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        api.get("/v1/models/happyhorse-1-1").respond(200, json={"id": "happyhorse-1-1", "pricing_rows": []})
        assert hook.get_model("happyhorse-1-1")["id"] == "happyhorse-1-1"

    def test_account_usage_params(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.get("/v1/account/usage").respond(
            200, json={"balance_usd": 10, "data": [{"job_id": "j", "cost": {"amount": 0.7}}]}
        )
        usage = hook.get_account_usage()
        assert dict(route.calls.last.request.url.params) == {"limit": "25"}
        assert usage.balance_usd == 10
        assert usage.events[0].cost_usd == 0.7
        hook.get_account_usage(limit=5, model=HAPPYHORSE_MODEL, since="2025-01-01T00:00:00Z")
        assert dict(route.calls.last.request.url.params) == {
            "limit": "5",
            "model": HAPPYHORSE_MODEL,
            "from": "2025-01-01T00:00:00Z",
        }

    def test_upload_is_multipart_and_rewinds_on_retry(
        self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float]
    ) -> None:
        route = api.post("/v1/files/upload")
        route.side_effect = [
            httpx.Response(503, json=envelope("upstream_error", "try again")),
            httpx.Response(201, json={"path": "bunny://uploads/1/a.png", "url": "https://cdn.test/a.png"}),
        ]
        content = b"\x89PNG\r\n\x1a\n" + b"x" * 1000
        uploaded = hook.upload_file(io.BytesIO(content), "a.png", "image/png")
        assert uploaded.path == "bunny://uploads/1/a.png"
        assert route.call_count == 2
        for call in route.calls:
            body = call.request.content
            assert call.request.headers["content-type"].startswith("multipart/form-data")
            assert b'name="file"; filename="a.png"' in body
            assert b"Content-Type: image/png" in body
            assert content in body, "a retried upload sends the whole file again"

    def test_upload_bytes(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.post("/v1/files/upload").respond(201, json={"path": "bunny://uploads/2/v.mp4"})
        assert hook.upload_file(b"data", "v.mp4", "video/mp4").path == "bunny://uploads/2/v.mp4"
        assert b"data" in route.calls.last.request.content


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "error", "code"),
        [
            (400, EmpirioLabsValidationError, "template_model_unsupported"),
            (401, EmpirioLabsAuthenticationError, "invalid_api_key"),
            (402, EmpirioLabsInsufficientCreditsError, "insufficient_credits"),
            (403, EmpirioLabsAuthenticationError, "forbidden"),
            (404, EmpirioLabsNotFoundError, "model_not_found"),
            (422, EmpirioLabsValidationError, "invalid_request"),
            (429, EmpirioLabsRateLimitError, "rate_limit_exceeded"),
            (500, EmpirioLabsServerError, "internal_error"),
            (502, EmpirioLabsServerError, "upstream_error"),
            (503, EmpirioLabsServerError, "model_unavailable"),
        ],
    )
    def test_status_to_typed_error(
        self, api: respx.MockRouter, status: int, error: type[EmpirioLabsError], code: str
    ) -> None:
        api.get("/v1/models/x").respond(status, json=envelope(code, f"the API says {code}"))
        with pytest.raises(error) as info:
            EmpirioLabsHook(max_attempts=1).get_model("x")
        assert info.value.status_code == status
        assert info.value.code == code
        assert info.value.message == f"the API says {code}"
        hint = ": its password is the API key" if status in (401, 403) else ""
        assert str(info.value) == f"HTTP {status} {code}: the API says {code} (connection 'empiriolabs_default'{hint})"
        assert info.value.conn_id == "empiriolabs_default"

    @pytest.mark.parametrize(
        ("body", "code", "message"),
        [
            (
                {"error": {"message": "m1", "type": "billing_error", "code": "insufficient_credits"}},
                "insufficient_credits",
                "m1",
            ),
            ({"error": {"message": "m2", "type": "billing_error"}}, "billing_error", "m2"),
            ({"code": "insufficient_credits", "message": "m3"}, "insufficient_credits", "m3"),
            ({"error": "m4"}, None, "m4"),
            ({"error": "m5", "code": "insufficient_credits"}, "insufficient_credits", "m5"),
            ({"detail": "m6"}, None, "m6"),
            ({}, None, "Payment Required"),
            ([], None, "Payment Required"),
        ],
    )
    def test_envelope_variants(self, api: respx.MockRouter, body: Any, code: str | None, message: str) -> None:
        api.get("/v1/models").respond(402, json=body)
        with pytest.raises(EmpirioLabsInsufficientCreditsError) as info:
            EmpirioLabsHook(max_attempts=1).list_models()
        assert info.value.code == code
        assert info.value.message == message

    def test_non_json_error_body(self, api: respx.MockRouter) -> None:
        api.get("/v1/models").respond(502, text="<html>Bad Gateway</html>")
        with pytest.raises(EmpirioLabsServerError) as info:
            EmpirioLabsHook(max_attempts=1).list_models()
        assert info.value.status_code == 502
        assert info.value.message == "Bad Gateway"

    @pytest.mark.parametrize("status", [400, 401, 402, 403, 404])
    def test_client_errors_never_retried(self, hook: EmpirioLabsHook, api: respx.MockRouter, status: int) -> None:
        get = api.get("/v1/jobs/job_1").respond(status, json=envelope("x", "no"))
        post = api.post("/v1/videos/generations").respond(status, json=envelope("x", "no"))
        with pytest.raises(EmpirioLabsError):
            hook.get_job("job_1")
        with pytest.raises(EmpirioLabsError) as info:
            hook.submit_video(request())
        assert not isinstance(info.value, EmpirioLabsSubmissionUnknownError)
        assert (get.call_count, post.call_count) == (1, 1)


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


# ---------------------------------------------------------------------------------------------
# The key stays secret
# ---------------------------------------------------------------------------------------------

ECHOING_BODIES = [
    envelope("invalid_api_key", f"Invalid API key provided: {KEY}."),
    {"code": "invalid_api_key", "message": f"key {KEY} is unknown"},
    {"error": f"bad key {KEY}"},
    {"detail": f"Authorization: Bearer {KEY} rejected"},
]


class TestSecrecy:
    @pytest.mark.parametrize("body", ECHOING_BODIES)
    def test_key_echoed_by_the_api_is_scrubbed(
        self,
        hook: EmpirioLabsHook,
        api: respx.MockRouter,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
        body: dict[str, Any],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        api.get("/v1/jobs/job_1").side_effect = [
            httpx.Response(429, headers={"Retry-After": "1"}, json=body),
            httpx.Response(401, json=body),
        ]
        with pytest.raises(EmpirioLabsAuthenticationError) as info:
            hook.get_job("job_1")
        error = info.value
        assert MASK in error.message
        assert_no_key(
            str(error),
            repr(error),
            error.message,
            error.args,
            "".join(traceback.format_exception(error)),
            [record.getMessage() for record in caplog.records],
        )
        text = logged(caplog, capfd)
        assert "retrying in 1.0 s" in text, "the retry was logged"
        assert_no_key(text)

    @pytest.mark.parametrize("body", ECHOING_BODIES)
    def test_key_scrubbed_from_a_failed_submission(
        self,
        hook: EmpirioLabsHook,
        api: respx.MockRouter,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
        body: dict[str, Any],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        api.post("/v1/videos/generations").respond(500, json=body)
        with pytest.raises(EmpirioLabsSubmissionUnknownError) as info:
            hook.submit_video(request())
        assert_no_key(
            str(info.value),
            repr(info.value),
            "".join(traceback.format_exception(info.value)),
            logged(caplog, capfd),
        )

    def test_key_not_in_test_connection_message(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        api.get("/v1/account/usage").respond(401, json=ECHOING_BODIES[0])
        ok, message = hook.test_connection()
        assert ok is False
        assert "invalid_api_key" in message
        assert_no_key(message)

    def test_key_not_in_repr(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        api.get("/v1/jobs/job_1").respond(200, json=JOB)
        assert_no_key(repr(hook), str(hook))
        hook.get_job("job_1")  # settings and client loaded
        assert_no_key(repr(hook), str(hook), repr(hook.settings), str(hook.settings), repr(hook.get_conn()))
        assert "empiriolabs_default" in repr(hook)

    def test_key_not_in_logs_of_a_whole_flow(
        self,
        hook: EmpirioLabsHook,
        api: respx.MockRouter,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        api.post("/v1/videos/generations").side_effect = [
            httpx.ConnectError("refused"),
            httpx.Response(202, json=ACCEPTED),
        ]
        api.get("/v1/jobs/job_new").respond(200, json=JOB)
        hook.get_job(hook.submit_video(request()))
        text = logged(caplog, capfd)
        assert "retrying in" in text, "the retry is logged"
        assert_no_key(text, [(r.msg, r.args) for r in caplog.records])


# ---------------------------------------------------------------------------------------------
# Async methods
# ---------------------------------------------------------------------------------------------


class TestAsync:
    async def test_aget_job(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.get("/v1/jobs/job_1").respond(200, json=JOB)
        job = await hook.aget_job("job_1")
        await hook.aclose()
        assert job.status is JobStatus.RUNNING
        assert job.progress == 0.5
        sent = route.calls.last.request
        assert sent.headers["authorization"] == f"Bearer {KEY}"
        assert sent.headers["user-agent"].startswith(f"airflow-provider-empiriolabs/{__version__}")

    async def test_aget_job_retried_and_honours_retry_after(
        self, hook: EmpirioLabsHook, api: respx.MockRouter, sleeps: list[float]
    ) -> None:
        route = api.get("/v1/jobs/job_1")
        route.side_effect = [
            httpx.Response(503, headers={"Retry-After": "3"}, json=envelope("upstream_error", "down")),
            httpx.ReadTimeout("read timed out"),
            httpx.Response(200, json=JOB),
        ]
        assert (await hook.aget_job("job_1")).job_id == "job_1"
        await hook.aclose()
        assert route.call_count == 3
        assert sleeps[0] == 3.0
        assert len(sleeps) == 2

    async def test_asubmit_video(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        route = api.post("/v1/videos/generations")
        route.side_effect = [
            httpx.ConnectError("refused"),
            httpx.Response(429, headers={"Retry-After": "1"}, json=envelope("rate_limit_exceeded", "slow")),
            httpx.Response(202, json=ACCEPTED),
        ]
        hook.max_attempts = 4
        assert await hook.asubmit_video(request()) == "job_new"
        await hook.aclose()
        assert route.call_count == 3

    @pytest.mark.parametrize(
        "failure",
        [httpx.ReadTimeout("read timed out"), httpx.Response(500, json=envelope("internal_error", "oops"))],
        ids=["read-timeout", "500"],
    )
    async def test_asubmit_video_not_retried(self, hook: EmpirioLabsHook, api: respx.MockRouter, failure: Any) -> None:
        route = api.post("/v1/videos/generations")
        route.side_effect = [failure, httpx.Response(202, json=ACCEPTED)]
        with pytest.raises(EmpirioLabsSubmissionUnknownError):
            await hook.asubmit_video(request())
        await hook.aclose()
        assert route.call_count == 1

    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (400, EmpirioLabsValidationError),
            (401, EmpirioLabsAuthenticationError),
            (402, EmpirioLabsInsufficientCreditsError),
        ],
    )
    async def test_async_errors_typed_and_not_retried(
        self, hook: EmpirioLabsHook, api: respx.MockRouter, status: int, error: type[EmpirioLabsError]
    ) -> None:
        route = api.post("/v1/videos/generations").respond(status, json=envelope("some_code", f"said {KEY}"))
        with pytest.raises(error) as info:
            await hook.asubmit_video(request())
        await hook.aclose()
        assert route.call_count == 1
        assert info.value.code == "some_code"
        assert_no_key(str(info.value))

    async def test_other_async_calls(self, hook: EmpirioLabsHook, api: respx.MockRouter) -> None:
        api.get("/v1/models").respond(200, json={"data": [{"id": "happyhorse-1-1"}]})
        assert [m["id"] for m in await hook.alist_models()] == ["happyhorse-1-1"]
        await hook.aclose()


# ---------------------------------------------------------------------------------------------
# Over real HTTP, against the simulator
# ---------------------------------------------------------------------------------------------


def wait_for_terminal(hook: EmpirioLabsHook, job_id: str, limit: float = 20.0) -> Job:
    deadline = time.monotonic() + limit
    while True:
        job = hook.get_job(job_id)
        if job.status.is_terminal():
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.raw_status} after {limit} s"
        time.sleep(0.1)


@pytest.fixture
def sim(empiriolabs_connection: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    return empiriolabs_connection


@pytest.fixture
def sim_hook(sim: EmpirioLabsSimulator) -> Iterator[EmpirioLabsHook]:
    h = EmpirioLabsHook(max_attempts=3)
    yield h
    h.close()


def request_times(hook: EmpirioLabsHook) -> list[tuple[float, str, str]]:
    """(monotonic time, method, path) of every request the hook's client sends from now on."""
    times: list[tuple[float, str, str]] = []
    hook.get_conn().event_hooks["request"].append(lambda r: times.append((time.monotonic(), r.method, r.url.path)))
    return times


class TestAgainstSimulator:
    def test_submit_and_poll_to_completion(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(VideoRequest.build(prompt="a horse at sunset", duration=3))
        assert job_id.startswith("job_")
        job = wait_for_terminal(sim_hook, job_id)
        assert job.status is JobStatus.SUCCEEDED
        assert job.progress == 1.0
        assert job.error is None
        assert len(job.output_urls) == 1
        assert job.output_urls[0].startswith(f"{sim.url}/v1/outputs/{job_id}/")
        assert job.billable_seconds == 3
        video = httpx.get(job.output_urls[0])
        assert video.status_code == 200
        assert video.content[4:8] == b"ftyp", "a real MP4"
        stats = sim.stats()
        assert stats["posts"] == 1
        assert stats["jobs_created"] == 1

    def test_failed_job_carries_the_error(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(VideoRequest.build(prompt="SIMULATE_CONTENT_POLICY", duration=3))
        job = wait_for_terminal(sim_hook, job_id)
        assert job.status is JobStatus.FAILED
        assert job.error is not None
        assert job.error.code == "content_policy_violation"
        assert not job.error.is_transient()
        assert job.output_urls == []

    def test_auth_failure_without_the_key(
        self,
        sim: EmpirioLabsSimulator,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        wrong = "sk-empiriolabs-WRONG-0123456789"
        monkeypatch.setenv(CONN_ENV, connection_json(sim.url, wrong))
        hook = EmpirioLabsHook(max_attempts=3)
        with pytest.raises(EmpirioLabsAuthenticationError) as info:
            hook.submit_video(request())
        hook.close()
        assert info.value.status_code == 401
        assert info.value.code == "invalid_api_key"
        assert wrong not in str(info.value)
        assert wrong not in repr(hook)
        assert wrong not in logged(caplog, capfd)
        stats = sim.stats()
        assert stats["unauthorized"] == 1, "a 401 is not retried"
        assert stats["jobs_created"] == 0

    def test_insufficient_credits_fail_at_once(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        sim.configure(credit_balance_usd=0.1)
        with pytest.raises(EmpirioLabsInsufficientCreditsError) as info:
            sim_hook.submit_video(request())
        assert info.value.status_code == 402
        assert info.value.code == "insufficient_credits"
        assert "$0.70" in info.value.message
        assert sim.stats()["posts"] == 1
        assert sim.stats()["jobs_created"] == 0

    def test_429_on_a_poll_honours_retry_after(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(request())
        sim.configure(fail_next_requests=[{"match": "poll", "status": 429, "retry_after": 1, "count": 1}])
        times = request_times(sim_hook)
        assert sim_hook.get_job(job_id).job_id == job_id
        polls = [t for t, method, _ in times if method == "GET"]
        assert len(polls) == 2
        assert polls[1] - polls[0] >= 1.0, "waited at least the Retry-After"
        assert sim.stats()["gets_per_job"][job_id] == 2

    def test_429_on_the_post_honours_retry_after_and_creates_one_job(
        self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook
    ) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 429, "retry_after": 1, "count": 1}])
        times = request_times(sim_hook)
        job_id = sim_hook.submit_video(request())
        assert len(times) == 2
        assert times[1][0] - times[0][0] >= 1.0
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (2, 1)
        assert sim_hook.get_job(job_id).job_id == job_id

    def test_the_accounts_rate_limit_is_waited_out(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        sim.configure(rate_limit_rpm=2)
        for _ in range(3):
            sim_hook.list_models()
        stats = sim.stats()
        assert stats["rate_limited"] >= 1
        assert stats["responses_by_status"]["200"] == 3

    def test_503_on_the_post_is_retried(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 503, "retry_after": 0, "count": 1}])
        job_id = sim_hook.submit_video(request())
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (2, 1)
        assert stats["responses_by_status"]["503"] == 1
        assert sim_hook.get_job(job_id).job_id == job_id

    def test_503_on_a_poll_is_retried_with_backoff(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(request())
        sim.configure(fail_next_requests=[{"match": "poll", "status": 503, "count": 1}])
        times = request_times(sim_hook)
        assert sim_hook.get_job(job_id).job_id == job_id
        assert len(times) == 2
        assert times[1][0] - times[0][0] >= 1.0, "exponential backoff starts at 1 s"
        assert sim.stats()["gets_per_job"][job_id] == 2

    @pytest.mark.parametrize("accepted", [False, True])
    def test_post_not_retried_after_a_500(
        self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook, accepted: bool
    ) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 500, "accepted": accepted}])
        with pytest.raises(EmpirioLabsSubmissionUnknownError) as info:
            sim_hook.submit_video(request())
        assert info.value.status_code == 500
        stats = sim.stats()
        assert stats["posts"] == 1
        assert stats["jobs_created"] == int(accepted)
        # What the error tells the user to do finds the job when there is one.
        assert len(sim_hook.get_account_usage().events) == int(accepted)

    def test_post_not_retried_after_a_dropped_connection(
        self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook
    ) -> None:
        sim.configure(fail_next_requests=[{"kind": "reset", "match": "post", "accepted": True}])
        with pytest.raises(EmpirioLabsSubmissionUnknownError):
            sim_hook.submit_video(request())
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (1, 1)

    def test_post_not_retried_after_a_read_timeout(self, sim: EmpirioLabsSimulator) -> None:
        sim.configure(fail_next_requests=[{"kind": "delay", "match": "post", "seconds": 1.5}])
        hook = EmpirioLabsHook(timeout=0.3, max_attempts=3)
        with pytest.raises(EmpirioLabsSubmissionUnknownError, match="ReadTimeout"):
            hook.submit_video(request())
        hook.close()
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (1, 1)

    def test_unknown_job_is_not_found_at_once(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        with pytest.raises(EmpirioLabsNotFoundError) as info:
            sim_hook.get_job("job_doesnotexist")
        assert info.value.status_code == 404
        assert sim.stats()["gets_per_job"]["job_doesnotexist"] == 1

    def test_test_connection_true(self, sim: EmpirioLabsSimulator) -> None:
        ok, message = EmpirioLabsHook().test_connection()
        assert ok is True
        assert sim.url in message

    def test_test_connection_false(self, sim: EmpirioLabsSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
        wrong = "sk-empiriolabs-NOT-THE-KEY-42"
        monkeypatch.setenv(CONN_ENV, connection_json(sim.url, wrong))
        ok, message = EmpirioLabsHook().test_connection()
        assert ok is False
        assert "401" in message
        assert "invalid_api_key" in message
        assert wrong not in message

    def test_test_connection_unreachable(self, set_conn: Callable[..., None]) -> None:
        set_conn(host="http://127.0.0.1:9", password=KEY)
        ok, message = EmpirioLabsHook(max_attempts=1).test_connection()
        assert ok is False
        assert message
        assert_no_key(message)

    def test_list_models_and_get_model(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        ids = [m["id"] for m in sim_hook.list_models()]
        assert HAPPYHORSE_MODEL in ids
        model = sim_hook.get_model(HAPPYHORSE_MODEL)
        assert model["id"] == HAPPYHORSE_MODEL
        assert {"prompt", "duration", "seed"} <= {p["name"] for p in model["supported_parameters"]}
        prices = {row["resolution"]: row["price_usd"] for row in model["pricing_rows"]}
        assert prices == PRICE_USD_PER_SECOND[HAPPYHORSE_MODEL]
        with pytest.raises(EmpirioLabsNotFoundError) as info:
            sim_hook.get_model("no-such-model")
        assert info.value.code == "model_not_found"

    def test_account_usage_costs_what_was_estimated(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        before = sim_hook.get_account_usage()
        assert before.events == []
        req = VideoRequest.build(prompt="a horse", resolution="1080p", duration=4)
        job_id = sim_hook.submit_video(req)
        after = sim_hook.get_account_usage()
        assert [e.job_id for e in after.events] == [job_id]
        assert after.events[0].cost_usd == pytest.approx(req.estimated_cost_usd())
        assert after.events[0].cost_usd == pytest.approx(estimate_cost_usd(HAPPYHORSE_MODEL, "1080p", 4))
        assert before.balance_usd is not None
        assert after.balance_usd == pytest.approx(before.balance_usd - 0.72)
        assert sim_hook.get_account_usage(model="wan-2-5").events == []

    def test_upload_file_and_use_it(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
        uploaded = sim_hook.upload_file(io.BytesIO(png), "horse.png", "image/png")
        assert uploaded.path.startswith("bunny://")
        assert sim.stats()["uploads"] == 1
        job_id = sim_hook.submit_video(VideoRequest.build(prompt="it runs", images=[uploaded.path], duration=3))
        assert wait_for_terminal(sim_hook, job_id).status is JobStatus.SUCCEEDED

    def test_upload_refused_type_is_a_validation_error(self, sim_hook: EmpirioLabsHook) -> None:
        with pytest.raises(EmpirioLabsValidationError) as info:
            sim_hook.upload_file(b"text", "a.txt", "text/plain")
        assert info.value.status_code == 400

    async def test_async_submit_and_poll(self, sim: EmpirioLabsSimulator) -> None:
        hook = EmpirioLabsHook(max_attempts=3)
        try:
            job_id = await hook.asubmit_video(VideoRequest.build(prompt="async horse", duration=3))
            deadline = time.monotonic() + 20
            job = await hook.aget_job(job_id)
            while not job.status.is_terminal():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
                job = await hook.aget_job(job_id)
        finally:
            await hook.aclose()
        assert job.status is JobStatus.SUCCEEDED
        assert job.output_urls
        assert sim.stats()["posts"] == 1

    async def test_async_post_not_retried_after_a_500(self, sim: EmpirioLabsSimulator) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 500}])
        hook = EmpirioLabsHook(max_attempts=3)
        with pytest.raises(EmpirioLabsSubmissionUnknownError):
            await hook.asubmit_video(request())
        await hook.aclose()
        assert sim.stats()["posts"] == 1
