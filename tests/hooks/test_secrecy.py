"""
The API key stays out of the hook's logs, errors and reprs; respx, no network.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
    EmpirioLabsSubmissionUnknownError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import (
    EmpirioLabsHook,
)
from airflow_provider_empiriolabs.redaction import MASK
from tests.hooks.support import ACCEPTED, JOB, KEY, assert_no_key, envelope, logged, request

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
