"""What the fake API knows: its models, their prices and parameters, and the API's fixed vocabulary.

Changes when the real API adds a model, a price or a parameter.
"""

from __future__ import annotations

import json
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
_TEMPLATES = ("product-showcase", "talking-head", "dance-loop", "stadium-cam", "slow-motion")  # see .templates
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


# -- the catalogue as GET /v1/models/{id} shows it ----------------------------------------------
#
# Every model the package ships a spec file for is served, in a shape of the simulator's own that
# differs from the files (the real one is not published): parameters as a list with ``options``,
# ``minimum``/``maximum``; price rows with ``charge``, ``billing_unit``, ``price_usd`` and their
# conditions as plain keys. The files are read as JSON, never through the provider's code, so the
# client's reader is tested against a shape it did not write.

_BILLING_UNITS = {"second": "video-second", "clip": "video", "image": "image", "fee": "additional fee"}
_SPEC_KINDS = {"video": "/v1/videos/generations", "image": "/v1/images/generations"}


def _spec_files() -> dict[str, dict[str, Any]]:
    from importlib import resources

    folder = resources.files("airflow_provider_empiriolabs").joinpath("models", "specs")
    specs: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            specs[data["id"]] = data
    return specs


#: The shipped spec files, as JSON, by model id.
SPEC_FILES: dict[str, dict[str, Any]] = _spec_files()


def _live_parameter(name: str, param: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    kind = param.get("type", "string")
    item: dict[str, Any] = {
        "name": name,
        "type": "enum" if param.get("allowed") is not None else {"integer": "number"}.get(kind, kind),
        "required": bool(param.get("required", False)),
    }
    for key, live in (("default", "default"), ("allowed", "options"), ("min", "minimum"), ("max", "maximum")):
        if param.get(key) is not None:
            item[live] = param[key]
    if param.get("description"):
        item["description"] = param["description"]
    item.update(change)
    return item


def catalogue_models() -> list[str]:
    """Every model id ``GET /v1/models`` lists: the shipped specs', then the simulator's own."""
    return list(dict.fromkeys([*SPEC_FILES, *MODELS]))


def catalogue_summary(model_id: str) -> dict[str, Any]:
    """A model's entry in the list."""
    if model_id not in SPEC_FILES:
        return MODELS[model_id].summary()
    data = SPEC_FILES[model_id]
    endpoint = _SPEC_KINDS[data["kind"]]
    return {
        "id": model_id,
        "object": "model",
        "name": data["name"],
        "display_name": data["name"],
        "category": data["kind"],
        "type": data["kind"],
        "owned_by": "empiriolabs",
        "endpoint": endpoint,
        "supported_endpoints": [f"POST {endpoint}"],
    }


def catalogue_detail(model_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """
    ``GET /v1/models/{id}``'s body, or ``None`` for an unknown model.

    :param changes: the ``catalogue_changes`` knob: per model, ``{"prices": {label: usd},
        "parameters": {name: {key: value}}}`` (keys as served: ``options``, ``minimum``, ...).
    """
    if model_id not in SPEC_FILES:
        return MODELS[model_id].detail() if model_id in MODELS else None
    data = SPEC_FILES[model_id]
    change = (changes or {}).get(model_id, {})
    prices, parameters = change.get("prices", {}), change.get("parameters", {})
    return {
        **catalogue_summary(model_id),
        "description": f"{data['name']} (from {data['source']})",
        "supported_parameters": [
            _live_parameter(name, param, parameters.get(name, {})) for name, param in data["parameters"].items()
        ],
        "pricing_rows": [
            {
                "charge": row["label"],
                "billing_unit": _BILLING_UNITS[row["unit"]],
                "price_usd": prices.get(row["label"], row["usd"]),
                "currency": "USD",
                **row.get("when", {}),
            }
            for row in data.get("prices", [])
        ],
    }


def check_catalogue_changes(value: Any) -> dict[str, Any]:
    """The ``catalogue_changes`` knob, checked: what the catalogue says unlike the spec files (see above)."""
    if not isinstance(value, dict):
        raise ValueError("catalogue_changes must be {model_id: {'prices': {label: usd}, 'parameters': {name: {...}}}}")
    for model_id, change in value.items():
        if model_id not in SPEC_FILES:
            raise ValueError(f"catalogue_changes: {model_id!r} has no spec file; known: {', '.join(SPEC_FILES)}")
        if not isinstance(change, dict) or set(change) - {"prices", "parameters"}:
            raise ValueError(f"catalogue_changes[{model_id!r}] must hold only 'prices' and 'parameters'")
        labels = {row["label"] for row in SPEC_FILES[model_id].get("prices", [])}
        unknown = set(change.get("prices", {})) - labels
        if unknown:
            raise ValueError(
                f"catalogue_changes[{model_id!r}]: no price rows {sorted(unknown)}; rows: {sorted(labels)}"
            )
        for name, keys in change.get("parameters", {}).items():
            if not isinstance(keys, dict):
                raise ValueError(f"catalogue_changes[{model_id!r}].parameters[{name!r}] must be an object")
    return value


__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_FAILING_PROMPTS",
    "MODELS",
    "SPEC_FILES",
    "SimulatedModel",
    "catalogue_detail",
    "catalogue_models",
    "catalogue_summary",
    "check_catalogue_changes",
]
