"""
The hook's requests and how answers become errors (``hooks/_calls.py``,
``hooks/_responses.py``); respx, no network.
"""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
import respx

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
    EmpirioLabsHook,
)
from airflow_provider_empiriolabs.models import (
    HAPPYHORSE_MODEL,
    Job,
    JobStatus,
    VideoRequest,
)
from tests.hooks.support import ACCEPTED, JOB, KEY, envelope, request

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
