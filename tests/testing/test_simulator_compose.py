"""
The simulator's Compose endpoints over real HTTP with plain httpx, and the client and the simulator
agreeing on what a Compose request may be (each keeps its own copy of the rules).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models.compose_request import ComposeRequest, ComposeResult
from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
from tests.testing.test_simulator import api, fast, sim

__all__ = ["api", "sim"]  # the fixtures, shared with the simulator's own tests

RECIPE = "ai-ugc-product-ad"
BRIEF = "A travel mug that keeps coffee hot"


def _compose(api: httpx.Client, **body: Any) -> str:
    resp = api.post("/v1/videos/compose", json={"recipe": RECIPE, **body})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["job_id"])


def _finished(api: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "processing"):
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_recipes_list_their_metadata(api: httpx.Client) -> None:
    recipes = {r["slug"]: r for r in api.get("/v1/videos/compose/recipes").json()["data"]}
    assert RECIPE in recipes and "auto-captions" in recipes
    assert {"scene_count", "aspect_ratios", "requires_face_image", "models"} <= set(recipes[RECIPE])


def test_plan_render_edit_are_jobs_that_succeed_and_are_billed_in_usage(
    api: httpx.Client, sim: EmpirioLabsSimulator
) -> None:
    fast(sim)
    plan = _finished(api, _compose(api, mode="plan", brief=BRIEF, scene_count=2))
    assert plan["status"] == "succeeded"  # the Compose blog's word
    storyboard = plan["result"]["storyboard"]
    assert [scene["index"] for scene in storyboard["scenes"]] == [0, 1]
    assert plan["result"]["data"] == []  # no video yet

    render = _finished(api, _compose(api, mode="render", storyboard=storyboard))
    [video] = render["result"]["data"]
    assert video["url"].startswith(sim.url) and "signature=" in video["url"]
    manifest = render["result"]["manifest"]
    edit = _finished(api, _compose(api, mode="edit", manifest=manifest, edits=[{"scene_index": 0, "instruction": "x"}]))
    assert edit["status"] == "succeeded" and edit["result"]["data"]

    events = api.get("/v1/account/usage").json()["data"]
    assert [e["source"] for e in events] == ["compose"] * 3
    assert [e["metadata"]["phase"] for e in events] == ["edit", "render", "plan"]  # newest first
    by_phase = {e["metadata"]["phase"]: e for e in events}
    assert by_phase["render"]["cost"]["amount"] == pytest.approx(0.70)  # 2 scenes
    # What actual cost matches a job by (signed afresh on every answer, as every output URL is).
    assert [url.split("?")[0] for url in by_phase["render"]["output_urls"]] == [video["url"].split("?")[0]]
    assert by_phase["plan"]["output_urls"] == []
    assert render["result"]["usage"]["cost_usd"] == pytest.approx(0.70)
    assert sim.stats()["posts"] == 3


def test_a_failing_brief_fails_the_plan(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim)
    job = _finished(api, _compose(api, brief="a mug SIMULATE_CONTENT_POLICY"))
    assert job["status"] == "failed"


# -- the client and the simulator agree -------------------------------------------------------------

GOOD: list[dict[str, Any]] = [
    {"brief": BRIEF},
    {"script": "Line one.\nLine two.", "scene_count": 12, "product_image": "https://example.com/mug.jpg"},
    {"mode": "render", "storyboard": {"scenes": [{"index": 0, "duration_seconds": 3, "extra": [1]}], "x": 1}},
    {"mode": "edit", "manifest": {"scenes": []}, "edits": [{"scene_index": 2, "instruction": "brighter"}]},
]
BAD: list[tuple[dict[str, Any], str]] = [
    ({"mode": "plan"}, "brief"),
    ({"mode": "render"}, "storyboard"),
    ({"mode": "edit", "edits": [{"scene_index": 0, "instruction": "x"}]}, "manifest"),
    ({"mode": "edit", "manifest": {}}, "edits"),
    ({"brief": BRIEF, "scene_count": 13}, "scene_count"),
    ({"brief": BRIEF, "product_image": "s3://bucket/mug.jpg"}, "product_image"),
    ({"mode": "render", "storyboard": {"scenes": [{"image_url": "ftp://x/y.png"}]}}, "image_url"),
    ({"mode": "render", "storyboard": {"scenes": [{"duration_seconds": -2}]}}, "duration_seconds"),
]


@pytest.mark.parametrize("fields", GOOD)
def test_what_the_client_sends_the_simulator_accepts(api: httpx.Client, fields: dict[str, Any]) -> None:
    body = ComposeRequest.build(recipe=RECIPE, **fields).to_payload()
    resp = api.post("/v1/videos/compose", json=body)
    assert resp.status_code == 202, resp.text


@pytest.mark.parametrize(("fields", "param"), BAD)
def test_what_the_client_refuses_the_simulator_refuses_too(
    api: httpx.Client, sim: EmpirioLabsSimulator, fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(EmpirioLabsRequestError, match=param):
        ComposeRequest.build(recipe=RECIPE, **fields)
    resp = api.post("/v1/videos/compose", json={"recipe": RECIPE, **fields})
    assert resp.status_code == 400
    assert param in resp.json()["error"]["param"]
    assert sim.stats()["jobs_created"] == 0


def test_the_client_reads_the_simulators_results(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim)
    plan = ComposeResult.from_api(_finished(api, _compose(api, brief=BRIEF)))
    assert plan.storyboard is not None and plan.storyboard["scenes"]
    render = ComposeResult.from_api(_finished(api, _compose(api, mode="render", storyboard=plan.storyboard)))
    assert render.manifest is not None and render.storyboard is None


_url = st.sampled_from(["https://example.com/a.png", "http://cdn.example.com/x/y.mp4?v=1", "HTTPS://EXAMPLE.COM/Z"])
_json_leaf = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=12)
_scene = st.fixed_dictionaries(
    {},
    optional={
        "index": st.integers(0, 50),
        "narration": st.text(max_size=40),
        "visual_prompt": st.text(max_size=40),
        "caption": st.text(max_size=20),
        "duration_seconds": st.floats(0.1, 600, allow_nan=False) | st.integers(1, 600),
        "image_url": _url,
        "video_url": _url,
        "camera": _json_leaf,
    },
)
_storyboard = st.fixed_dictionaries(
    {"scenes": st.lists(_scene, max_size=6)},
    optional={"title": st.text(max_size=30), "aspect_ratio": st.sampled_from(["9:16", "16:9"]), "mood": _json_leaf},
)
_request = st.one_of(
    st.fixed_dictionaries(
        {"mode": st.just("plan"), "brief": st.text(min_size=1, max_size=60)},
        optional={"scene_count": st.integers(1, 12), "product_image": _url, "speakers": st.booleans()},
    ),
    st.fixed_dictionaries({"mode": st.just("render"), "storyboard": _storyboard}),
    st.fixed_dictionaries(
        {
            "mode": st.just("edit"),
            "manifest": st.dictionaries(st.text(max_size=8), _json_leaf, max_size=3),
            "edits": st.lists(
                st.fixed_dictionaries({"scene_index": st.integers(0, 11), "instruction": st.text(min_size=1)}),
                min_size=1,
                max_size=3,
            ),
        }
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=_request)
def test_every_request_the_client_would_send_the_simulator_accepts(
    api: httpx.Client, sim: EmpirioLabsSimulator, fields: dict[str, Any]
) -> None:
    sim.configure(rate_limit_rpm=0, credit_balance_usd=1000.0)  # many requests: agreement, not the budget
    try:
        body = ComposeRequest.build(recipe=RECIPE, **fields).to_payload()
    except EmpirioLabsRequestError:
        return  # refused before sending (a blank brief, a control character): nothing to agree on
    resp = api.post("/v1/videos/compose", json=body)
    assert resp.status_code == 202, (body, resp.text)
