"""Compose: ``GET /v1/videos/compose/recipes`` and ``POST /v1/videos/compose`` (plan, render, edit jobs).

Re-stated from ``empiriolabs-catalogue.md`` section 5, independently of the provider's request
model. A Compose job is a job like any other (``GET /v1/jobs/{id}``, the same clock, faults and
retention), with what the docs leave open filled in as the catalogue infers it:

* the job's status on success is ``succeeded`` (the Compose blog's word, not ``completed``);
* a plan's result holds ``storyboard``; a render's and an edit's hold the MP4 in ``data[*].url``
  (signed, like every output) and a ``manifest`` for later edits;
* Compose has no price list: a job is debited what its stages cost here (an LLM call per plan, a
  render per scene, a remake per edited scene), shown afterwards in ``result.usage.cost_usd`` and
  in the account's usage events (``source: compose``, ``cost.amount``, ``output_urls``,
  ``metadata`` with the recipe, the phase and the output count).
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_empiriolabs.testing.simulator._common import _is_int, _is_number, _money
from airflow_provider_empiriolabs.testing.simulator.jobs import Job
from airflow_provider_empiriolabs.testing.simulator.validation import ApiError, _invalid

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_empiriolabs.testing.simulator.state import SimulatorState

COMPOSE_PATH = "/v1/videos/compose"

RECIPES: dict[str, dict[str, Any]] = {
    "ai-ugc-product-ad": {
        "slug": "ai-ugc-product-ad",
        "display_name": "AI UGC Product Ad",
        "category": "marketing",
        "visual_mode": "generated",
        "audio_mode": "voiceover",
        "scene_count": 4,
        "aspect_ratios": ["9:16", "1:1", "16:9"],
        "default_caption_style": "bold",
        "requires_face_image": False,
        "accepts_product_image": True,
        "models": {
            "script": {"recommended": "qwen3-6-plus", "options": ["qwen3-6-plus"]},
            "visual": {"recommended": "happyhorse-1-1", "options": ["happyhorse-1-1", "kling-3-0-turbo"]},
            "voice": {"recommended": "voice-1", "options": ["voice-1"]},
        },
    },
    "talking-head": {
        "slug": "talking-head",
        "display_name": "Talking Head",
        "category": "explainer",
        "visual_mode": "avatar",
        "audio_mode": "voiceover",
        "scene_count": 3,
        "aspect_ratios": ["9:16", "16:9"],
        "default_caption_style": "clean",
        "requires_face_image": True,
        "accepts_product_image": False,
        "models": {"script": {"recommended": "qwen3-6-plus", "options": ["qwen3-6-plus"]}},
    },
    "auto-captions": {
        "slug": "auto-captions",
        "display_name": "Auto Captions",
        "category": "captions",
        "visual_mode": "input_video",
        "audio_mode": "input",
        "scene_count": 1,
        "aspect_ratios": ["9:16", "16:9", "1:1"],
        "default_caption_style": "bold",
        "requires_face_image": False,
        "accepts_product_image": False,
        "models": {},
    },
}

#: What each stage costs here (Compose publishes no price): what the usage events report afterwards.
PLAN_COST = Decimal("0.02")
RENDER_COST_PER_SCENE = Decimal("0.35")
EDIT_COST_PER_SCENE = Decimal("0.20")
DEFAULT_SCENE_SECONDS = 5.0

_MODES = ("plan", "render", "edit")
_FIELDS = frozenset(
    {
        "recipe", "mode", "brief", "script", "storyboard", "manifest", "edits", "aspect_ratio", "scene_count",
        "caption_style", "music", "voice", "product_image", "face_image", "character_image_url", "gameplay_style",
        "video", "video_url", "input_video", "language", "translate_to", "speakers", "model_overrides",
        "script_model", "visual_model", "image_model", "voice_model", "music_model", "parameters",
    }
)  # fmt: skip
_URL_FIELDS = ("product_image", "face_image", "character_image_url", "video", "video_url", "input_video")
_URL = re.compile(r"https?://[^\s/$.?#]\S*", re.IGNORECASE)


def _url(name: str, value: Any) -> None:
    if not (isinstance(value, str) and _URL.fullmatch(value)):
        raise _invalid(name, "must be an http(s) URL: this endpoint does not accept file uploads")


def _scenes(storyboard: Any) -> list[dict[str, Any]]:
    if not isinstance(storyboard, dict):
        raise _invalid("storyboard", "must be an object with scenes")
    scenes = storyboard.get("scenes", [])
    if not isinstance(scenes, list) or not all(isinstance(scene, dict) for scene in scenes):
        raise _invalid("storyboard.scenes", "must be a list of objects")
    for number, scene in enumerate(scenes):
        if "index" in scene and not _is_int(scene["index"]):
            raise _invalid(f"storyboard.scenes[{number}].index", "must be an integer")
        seconds = scene.get("duration_seconds")
        if seconds is not None and not (_is_number(seconds) and seconds > 0):
            raise _invalid(f"storyboard.scenes[{number}].duration_seconds", "must be a positive number")
        for key in ("image_url", "video_url"):
            if scene.get(key) is not None:
                _url(f"storyboard.scenes[{number}].{key}", scene[key])
    return scenes


def validate_compose(body: Any) -> dict[str, Any]:
    """The checked request (``ApiError`` 400 naming the field otherwise)."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _invalid(unknown[0], "unknown parameter")
    recipe = body.get("recipe")
    if not isinstance(recipe, str) or not recipe:
        raise _invalid("recipe", "is required")
    if recipe not in RECIPES:
        raise ApiError(404, "recipe_not_found", f"No Compose recipe '{recipe[:100]}'.", param="recipe")
    mode = body.get("mode", "plan")
    if mode not in _MODES:
        raise _invalid("mode", "must be one of plan, render, edit")
    count = body.get("scene_count")
    if count is not None and not (_is_int(count) and 1 <= count <= 12):
        raise _invalid("scene_count", "must be an integer from 1 to 12")
    for name in _URL_FIELDS:
        if body.get(name) is not None:
            _url(name, body[name])
    if mode == "plan" and not (body.get("brief") or body.get("script")):
        raise _invalid("brief", "plan needs a brief or a script")
    if mode == "render" and body.get("storyboard") is None:
        raise _invalid("storyboard", "render needs a storyboard")
    scenes = _scenes(body["storyboard"]) if body.get("storyboard") is not None else []
    edits = body.get("edits")
    if mode == "edit":
        if not isinstance(body.get("manifest"), dict):
            raise _invalid("manifest", "edit needs the manifest of a render")
        if not isinstance(edits, list) or not edits:
            raise _invalid("edits", "edit needs a list of {scene_index, instruction}")
        for number, edit in enumerate(edits):
            if not (
                isinstance(edit, dict) and _is_int(edit.get("scene_index")) and isinstance(edit.get("instruction"), str)
            ):
                raise _invalid(f"edits[{number}]", "must be {scene_index: integer, instruction: string}")
    if RECIPES[recipe]["requires_face_image"] and mode == "plan" and not body.get("face_image"):
        raise _invalid("face_image", f"recipe {recipe} requires a face_image")
    return {"recipe": recipe, "mode": mode, "scenes": scenes, "body": body}


