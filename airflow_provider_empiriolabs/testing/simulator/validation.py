"""Request checks of ``POST /v1/videos/generations`` and the error envelope every failure is answered with.

Changes when the API documents a new rule for a request field or a new error code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from airflow_provider_empiriolabs.models import request_body_fields
from airflow_provider_empiriolabs.models.catalogue import shipped_spec
from airflow_provider_empiriolabs.models.spec import ModelSpec
from airflow_provider_empiriolabs.testing.simulator._common import _is_int, _is_number
from airflow_provider_empiriolabs.testing.simulator.catalogue import (
    _ASPECT_RATIOS,
    _HAPPYHORSE,
    _HAPPYHORSE_FIELDS,
    _MODES,
    _SEED_MAX,
    _TEMPLATES,
    MODELS,
    SimulatedModel,
)

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.testing.simulator.jobs import Job, Upload

_ERROR_TYPES: dict[str, str] = {
    "missing_api_key": "authentication_error",
    "invalid_api_key": "authentication_error",
    "insufficient_credits": "billing_error",
    "rate_limit_exceeded": "rate_limit_error",
    "invalid_request": "invalid_request_error",
    "template_model_unsupported": "invalid_request_error",
    "model_not_found": "not_found_error",
    "job_not_found": "not_found_error",
    "template_not_found": "not_found_error",
    "not_found": "not_found_error",
    "method_not_allowed": "invalid_request_error",
    "invalid_signature": "permission_error",
    "url_expired": "permission_error",
    "model_unavailable": "api_error",
    "upstream_error": "api_error",
    "internal_error": "api_error",
}


class ApiError(Exception):
    """An API error answered with the OpenAI-style envelope.

    :param status: HTTP status code.
    :param code: machine-readable error code (documented codes where the docs give one).
    :param message: human-readable message; never contains the caller's API key.
    :param param: the request field at fault, echoed as ``error.param`` for validation errors.
    :param headers: extra response headers (``Retry-After`` ...).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON envelope."""
        err: dict[str, Any] = {
            "message": self.message,
            "type": _ERROR_TYPES.get(self.code, "api_error"),
            "code": self.code,
        }
        if self.param is not None:
            err["param"] = self.param
        return {"error": err}

    def response(self) -> JSONResponse:
        """A Starlette response carrying the envelope."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def _invalid(param: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", f"Invalid value for '{param}': {message}", param=param)


