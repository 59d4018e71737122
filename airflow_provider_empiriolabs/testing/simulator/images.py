"""``POST /v1/images/generations``: image jobs on the same ``GET /v1/jobs/{id}``, or a held (``sync``) answer.

Changes when the images API changes. The body is checked by the model's spec file (the same data
the provider ships: what the model takes and its price per image); the count of images is read
from the model's own count field (``max_images``, ``num_images``, ``n``) and each image is billed.

By default the answer is a job (202 with ``job_id``), polled like a video's; ``"sync": true`` holds
the request until the images are made and answers OpenAI-style ``{"data": [{"url"}|{"b64_json"}]}``
with no job id. ``"response_format": "b64_json"`` puts a small, valid PNG's base64 in the answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_empiriolabs.models.catalogue import packaged_spec
from airflow_provider_empiriolabs.testing.image import png_bytes
from airflow_provider_empiriolabs.testing.simulator._common import _money
from airflow_provider_empiriolabs.testing.simulator.jobs import Job
from airflow_provider_empiriolabs.testing.simulator.validation import ApiError, _check_image_ref, _invalid

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_empiriolabs.models.spec import ModelSpec
    from airflow_provider_empiriolabs.testing.simulator.state import SimulatorState

__all__ = ["IMAGE_CONTENT_TYPE", "image_routes"]

IMAGE_CONTENT_TYPE = "image/png"


@lru_cache(maxsize=64)
def _spec(model: str) -> ModelSpec | None:
    """The model's spec file as the package ships it (the API's models: no deployment's, no Airflow import)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,99}", model):  # a name, never a path into the package
        return None
    try:
        return packaged_spec(model)
    except (FileNotFoundError, ValueError):
        return None


def _validate(body: Any, state: SimulatorState) -> tuple[str, str, int, Decimal]:
    """(model, prompt, count, cost) of a valid body; :class:`ApiError` naming the field otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "invalid_request", "Missing required parameter: 'model'.", param="model")
    spec = _spec(model)
    if spec is None or spec.kind != "image":
        raise ApiError(404, "model_not_found", f"The image model '{model[:100]}' does not exist.", param="model")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("prompt", "must be a non-empty string")
    if "sync" in body and not isinstance(body["sync"], bool):
        raise _invalid("sync", "must be a boolean")
    image = body.get("image")
    for n, ref in enumerate(image if isinstance(image, list) else [] if image is None else [image]):
        _check_image_ref(ref, f"image[{n}]", state.uploads)
    if state.knobs["strict_parameters"]:
        problems = spec.problems(body)
        if problems:
            name, rule = problems[0]
            raise _invalid(name, rule)
    estimate = spec.estimate(body)
    count = spec.value(body, spec.count_field) if spec.count_field else 1
    if estimate.usd is None or not isinstance(count, int):
        raise ApiError(400, "invalid_request", f"This request cannot be priced: {estimate.why}.")
    return model, prompt, count, Decimal(str(estimate.usd))


def _create(state: SimulatorState, body: Any) -> tuple[Job, float]:
    """Charge the request and create its job; (job, simulated render seconds)."""
    with state.lock:
        model, prompt, count, cost = _validate(body, state)
        now = state.clock.now()
        if state.balance < cost:
            raise ApiError(
                402,
                "insufficient_credits",
                f"Insufficient credits: this request costs ${_money(cost):.2f}, "
                f"the account balance is ${_money(state.balance):.2f}.",
            )
        state.balance -= cost
        render = state.knobs["render_base_seconds"] * state.knobs["render_time_factor"]
        failure = next(
            (dict(spec) for needle, spec in state.knobs["failing_prompts"].items() if needle in prompt), None
        )
        job = Job(
            job_id=f"job_{secrets.token_hex(12)}",
            model=model,
            prompt=prompt,
            resolution="image",
            duration=0.0,
            cost=cost,
            created_at=now,
            queued_until=now + render * state.knobs["queued_fraction"],
            done_at=now + render,
            failure=failure,
            output_size=None,
            content_type=IMAGE_CONTENT_TYPE,
            n_outputs=count,
        )
        if failure is not None and not failure["billed"]:
            state._pending_refunds.append(job)
        state.jobs[job.job_id] = job
        state.job_order.append(job.job_id)
        state.counters["jobs_created"] += 1
        return job, render


def image_bytes(job_id: str, index: int) -> bytes:
    """The PNG the simulator serves (as a URL or as ``b64_json``) for one output of one job."""
    return png_bytes(f"{job_id}/{index}")


def image_routes(state: SimulatorState) -> list[Route]:
    """The images endpoint and its outputs' downloads, bound to ``state`` (before the video download route)."""

    async def create_images(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(400, "invalid_request", "The request body is not valid JSON.") from None
        job, render = _create(state, body)  # refuses a body that is not an object
        assert isinstance(body, dict)
        if not body.get("sync"):
            return JSONResponse(
                {"job_id": job.job_id, "status": "queued", "poll_url": f"/v1/jobs/{job.job_id}"}, status_code=202
            )
        await asyncio.sleep(state.clock.to_real(render))  # held until the images are made
        if job.failure is not None:
            raise ApiError(500, str(job.failure.get("code") or "upstream_error"), str(job.failure.get("message")))
        base_url = str(request.base_url).rstrip("/")
        with state.lock:
            now = state.clock.now()
            if body.get("response_format") == "b64_json":
                data = [
                    {"b64_json": base64.b64encode(image_bytes(job.job_id, n)).decode()} for n in range(job.n_outputs)
                ]
            else:
                data = [{"url": state.sign_url(base_url, job, n, now)} for n in range(job.n_outputs)]
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": data,
                "usage": {"billable_units": job.n_outputs, "billing_unit": "image", "cost_usd": _money(job.cost)},
            }
        )

    async def download_image(request: Request) -> Response:
        job = state.check_download(
            request.path_params["job_id"],
            request.path_params["index"],
            request.query_params.get("expires", ""),
            request.query_params.get("signature", ""),
        )
        if job.content_type != IMAGE_CONTENT_TYPE:
            raise ApiError(404, "not_found", "No such output.")
        state.count("downloads")
        data = image_bytes(job.job_id, int(request.path_params["index"]))
        state.count("downloads_completed")
        return Response(data, media_type=IMAGE_CONTENT_TYPE)

    return [
        Route("/v1/images/generations", create_images, methods=["POST"]),
        Route("/v1/outputs/{job_id}/{index}.png", download_image, methods=["GET", "HEAD"]),
    ]