def _plan(params: dict[str, Any]) -> dict[str, Any]:
    body = params["body"]
    count = body.get("scene_count") or RECIPES[params["recipe"]]["scene_count"]
    text = str(body.get("brief") or body.get("script"))
    return {
        "title": text[:40],
        "aspect_ratio": body.get("aspect_ratio", RECIPES[params["recipe"]]["aspect_ratios"][0]),
        "caption_style": body.get("caption_style", RECIPES[params["recipe"]]["default_caption_style"]),
        "scenes": [
            {
                "index": index,
                "narration": f"Scene {index + 1}: {text[:60]}",
                "visual_prompt": f"shot {index + 1} of {text[:60]}",
                "caption": f"Part {index + 1}",
                "duration_seconds": DEFAULT_SCENE_SECONDS,
                "model": "happyhorse-1-1",
            }
            for index in range(count)
        ],
        "social_caption": text[:80],
    }


def create_compose_job(state: SimulatorState, body: Any) -> Job:
    """Validate, debit and create a Compose job on the state's clock (``ApiError`` otherwise)."""
    with state.lock:
        params = validate_compose(body)
        mode, scenes = params["mode"], params["scenes"]
        now = state.clock.now()
        state._settle(now)
        if mode == "plan":
            cost, seconds = PLAN_COST, 0.0
            extra: dict[str, Any] = {"storyboard": _plan(params)}
        else:
            edited = len(params["body"].get("edits") or ()) if mode == "edit" else len(scenes) or 1
            cost = (EDIT_COST_PER_SCENE if mode == "edit" else RENDER_COST_PER_SCENE) * edited
            seconds = sum(float(s.get("duration_seconds") or DEFAULT_SCENE_SECONDS) for s in scenes) or (
                DEFAULT_SCENE_SECONDS * edited
            )
            manifest_scenes = [
                {"index": number, "scene_id": f"scn_{secrets.token_hex(4)}"} for number in range(len(scenes) or edited)
            ]
            extra = {"manifest": {"recipe": params["recipe"], "version": 1, "scenes": manifest_scenes}}
        if state.balance < cost:
            raise ApiError(
                402, "insufficient_credits", f"Insufficient credits: this request costs ${_money(cost):.2f}."
            )
        state.balance -= cost
        render = state.knobs["render_base_seconds"] + state.knobs["render_seconds_per_video_second"] * seconds
        render *= state.knobs["render_time_factor"]
        text = " ".join(str(params["body"].get(key) or "") for key in ("brief", "script"))
        failure = next((dict(spec) for needle, spec in state.knobs["failing_prompts"].items() if needle in text), None)
        outputs = 0 if mode == "plan" else 1
        extra["usage"] = {"cost_usd": _money(cost)}  # no billable seconds: Compose is billed by its stages
        job = Job(
            job_id=f"job_{secrets.token_hex(12)}",
            model="compose",
            prompt=text.strip() or json.dumps(params["body"].get("edits") or [])[:200],
            resolution="720p",
            duration=seconds,
            cost=cost,
            created_at=now,
            queued_until=now + render * state.knobs["queued_fraction"],
            done_at=now + render,
            failure=failure,
            output_size=state.knobs["output_size_bytes"],
            content_type=state.knobs["output_content_type"],
            n_outputs=outputs,
            source="compose",
            status_word="succeeded",
            result_extra=extra,
            usage_extra={"metadata": {"recipe": params["recipe"], "phase": mode, "output_count": outputs}},
        )
        if failure is not None and not failure["billed"]:
            state._pending_refunds.append(job)
        state.jobs[job.job_id] = job
        state.job_order.append(job.job_id)
        state.counters["jobs_created"] += 1
        return job


def compose_routes(state: SimulatorState) -> list[Route]:
    """The Compose routes, bound to ``state``."""

    async def recipes(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": list(RECIPES.values())})

    async def compose(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(400, "invalid_request", "The request body is not valid JSON.") from None
        job = create_compose_job(state, body)
        return JSONResponse(
            {"job_id": job.job_id, "status": "queued", "poll_url": f"/v1/jobs/{job.job_id}"}, status_code=202
        )

    return [
        Route(f"{COMPOSE_PATH}/recipes", recipes, methods=["GET"]),
        Route(COMPOSE_PATH, compose, methods=["POST"]),
    ]


__all__ = ["COMPOSE_PATH", "RECIPES", "compose_routes", "create_compose_job", "validate_compose"]
