"""
The hook's async methods (``hooks/_clients.py``); respx, no network.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from airflow_provider_empiriolabs import __version__
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
    EmpirioLabsError,
    EmpirioLabsInsufficientCreditsError,
    EmpirioLabsSubmissionUnknownError,
    EmpirioLabsValidationError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import (
    EmpirioLabsHook,
)
from airflow_provider_empiriolabs.models import (
    JobStatus,
)
from tests.hooks.support import ACCEPTED, JOB, KEY, assert_no_key, envelope, request

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
# The TLS context
# ---------------------------------------------------------------------------------------------


async def test_every_client_verifies_with_one_tls_context_read_once_per_process(hook: EmpirioLabsHook) -> None:
    import ssl

    from airflow_provider_empiriolabs.hooks._clients import tls_context

    other = EmpirioLabsHook(empiriolabs_conn_id=hook.empiriolabs_conn_id)
    contexts = {
        id(client._transport._pool._ssl_context)  # type: ignore[attr-defined]
        for client in (hook.get_conn(), other.get_conn(), await hook.aget_conn())
    }
    assert contexts == {id(tls_context())}  # one bundle read, not one per client
    context = tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname  # still verifying
    assert context.cert_store_stats()["x509_ca"] > 0  # with the CAs loaded
    hook.close()
    other.close()
    await hook.aclose()
