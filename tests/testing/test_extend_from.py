"""
The simulator's ``extend_from``, over plain httpx: only a finished video of the account can be extended.

It plays the API's side for the chain operator's tests, so what it refuses the real API
presumably refuses: an unknown job, a video URL that is not http(s), and a job whose video does
not exist yet (queued or processing) or never will (failed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator


@pytest.fixture
def api(empiriolabs_simulator: EmpirioLabsSimulator) -> Iterator[httpx.Client]:
    sim = empiriolabs_simulator
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10) as client:
        yield client


#: "Extend works on every video model": each model the simulator serves (a spec'd one and a passthrough).
MODELS = ["happyhorse-1-1", "wan-2-5"]


def post(
    api: httpx.Client, prompt: str = "a horse galloping on a beach", model: str = "happyhorse-1-1", **fields: Any
) -> httpx.Response:
    return api.post("/v1/videos/generations", json={"model": model, "prompt": prompt, **fields})


def finished(api: httpx.Client, job_id: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        status = str(api.get(f"/v1/jobs/{job_id}").json()["status"])
        if status in ("completed", "failed"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def refused(response: httpx.Response, param: str, said: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and said in error["message"], error


def test_a_completed_job_is_extended_and_the_source_kept(
    empiriolabs_simulator: EmpirioLabsSimulator, api: httpx.Client
) -> None:
    sim = empiriolabs_simulator
    sim.configure(render_base_seconds=1, render_seconds_per_video_second=0.5)
    source = post(api).json()["job_id"]
    assert finished(api, source) == "completed"

    extension = post(api, extend_from={"job_id": source}, duration=3)

    assert extension.status_code == 202, extension.text
    assert sim.stats()["extends"] == {extension.json()["job_id"]: {"job_id": source}}


@pytest.mark.parametrize("model", MODELS)
def test_an_unknown_job_is_refused_unbilled(
    empiriolabs_simulator: EmpirioLabsSimulator, api: httpx.Client, model: str
) -> None:
    balance = empiriolabs_simulator.stats()["balance_usd"]
    unknown = {"job_id": "job_0123456789abcdef01234567"}
    refused(post(api, model=model, extend_from=unknown), "extend_from.job_id", "unknown job")
    assert empiriolabs_simulator.stats()["balance_usd"] == balance


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("url", ["ftp://videos.example.com/1.mp4", "file:///etc/passwd", "videos.example.com/1.mp4"])
def test_a_video_url_that_is_not_http_is_refused(api: httpx.Client, url: str, model: str) -> None:
    refused(post(api, model=model, extend_from={"video_url": url}), "extend_from.video_url", "http(s)")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("extend", [{}, {"job_id": "job_1", "video_url": "https://v.example.com/1.mp4"}, "job_1"])
def test_a_malformed_extend_from_is_refused(api: httpx.Client, extend: Any, model: str) -> None:
    refused(post(api, model=model, extend_from=extend), "extend_from", "must be {'job_id': ...} or {'video_url': ...}")


def test_an_unfinished_job_is_refused(empiriolabs_simulator: EmpirioLabsSimulator, api: httpx.Client) -> None:
    empiriolabs_simulator.configure(render_base_seconds=3600)
    source = post(api).json()["job_id"]
    refused(post(api, extend_from={"job_id": source}), "extend_from.job_id", "only a completed video can be extended")


def test_a_failed_job_is_refused(empiriolabs_simulator: EmpirioLabsSimulator, api: httpx.Client) -> None:
    empiriolabs_simulator.configure(render_base_seconds=0, render_seconds_per_video_second=0)
    source = post(api, prompt="a horse SIMULATE_CONTENT_POLICY").json()["job_id"]
    assert finished(api, source) == "failed"
    refused(post(api, extend_from={"job_id": source}), "extend_from.job_id", "is failed")
