"""The simulator's ``POST /v1/images/generations``, over real HTTP with plain httpx (never the provider's client)."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
from airflow_provider_empiriolabs.testing.image import PNG_SIGNATURE

if TYPE_CHECKING:
    from collections.abc import Iterator

SEEDREAM = "seedream-5-0-lite"


@pytest.fixture
def api(empiriolabs_simulator: EmpirioLabsSimulator) -> Iterator[httpx.Client]:
    empiriolabs_simulator.configure(render_base_seconds=1)
    sim = empiriolabs_simulator
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10) as c:
        yield c


def _job(api: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def test_a_job_by_default_polled_like_a_video_its_images_downloadable(
    api: httpx.Client, empiriolabs_simulator: EmpirioLabsSimulator
) -> None:
    resp = api.post("/v1/images/generations", json={"model": SEEDREAM, "prompt": "a cat", "max_images": 3})
    assert resp.status_code == 202 and "data" not in resp.json()
    job = _job(api, resp.json()["job_id"])
    urls = [item["url"] for item in job["result"]["data"]]
    assert len(urls) == 3
    assert job["result"]["usage"] == {"billable_units": 3, "billing_unit": "image", "cost_usd": 0.105}
    image = httpx.get(urls[0])
    assert image.headers["content-type"] == "image/png" and image.content.startswith(PNG_SIGNATURE)
    stats = empiriolabs_simulator.stats()
    assert stats["posts"] == 1 and stats["jobs_created"] == 1
    [event] = api.get("/v1/account/usage").json()["data"]
    assert (event["billing_unit"], event["billable_units"], event["cost"]["amount"]) == ("image", 3, 0.105)


def test_sync_answers_openai_shaped_data_urls_or_b64_png(api: httpx.Client) -> None:
    held = api.post(
        "/v1/images/generations", json={"model": SEEDREAM, "prompt": "a cat", "max_images": 2, "sync": True}
    )
    assert held.status_code == 200 and "job_id" not in held.json()
    assert [set(item) for item in held.json()["data"]] == [{"url"}, {"url"}]

    body = {"model": "flux-2-klein-4b", "prompt": "a cat", "sync": True, "response_format": "b64_json"}
    b64 = api.post("/v1/images/generations", json=body)
    [item] = b64.json()["data"]
    assert base64.b64decode(item["b64_json"]).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "flux-2-klein-4b", "num_images": 9}, 400, "num_images"),
        ({"model": SEEDREAM, "quality": "9K"}, 400, "quality"),
        ({"model": SEEDREAM, "bogus": 1}, 400, "bogus"),
        ({"model": "qwen-image-2-0", "image": ["https://a.example/1.png"] * 4}, 400, "image"),
        ({"model": "happyhorse-1-1"}, 404, "model"),
        ({"model": "no-such-image-model"}, 404, "model"),
    ],
)
def test_the_models_spec_refuses_naming_the_field(
    api: httpx.Client, empiriolabs_simulator: EmpirioLabsSimulator, body: dict[str, Any], status: int, param: str
) -> None:
    resp = api.post("/v1/images/generations", json={"prompt": "a cat", **body})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["param"] == param
    assert empiriolabs_simulator.stats()["jobs_created"] == 0
