"""The Compose request: each mode's rule, http(s) inputs only, no price, and a tolerant reading of the result."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models.compose_request import ComposeRequest, ComposeResult, Storyboard

BRIEF = "A travel mug that keeps coffee hot for 12 hours"
STORYBOARD: dict[str, Any] = {
    "title": "Travel Mug UGC",
    "scenes": [
        {"index": 0, "narration": "Meet the mug", "visual_prompt": "a mug on a desk", "duration_seconds": 4},
        {"index": 1, "narration": "Hot all day", "caption": "12 h", "duration_seconds": 5.5, "model": "x"},
    ],
    "social_caption": "kept as given",
}
MANIFEST = {"recipe": "ai-ugc-product-ad", "scenes": [{"index": 0, "scene_id": "scn_1"}]}


def test_a_plan_is_sent_as_the_docs_show_it() -> None:
    request = ComposeRequest.build(
        recipe="ai-ugc-product-ad", mode="plan", brief=BRIEF, product_image="https://example.com/mug.jpg"
    )
    assert request.to_payload() == {
        "recipe": "ai-ugc-product-ad",
        "mode": "plan",
        "brief": BRIEF,
        "product_image": "https://example.com/mug.jpg",
    }
    assert ComposeRequest.endpoint == "/v1/videos/compose"


def test_a_render_keeps_the_storyboards_own_keys_and_counts_its_seconds() -> None:
    request = ComposeRequest.build(recipe="ai-ugc-product-ad", mode="render", storyboard=STORYBOARD)
    body = request.to_payload()
    assert body["storyboard"]["social_caption"] == "kept as given"
    assert body["storyboard"]["scenes"][1]["model"] == "x"
    assert request.billed_seconds == pytest.approx(9.5)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"mode": "plan"}, "brief: mode plan needs a brief or a script"),
        ({"mode": "render", "brief": BRIEF}, "storyboard: mode render needs the storyboard"),
        ({"mode": "edit", "edits": [{"scene_index": 0, "instruction": "x"}]}, "manifest: mode edit needs"),
        ({"mode": "edit", "manifest": MANIFEST}, "edits: mode edit needs at least one"),
        ({"mode": "edit", "manifest": MANIFEST, "edits": []}, "edits: mode edit needs at least one"),
        ({"brief": BRIEF, "edits": [{"scene_index": 0, "instruction": "x"}]}, "edits: only mode edit takes edits"),
        ({"mode": "publish", "brief": BRIEF}, "mode: Input should be 'plan', 'render' or 'edit'"),
        ({"brief": BRIEF, "scene_count": 13}, "scene_count: Input should be less than or equal to 12"),
        ({"brief": BRIEF, "scene_count": 0}, "scene_count: Input should be greater than or equal to 1"),
        ({"brief": BRIEF, "scene_count": True}, "scene_count: must be a number, not a boolean"),
        ({"brief": BRIEF, "product_image": "s3://bucket/mug.jpg"}, "product_image: must be an http(s):// URL"),
        ({"brief": BRIEF, "face_image": "/tmp/face.png"}, "face_image: must be an http(s):// URL"),
        ({"brief": BRIEF, "video": "bunny://uploads/x/v.mp4"}, "video: must be an http(s):// URL"),
        (
            {"mode": "render", "storyboard": {"scenes": [{"index": 0, "image_url": "file:///etc/passwd"}]}},
            "storyboard.scenes.0.image_url: must be an http(s):// URL",
        ),
        (
            {"mode": "render", "storyboard": {"scenes": [{"duration_seconds": -1}]}},
            "storyboard.scenes.0.duration_seconds: Input should be greater than 0",
        ),
        (
            {"mode": "edit", "manifest": MANIFEST, "edits": [{"scene_index": -1, "instruction": "x"}]},
            "edits.0.scene_index: Input should be greater than or equal to 0",
        ),
        (
            {"mode": "edit", "manifest": MANIFEST, "edits": [{"scene_index": 0, "instruction": " "}]},
            "edits.0.instruction: blank: no visible character among 1 character; must not be blank",
        ),
        ({"brief": "\x00"}, "brief: must not hold control characters"),
        ({"brief": BRIEF, "model_overrides": {"dance": "m"}}, "model_overrides: stages are script, visual"),
        (
            {"brief": BRIEF, "script_model": "a", "model_overrides": {"script": "b"}},
            "script_model: give either script_model or model_overrides.script",
        ),
        ({"brief": BRIEF, "parameters": {"x": float("nan")}}, "parameters: must hold JSON values only"),
        ({"brief": BRIEF, "voice": "alloy\n"}, "voice: must be a short value"),
        ({"brief": BRIEF, "prompt": "x"}, "prompt: Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(EmpirioLabsRequestError) as caught:
        ComposeRequest.build(recipe="ai-ugc-product-ad", **fields)
    assert named in str(caught.value)


@pytest.mark.parametrize("recipe", ["", "AI UGC", "../x", "a" * 101, "ad\n"])
def test_a_recipe_is_a_slug(recipe: str) -> None:
    with pytest.raises(EmpirioLabsRequestError, match="recipe: must be a recipe slug"):
        ComposeRequest.build(recipe=recipe, brief=BRIEF)


def test_templated_fields_are_read_as_their_type() -> None:
    request = ComposeRequest.build(
        recipe="ai-ugc-product-ad",
        mode="render",
        storyboard=str(STORYBOARD),  # a rendered XCom of a dict
        scene_count="2",
        from_templates={"storyboard", "scene_count"},
    )
    assert request.storyboard == Storyboard.model_validate(STORYBOARD)
    assert request.scene_count == 2


@pytest.mark.parametrize("mode", ["plan", "render", "edit"])
def test_no_price_compose_is_refused_under_any_cap_saying_why(mode: str) -> None:
    fields: dict[str, Any] = {
        "plan": {"brief": BRIEF},
        "render": {"storyboard": STORYBOARD},
        "edit": {"manifest": MANIFEST, "edits": [{"scene_index": 0, "instruction": "warmer light"}]},
    }[mode]
    request = ComposeRequest.build(recipe="ai-ugc-product-ad", mode=mode, **fields)
    assert request.estimated_cost_usd() is None
    assert request.unpriced_fields() == ["recipe"]
    assert request.cost_problem(None) is None
    problem = request.cost_problem(1000.0)
    assert problem is not None
    assert problem.startswith("max_cost_usd: Compose has no published price")
    assert "known only afterwards" in problem


# -- the result ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [
        {"storyboard": STORYBOARD},
        {"plan": STORYBOARD},
        {"data": {"storyboard": STORYBOARD}},
        {"data": [{"storyboard": STORYBOARD}]},
        STORYBOARD,  # the result is the storyboard itself
    ],
    ids=["storyboard", "plan", "data-object", "data-list", "itself"],
)
def test_the_storyboard_is_found_where_it_may_be(result: dict[str, Any]) -> None:
    read = ComposeResult.from_api({"job_id": "job_1", "status": "succeeded", "result": result})
    assert read.storyboard is not None
    assert read.storyboard["scenes"] == STORYBOARD["scenes"]


def test_signed_urls_in_the_storyboard_and_manifest_are_redacted() -> None:
    signed = "https://cdn.example.com/scene0.png?expires=1&signature=abcdef0123456789"
    result = {
        "storyboard": {"scenes": [{"index": 0, "image_url": signed, "video_url": "https://example.com/plain.mp4"}]},
        "manifest": {"scenes": [{"video_url": signed}]},
    }
    read = ComposeResult.from_api({"result": result})
    assert read.storyboard == {
        "scenes": [
            {
                "index": 0,
                "image_url": "https://cdn.example.com/scene0.png",
                "video_url": "https://example.com/plain.mp4",
            }
        ]
    }
    assert read.manifest == {"scenes": [{"video_url": "https://cdn.example.com/scene0.png"}]}
    assert "signature" not in repr(read)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(
    payload=_json
    | st.fixed_dictionaries({"result": _json})
    | st.fixed_dictionaries(
        {"result": st.dictionaries(st.sampled_from(["storyboard", "manifest", "data", "scenes"]), _json)}
    )
)
def test_any_answer_is_read_without_raising(payload: Any) -> None:
    read = ComposeResult.from_api(payload)
    for found in (read.storyboard, read.manifest):
        assert found is None or isinstance(found, dict)


def test_the_log_says_what_each_job_is() -> None:
    render = ComposeRequest.build(recipe="ai-ugc-product-ad", mode="render", storyboard=STORYBOARD)
    assert render.describe() == "Compose render (recipe ai-ugc-product-ad), 2 scene(s), 9.5 s of video"
    plan = ComposeRequest.build(recipe="ai-ugc-product-ad", brief=BRIEF, scene_count=3)
    assert plan.describe() == "Compose plan (recipe ai-ugc-product-ad), 3 scene(s)"
