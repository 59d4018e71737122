"""Templates: ``GET /v1/templates`` with its filters, and what a template does to a generation request.

Restated from ``empiriolabs-catalogue.md`` section 4, not imported from the provider: a template
names a recommended model and the models it supports (``template_model_unsupported``, 400, for
another one; pinned to the recommended model when ``metadata.force_recommended_model``), and its
``default_params`` are merged into the request for every key the request did not supply, before
the request is validated and billed. An unknown slug is ``template_not_found`` (404).

Changes when the API documents a template field, a filter or a template rule.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from airflow_provider_empiriolabs.testing.simulator.validation import ApiError, _invalid

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: The simulator's templates, by slug, as the list shows them.
_TEMPLATE_LIST: tuple[dict[str, Any], ...] = (
    {
        "slug": "product-showcase",
        "display_name": "Product Showcase",
        "category": "product",
        "modality": "video",
        "description": "A slow orbit around a product on a clean studio set.",
        "recommended_model": "happyhorse-1-1",
        "supported_models": ["happyhorse-1-1", "wan-2-5"],
        "default_params": {"duration": 10, "resolution": "1080p"},
        "required_inputs": [],
        "metadata": {"force_recommended_model": False},
        "featured": True,
    },
    {
        "slug": "talking-head",
        "display_name": "Talking Head",
        "category": "portrait",
        "modality": "video",
        "description": "A presenter speaking to camera.",
        "recommended_model": "happyhorse-1-1",
        "supported_models": ["happyhorse-1-1"],
        "default_params": {"duration": 8},
        "required_inputs": [],
        "metadata": {},
        "featured": False,
    },
    {
        "slug": "dance-loop",
        "display_name": "Dance Loop",
        "category": "viral",
        "modality": "video",
        "description": "A seamless dance loop.",
        "recommended_model": "wan-2-5",
        "supported_models": ["wan-2-5", "happyhorse-1-1"],
        "default_params": {"duration": 6},
        "required_inputs": [],
        "metadata": {"force_recommended_model": True},
        "featured": False,
    },
    {
        "slug": "stadium-cam",
        "display_name": "Stadium Cam",
        "category": "viral",
        "modality": "video",
        "description": "A 16:9 live-broadcast fan cam.",
        "recommended_model": "happyhorse-1-1",
        "supported_models": ["happyhorse-1-1"],
        "default_params": {"duration": 15, "resolution": "1080p", "aspect_ratio": "16:9"},
        "required_inputs": [],
        "metadata": {"force_recommended_model": False},
        "featured": True,
    },
    {
        "slug": "slow-motion",
        "display_name": "Slow Motion",
        "category": "cinematic",
        "modality": "video",
        "description": "A high-speed camera look.",
        "recommended_model": "wan-2-5",
        "supported_models": ["wan-2-5"],
        "default_params": {"duration": 6},
        "required_inputs": [],
        "metadata": {},
        "featured": False,
    },
    {
        "slug": "poster-style",
        "display_name": "Poster",
        "category": "cinematic",
        "modality": "image",
        "description": "A film poster look.",
        "recommended_model": "seedream-5-0-lite",
        "supported_models": ["seedream-5-0-lite", "qwen-image-2-0"],
        "default_params": {"aspect_ratio": "2:3"},
        "required_inputs": [],
        "metadata": {},
        "featured": False,
    },
)
TEMPLATES: dict[str, dict[str, Any]] = {str(t["slug"]): t for t in _TEMPLATE_LIST}

#: The slugs of video templates (what ``POST /v1/videos/generations`` takes).
VIDEO_TEMPLATES: tuple[str, ...] = tuple(slug for slug, t in TEMPLATES.items() if t["modality"] == "video")


def listed(filters: dict[str, str]) -> dict[str, Any]:
    """The ``GET /v1/templates`` body for the given query filters (``type`` is ``modality``'s alias)."""
    modality = filters.get("modality") or filters.get("type")
    featured = filters.get("featured")
    if featured not in (None, "true", "false"):
        raise _invalid("featured", "must be true or false")
    data = [
        copy.deepcopy(t)
        for t in TEMPLATES.values()
        if (modality is None or t["modality"] == modality)
        and (filters.get("category") is None or t["category"] == filters["category"])
        and (filters.get("model") is None or filters["model"] in t["supported_models"])
        and (featured is None or t["featured"] == (featured == "true"))
    ]
    return {"object": "list", "template_count": len(data), "data": data}


def apply_template(body: Any, modality: str = "video") -> Any:
    """The generation body with its template applied: the model checked (or pinned), defaults merged.

    A body without a string ``template`` is returned as it is (validation judges it).
    """
    if not isinstance(body, dict) or not isinstance(body.get("template"), str) or not body["template"]:
        return body
    slug = body["template"]
    template = TEMPLATES.get(slug)
    if template is None or template["modality"] != modality:
        raise ApiError(404, "template_not_found", f"Template '{slug[:100]}' not found.", param="template")
    out = dict(body)
    model = out.get("model")
    if model is None or template["metadata"].get("force_recommended_model"):
        out["model"] = template["recommended_model"]
    elif model not in template["supported_models"]:
        raise ApiError(
            400,
            "template_model_unsupported",
            f"Template '{slug}' does not support model '{str(model)[:100]}'; "
            f"supported: {', '.join(template['supported_models'])}.",
            param="model",
        )
    for key, value in template["default_params"].items():
        if out.get(key) is None:
            out[key] = value
    return out


def template_routes() -> list[Route]:
    """The template routes, added to the app's (see :func:`.routes.build_routes`)."""

    async def list_templates(request: Request) -> Response:
        return JSONResponse(listed(dict(request.query_params)))

    return [Route("/v1/templates", list_templates, methods=["GET"])]


__all__ = ["TEMPLATES", "VIDEO_TEMPLATES", "apply_template", "listed", "template_routes"]