def _check_image_ref(value: Any, param: str, uploads: dict[str, Upload]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(param, "must be a non-empty string (an image URL or an uploaded bunny:// path)")
    if value.startswith(("http://", "https://", "data:image/")):
        return value
    if value.startswith("bunny://"):
        m = re.fullmatch(r"bunny://uploads/([0-9a-f]+)/[^/]+", value)
        upload = uploads.get(m.group(1)) if m else None
        if upload is None or upload.path != value:
            raise _invalid(param, "unknown uploaded file path (upload it with POST /v1/files/upload first)")
        if not upload.content_type.startswith("image/"):
            raise _invalid(param, f"the uploaded file is {upload.content_type}, not an image")
        return value
    raise _invalid(param, "must be an http(s) URL, a data:image URI or a bunny:// path from /v1/files/upload")


def _collect_images(body: dict[str, Any], uploads: dict[str, Upload]) -> list[str]:
    images: list[str] = []
    for name in ("image", "images", "reference_images"):
        if name not in body or body[name] is None:
            continue
        value = body[name]
        if isinstance(value, str):
            if name != "image":
                raise _invalid(name, "must be a list of image URLs or uploaded paths")
            images.append(_check_image_ref(value, name, uploads))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                images.append(_check_image_ref(item, f"{name}[{i}]", uploads))
        else:
            raise _invalid(name, "must be a string or a list of strings")
    return images


def _check_enum(body: dict[str, Any], name: str, allowed: tuple[str, ...] | list[str], default: Any) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if value not in allowed:
        raise _invalid(name, f"must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _check_prompt(body: dict[str, Any], max_chars: int) -> str:
    if "prompt" not in body or body["prompt"] is None:
        raise ApiError(400, "invalid_request", "Missing required parameter: 'prompt'.", param="prompt")
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        raise _invalid("prompt", "must be a string")
    if not prompt.strip():
        raise _invalid("prompt", "must not be empty")
    if len(prompt) > max_chars:
        raise _invalid("prompt", f"must be at most {max_chars} characters (got {len(prompt)})")
    return prompt


def _check_common(body: dict[str, Any], spec: SimulatedModel) -> dict[str, Any]:
    out: dict[str, Any] = {"model": spec.id, "prompt": _check_prompt(body, spec.max_prompt_chars)}
    out["resolution"] = _check_enum(body, "resolution", list(spec.prices), spec.default_resolution)
    duration = body.get("duration", 5)
    if duration is None:
        duration = 5
    if not _is_number(duration) or not spec.min_duration <= duration <= spec.max_duration:
        raise _invalid(
            "duration",
            f"must be a number of seconds between {spec.min_duration:g} and {spec.max_duration:g} (got {duration!r})",
        )
    out["duration"] = duration
    out["aspect_ratio"] = _check_enum(body, "aspect_ratio", _ASPECT_RATIOS, "16:9")
    seed = body.get("seed")
    if seed is not None and (not _is_int(seed) or not 0 <= seed <= _SEED_MAX):
        raise _invalid("seed", f"must be an integer between 0 and {_SEED_MAX} (got {seed!r})")
    for name in ("watermark", "generate_audio"):
        if name in body and body[name] is not None and not isinstance(body[name], bool):
            raise _invalid(name, f"must be a boolean (got {body[name]!r})")
    return out


def validate_generation(
    body: Any, uploads: dict[str, Upload], jobs: dict[str, Job], *, strict: bool = True
) -> dict[str, Any]:
    """Validate a ``POST /v1/videos/generations`` body the way the real API documents it.

    Returns the normalized parameters billing needs; raises :class:`ApiError` (400 naming the
    field, 404 for an unknown model or template) otherwise.

    :param strict: reject unknown fields for models with a documented schema.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise ApiError(400, "invalid_request", "Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str):
        raise _invalid("model", "must be a string")
    if model != _HAPPYHORSE.id and (model_spec := shipped_spec(model)) is not None:
        return validate_by_spec(body, model_spec, uploads, strict=strict)
    spec = MODELS.get(model)
    if spec is None:
        raise ApiError(
            404,
            "model_not_found",
            f"Invalid value for 'model': the model '{model[:100]}' does not exist (known: {', '.join(MODELS)}).",
            param="model",
        )
    if spec.strict and strict:
        # The documented parameters, and every body field of the provider's request model: a new
        # request parameter is one edit there (its rules here stay the simulator's own).
        unknown = sorted(set(body) - _HAPPYHORSE_FIELDS - request_body_fields())
        if unknown:
            raise ApiError(
                400,
                "invalid_request",
                f"Unknown parameter: '{unknown[0]}' is not supported by {spec.id}.",
                param=unknown[0],
            )
    out = _check_common(body, spec)
    if spec is not _HAPPYHORSE:
        if "image" in body and body["image"] is not None:
            _check_image_ref(body["image"], "image", uploads)
        return out
    mode = _check_enum(body, "mode", _MODES, "auto")
    images = _collect_images(body, uploads)
    n = len(images)
    if mode == "auto":
        mode = "t2v" if n == 0 else "i2v" if n == 1 else "r2v"
    if mode == "t2v" and n:
        raise _invalid("image", f"mode t2v takes no image (got {n})")
    if mode == "i2v" and n != 1:
        raise _invalid("image", f"mode i2v needs exactly 1 image (got {n})")
    if mode == "r2v" and not 1 <= n <= 9:
        raise _invalid("image", f"mode r2v needs 1 to 9 reference images (got {n})")
    out["mode"] = mode
    template = body.get("template")
    if template is not None:
        if not isinstance(template, str) or not template:
            raise _invalid("template", "must be a template slug string")
        if template not in _TEMPLATES:
            raise ApiError(404, "template_not_found", f"Template '{template[:100]}' not found.", param="template")
    return out  # extend_from, for every model: check_extension_source (the route calls it first)


def check_extension_source(body: Any, status_of: Callable[[str], str | None]) -> None:
    """
    Refuse what no video model can extend ("extend works on every video model"): a malformed
    ``extend_from``, a ``video_url`` that is not http(s), a job the account does not have, or one
    whose video is not finished (still queued, processing, or failed).

    :param body: the request body as received.
    :param status_of: the status of a job of the account now (``None`` when there is no such job).
    """
    extend = body.get("extend_from") if isinstance(body, dict) else None
    if extend is None:
        return
    if not isinstance(extend, dict) or len(extend) != 1 or not set(extend) <= {"job_id", "video_url"}:
        raise _invalid("extend_from", "must be {'job_id': ...} or {'video_url': ...}")
    if "video_url" in extend:
        url = extend["video_url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _invalid("extend_from.video_url", "must be an http(s) URL")
        return
    job_id = extend["job_id"]
    status = status_of(job_id) if isinstance(job_id, str) else None
    if status is None:
        raise _invalid("extend_from.job_id", "unknown job")
    if status != "completed":
        raise _invalid("extend_from.job_id", f"job {job_id[:100]} is {status}: only a completed video can be extended")


def validate_by_spec(
    body: dict[str, Any], spec: ModelSpec, uploads: dict[str, Upload], *, strict: bool
) -> dict[str, Any]:
    """Validate a body for a model with a spec file (the package's or ``[empiriolabs] model_specs``'), and price it.

    Every problem the spec names is a 400 naming the parameter (the first one; the message counts
    the rest). The job is billed by the spec's price rows: per second (the billed seconds), per
    clip, plus any fee. A case the spec calls unpriced before sending (an edit billed by its input
    video's length, a clip length the model chooses) is billed here as if the input, or the clip,
    were ``duration`` long (the model's default when unset).

    :param strict: refuse parameters the spec does not list (the ``strict_parameters`` knob).
    """
    if spec.kind != "video":
        raise _invalid("model", f"'{spec.id}' makes {spec.kind}s; this endpoint takes video models")
    problems = [(name, rule) for name, rule in spec.problems(body) if strict or "takes no such parameter" not in rule]
    if problems:
        name, rule = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise _invalid(name, f"{rule}{more}")
    for name in ("image", "image_end"):
        if isinstance(body.get(name), str):
            _check_image_ref(body[name], name, uploads)
    priced = spec.model_copy(update={"unpriced": ()}).estimate(body)
    cost = priced.usd if priced.usd is not None else _dearest(spec, body)
    seconds = spec.billed_seconds(body)
    duration = seconds if seconds is not None else spec.value(body, "duration")
    return {
        "model": spec.id,
        "prompt": body["prompt"],
        "resolution": str(spec.value(body, "resolution")),
        "duration": duration if isinstance(duration, (int, float)) else 0,
        "cost": Decimal(str(cost)),
    }


def _dearest(spec: ModelSpec, body: dict[str, Any]) -> float:
    """What a request no price row covers costs here: as if the model's dearest row applied (fees as they apply)."""
    rates = [row for row in spec.prices if row.unit != "fee"]
    if not rates:
        return 0.0
    dearest = max(rates, key=lambda row: row.usd).model_copy(update={"when": {}})
    fees = tuple(row for row in spec.prices if row.unit == "fee")
    return spec.model_copy(update={"unpriced": (), "prices": (dearest, *fees)}).estimate(body).usd or 0.0


__all__ = ["ApiError", "check_extension_source", "validate_by_spec", "validate_generation"]
