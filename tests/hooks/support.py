"""
What the hook's unit tests share: the fake API's base URL, key and answers, and log helpers.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_empiriolabs.models import (
    VideoRequest,
)

BASE = "https://api.empiriolabs.test"
KEY = "sk-empiriolabs-UNIT-test-key-0123456789abcdef"
CONN_ENV = "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"
JOB = {"job_id": "job_1", "status": "processing", "progress": 0.5, "result": None, "error": None}
ACCEPTED = {"job_id": "job_new", "status": "queued", "poll_url": "/v1/jobs/job_new"}


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "api_error", "code": code}}


def request() -> VideoRequest:
    return VideoRequest.build(prompt="a horse on a beach", duration=5)


def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything logged so far: stdlib records (httpx, ...) and Airflow's structlog output."""
    out, err = capfd.readouterr()
    return "\n".join([caplog.text, out, err])


def assert_no_key(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text), f"API key leaked in {text!r}"
