"""
The billed POST is sent again only when it provably did not get in, whatever the answer's kind.

Every other request is retried on a transient answer (408, 425, 429, 5xx). The job submission is
billed, so a second POST after an answer that does not prove the first one was refused could pay
twice: it is repeated only after a 429 or the API's own 503 (its error envelope or a Retry-After),
as ``_outcome.provably_not_sent`` writes. A 408 or a 425 is transient for a GET but not proof
for the POST; this test pins that, status by status, against respx (one unit, no network).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
import tenacity.nap

from airflow_provider_empiriolabs.exceptions import EmpirioLabsError
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget
from airflow_provider_empiriolabs.models import VideoRequest

BASE = "https://api.empiriolabs.test"
ENVELOPE = {"error": {"code": "busy", "message": "try again"}}
ACCEPTED = {"job_id": "job_new", "status": "queued", "poll_url": "/v1/jobs/job_new"}

#: (status, body, headers) -> is the POST sent again?
CASES: list[tuple[int, Any, dict[str, str], bool]] = [
    (400, ENVELOPE, {}, False),
    (408, ENVELOPE, {}, False),
    (409, ENVELOPE, {}, False),
    (422, ENVELOPE, {}, False),
    (425, ENVELOPE, {}, False),
    (429, ENVELOPE, {"Retry-After": "0"}, True),
    (500, ENVELOPE, {}, False),
    (502, None, {}, False),
    (503, None, {}, False),  # a bare 503 may be a proxy's, after the API created the job
    (503, ENVELOPE, {}, True),  # the API's own 503: it refused the job
    (503, None, {"Retry-After": "0"}, True),
    (504, None, {}, False),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "sent_again"),
    CASES,
    ids=[f"{s}-{'envelope' if b else 'bare'}{'-retry-after' if h else ''}" for s, b, h, _ in CASES],
)
def test_the_billed_post_is_sent_again_only_when_provably_refused(
    status: int, body: Any, headers: dict[str, str], sent_again: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT",
        json.dumps({"conn_type": "empiriolabs", "host": BASE, "password": "sk-empiriolabs-UNIT-0123456789abcdef"}),
    )
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=lambda seconds: None))
    monkeypatch.setattr(RequestBudget, "pause", lambda self, seconds: None)
    content = json.dumps(body).encode() if body is not None else b"Service Unavailable"
    with respx.mock(base_url=BASE, assert_all_called=False) as api:
        post = api.post("/v1/videos/generations").mock(
            side_effect=[httpx.Response(status, content=content, headers=headers), httpx.Response(200, json=ACCEPTED)]
        )
        hook = EmpirioLabsHook(max_attempts=3)
        try:
            if sent_again:
                assert hook.submit_video(VideoRequest.build(prompt="A horse in the rain")) == "job_new"
            else:
                with pytest.raises(EmpirioLabsError):
                    hook.submit_video(VideoRequest.build(prompt="A horse in the rain"))
        finally:
            hook.close()

    assert post.call_count == (2 if sent_again else 1)
