"""
The simulator serves every model with a spec file and enforces it: over real HTTP, with plain httpx.

A body the spec refuses is answered 400 with the OpenAI-style envelope naming the parameter; an
accepted one is billed by the spec's price rows (per second, per clip, plus fees), in the job's
usage, the account's usage history and its balance. The expected prices are typed here by hand
from the model pages (tests/models/test_specs_by_hand.py holds the full tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator

IMG = "https://assets.example.com/a.png"
VID = "https://assets.example.com/a.mp4"


@pytest.fixture
def sim(empiriolabs_simulator: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    empiriolabs_simulator.configure(render_base_seconds=1, render_seconds_per_video_second=0.05)
    return empiriolabs_simulator


@pytest.fixture
def api(sim: EmpirioLabsSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10) as c:
        yield c


#: (model, body, USD) typed from the pages: one accepted request per family.
ACCEPTED: list[tuple[str, dict[str, Any], float]] = [
    ("happyhorse-1-0", {"resolution": "720p", "duration": 4}, 4 * 0.14),
    ("happyhorse-1-0", {"mode": "videoedit", "image": IMG, "video": VID, "duration": 6}, 6 * 0.24),
    ("kling-3-0-turbo", {"resolution": "1080p", "duration": 10}, 10 * 0.225),
    ("kling-o3", {"prompt": "5s: a fox | 10s: a hare", "model_tier": "standard"}, 15 * 0.224),
    ("seedance-2-0-fast", {"custom_duration": True, "duration": 7, "resolution": "480p"}, 7 * 0.122),
    ("seedance-2-0-fast", {"custom_duration": False}, 5 * 0.26),  # the model's length: 5 s here
    ("wan-2-6", {"mode": "i2v", "image": IMG, "flash_mode": True, "audio": True, "resolution": "720p"}, 5 * 0.045),
    ("pixverse-v5-6", {"resolution": "720p", "duration": 8, "audio": True}, 2.60),
    ("svi-2-0-pro", {"resolution": "1280x720", "duration": 20, "t2v_quality": "fast"}, 20 * 0.17 + 0.065),
    ("svi-2-0-pro", {"image": IMG, "duration": 18}, 18 * 0.057),
    # no row prices 4K with a video input (the spec leaves it unpriced, not refused): the dearest row
    ("kling-o3", {"model_tier": "4k", "workflow": "video_edit", "video": VID, "duration": 4}, 4 * 0.525),
]


@pytest.mark.parametrize(("model", "body", "usd"), ACCEPTED, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(ACCEPTED)])
def test_a_model_with_a_spec_is_served_and_billed_by_its_rows(
    model: str, body: dict[str, Any], usd: float, sim: EmpirioLabsSimulator, api: httpx.Client
) -> None:
    before = api.get("/v1/account/usage").json()["balance_usd"]
    resp = api.post("/v1/videos/generations", json={"model": model, "prompt": "a fox in snow", **body})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]

    usage = api.get("/v1/account/usage").json()
    assert usage["balance_usd"] == pytest.approx(before - usd)
    (event,) = usage["data"]
    assert (event["job_id"], event["model"]) == (job_id, model)
    assert event["cost"]["amount"] == pytest.approx(usd)

    sim.configure(time_scale=10_000)
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "completed", job
    assert job["result"]["usage"]["cost_usd"] == pytest.approx(usd)


#: (model, body, parameter, words of the rule): each refused with 400 naming the parameter.
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("happyhorse-1-0", {"mode": "videoedit", "image": IMG}, "video", "Required for videoedit"),
    ("happyhorse-1-0", {"duration": 16}, "duration", "3 to 15"),
    ("kling-3-0-turbo", {"aspect_ratio": "4:3"}, "aspect_ratio", "'16:9', '9:16', '1:1'"),
    ("kling-3-0-turbo", {"generate_audio": True}, "generate_audio", "takes no such parameter"),
    ("kling-o3", {"prompt": "a|b|c|d|e|f|g"}, "prompt", "at most 6 scenes"),
    ("seedance-2-0-fast", {"custom_duration": False, "duration": 5}, "duration", "custom_duration=true"),
    ("wan-2-6", {"mode": "t2v", "flash_mode": True}, "flash_mode", "i2v and r2v only"),
    ("wan-2-6", {"duration": 4}, "duration", "5 to 15"),
    ("pixverse-v5-6", {"resolution": "1080p", "duration": 10}, "resolution", "no price row"),
    ("svi-2-0-pro", {"duration": 10}, "duration", "18 to 121.5"),
    ("svi-2-0-pro", {"prompt": None}, "prompt", "required by svi-2-0-pro"),
    ("wan-2-6", {"image": "not a url", "mode": "i2v"}, "image", "http(s) URL"),
]


@pytest.mark.parametrize(
    ("model", "body", "param", "says"), REFUSED, ids=[f"{m}-{p}-{i}" for i, (m, _, p, _) in enumerate(REFUSED)]
)
def test_a_body_its_spec_refuses_is_answered_400_naming_the_parameter(
    model: str, body: dict[str, Any], param: str, says: str, sim: EmpirioLabsSimulator, api: httpx.Client
) -> None:
    balance = api.get("/v1/account/usage").json()["balance_usd"]
    resp = api.post("/v1/videos/generations", json={"model": model, "prompt": "a fox in snow", **body})

    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "invalid_request", param)
    assert says in error["message"]
    assert sim.stats()["jobs_created"] == 0
    assert api.get("/v1/account/usage").json()["balance_usd"] == balance


def test_an_image_model_is_refused_on_the_video_endpoint(api: httpx.Client) -> None:
    resp = api.post("/v1/videos/generations", json={"model": "flux-2-klein-4b", "prompt": "a fox"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "model"


def test_strict_parameters_off_lets_a_parameter_the_spec_does_not_list_through(
    sim: EmpirioLabsSimulator, api: httpx.Client
) -> None:
    sim.configure(strict_parameters=False)
    resp = api.post("/v1/videos/generations", json={"model": "kling-3-0-turbo", "prompt": "a fox", "fps": 30})
    assert resp.status_code == 202, resp.text
    resp = api.post("/v1/videos/generations", json={"model": "kling-3-0-turbo", "prompt": "a fox", "duration": 99})
    assert resp.status_code == 400  # the rest of the spec still holds


def test_the_balance_refuses_what_the_spec_prices_above_it(sim: EmpirioLabsSimulator, api: httpx.Client) -> None:
    sim.configure(credit_balance_usd=2.0)
    body = {"model": "pixverse-v5-6", "prompt": "a fox", "resolution": "1080p", "duration": 8, "audio": True}
    resp = api.post("/v1/videos/generations", json=body)  # $3.00 a clip
    assert resp.status_code == 402
    assert "$3.00" in resp.json()["error"]["message"]
