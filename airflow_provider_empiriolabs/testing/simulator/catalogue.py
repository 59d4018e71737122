"""What the fake API knows: its models, their prices and parameters, and the API's fixed vocabulary.

Changes when the real API adds a model, a price or a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: API key the simulator accepts unless told otherwise.
DEFAULT_API_KEY = "sk-empiriolabs-simulator"

#: Prompt substrings that make a job fail, and how (``billed: false`` means the charge is refunded).
DEFAULT_FAILING_PROMPTS: dict[str, dict[str, Any]] = {
    "SIMULATE_CONTENT_POLICY": {
        "code": "content_policy_violation",
        "message": "The prompt was rejected by the content policy.",
        "billed": False,
    },
    "SIMULATE_MODEL_UNAVAILABLE": {
        "code": "model_unavailable",
        "message": "The model is temporarily unavailable, retry shortly.",
        "billed": False,
    },
}

_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
_MODES = ("auto", "t2v", "i2v", "r2v")
_TEMPLATES = ("product-showcase", "talking-head", "dance-loop")
_SEED_MAX = 2147483647
_UPLOAD_TYPES = ("image/", "audio/", "video/")


@dataclass(frozen=True)
class SimulatedModel:
    """What ``GET /v1/models/{id}`` shows and what validation and billing use.

    :param strict: reject unknown request fields (catches client typos); off for a model that is
        documented to take "generic" parameters.
    """

    id: str
    name: str
    description: str
    prices: dict[str, Decimal]
    default_resolution: str
    min_duration: float
    max_duration: float
    max_prompt_chars: int
    parameters: tuple[dict[str, Any], ...]
    strict: bool = True

    def summary(self) -> dict[str, Any]:
        """Entry of the model list."""
        return {
            "id": self.id,
            "object": "model",
            "name": self.name,
            "type": "video",
            "owned_by": "empiriolabs",
            "endpoint": "/v1/videos/generations",
        }

    def detail(self) -> dict[str, Any]:
        """The canonical schema: ``supported_parameters[]`` and ``pricing_rows[]``."""
        return {
            **self.summary(),
            "description": self.description,
            "supported_parameters": [dict(p) for p in self.parameters],
            "pricing_rows": [
                {
                    "resolution": res,
                    "billing_unit": "video-second",
                    "price_usd": float(price),
                    "currency": "USD",
                }
                for res, price in self.prices.items()
            ],
        }


_HAPPYHORSE = SimulatedModel(
    id="happyhorse-1-1",
    name="HappyHorse 1.1",
    description="Text, image and reference to video, 3 to 15 s, 720p or 1080p, with audio.",
    prices={"720p": Decimal("0.14"), "1080p": Decimal("0.18")},
    default_resolution="720p",
    min_duration=3,
    max_duration=15,
    max_prompt_chars=2500,
    parameters=(
        {"name": "prompt", "type": "string", "required": True, "max_length": 2500},
        {"name": "mode", "type": "string", "required": False, "default": "auto", "enum": list(_MODES)},
        {"name": "image", "type": ["string", "array"], "required": False, "max_items": 9},
        {"name": "images", "type": "array", "required": False, "max_items": 9},
        {"name": "reference_images", "type": "array", "required": False, "max_items": 9},
        {
            "name": "aspect_ratio",
            "type": "string",
            "required": False,
            "default": "16:9",
            "enum": list(_ASPECT_RATIOS),
        },
        {
            "name": "resolution",
            "type": "string",
            "required": False,
            "default": "720p",
            "enum": ["720p", "1080p"],
        },
        {"name": "duration", "type": "number", "required": False, "default": 5, "minimum": 3, "maximum": 15},
        {"name": "seed", "type": "integer", "required": False, "minimum": 0, "maximum": _SEED_MAX},
        {"name": "watermark", "type": "boolean", "required": False, "default": False},
        {"name": "generate_audio", "type": "boolean", "required": False, "default": True},
        {"name": "template", "type": "string", "required": False, "enum": list(_TEMPLATES)},
        {"name": "extend_from", "type": "object", "required": False, "properties": ["job_id", "video_url"]},
    ),
)

_WAN = SimulatedModel(
    id="wan-2-5",
    name="Wan 2.5",
    description="Generic text or image to video model; extra parameters are passed through.",
    prices={"480p": Decimal("0.05"), "720p": Decimal("0.10"), "1080p": Decimal("0.15")},
    default_resolution="720p",
    min_duration=3,
    max_duration=10,
    max_prompt_chars=2000,
    parameters=(
        {"name": "prompt", "type": "string", "required": True, "max_length": 2000},
        {"name": "negative_prompt", "type": "string", "required": False},
        {"name": "image", "type": "string", "required": False},
        {
            "name": "resolution",
            "type": "string",
            "required": False,
            "default": "720p",
            "enum": ["480p", "720p", "1080p"],
        },
        {"name": "duration", "type": "number", "required": False, "default": 5, "minimum": 3, "maximum": 10},
        {"name": "aspect_ratio", "type": "string", "required": False, "enum": list(_ASPECT_RATIOS)},
        {"name": "seed", "type": "integer", "required": False, "minimum": 0, "maximum": _SEED_MAX},
    ),
    strict=False,
)

#: Models the simulator knows, by id.
MODELS: dict[str, SimulatedModel] = {m.id: m for m in (_HAPPYHORSE, _WAN)}

_HAPPYHORSE_FIELDS = frozenset(
    {"model", *(p["name"] for p in _HAPPYHORSE.parameters)},
)


__all__ = ["DEFAULT_API_KEY", "DEFAULT_FAILING_PROMPTS", "MODELS", "SimulatedModel"]
