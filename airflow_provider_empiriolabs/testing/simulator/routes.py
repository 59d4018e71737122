"""The HTTP app: the Starlette routes of the API and its control endpoints, and :func:`create_app`.

Changes when the API gains an endpoint or a response changes shape.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from airflow_provider_empiriolabs.testing import video
from airflow_provider_empiriolabs.testing.simulator._common import _TRUNCATED, ASGIApp, Message, Receive, Scope, Send
from airflow_provider_empiriolabs.testing.simulator.catalogue import (
    _UPLOAD_TYPES,
    catalogue_detail,
    catalogue_models,
    catalogue_summary,
)
from airflow_provider_empiriolabs.testing.simulator.compose import compose_routes
from airflow_provider_empiriolabs.testing.simulator.gateway import Gateway
from airflow_provider_empiriolabs.testing.simulator.images import image_routes
from airflow_provider_empiriolabs.testing.simulator.templates import template_routes
from airflow_provider_empiriolabs.testing.simulator.validation import ApiError, _invalid, check_extension_source

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_empiriolabs.testing.simulator.state import SimulatorState


class _VideoResponse(FileResponse):
    """``FileResponse`` (which handles ``Range`` -> 206 itself) with bigger chunks and counters.

    1 MiB chunks keep a 1 GB stream at ~1000 thread hops instead of ~16000.
    """

    chunk_size = 1024 * 1024

    def __init__(self, state: SimulatorState, path: str, media_type: str) -> None:
        super().__init__(path, media_type=media_type, content_disposition_type="inline")
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._state

        async def counting_send(message: Message) -> None:
            if scope["method"] != "GET":
                await send(message)
                return
            if message["type"] == "http.response.start" and message["status"] in (200, 206):
                state.count("downloads")
            await send(message)
            if (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and not scope.get(_TRUNCATED)
            ):
                state.count("downloads_completed")

        await super().__call__(scope, receive, counting_send)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def build_routes(state: SimulatorState) -> list[Route]:
    """The Starlette routes, bound to ``state``."""

    async def create_generation(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(400, "invalid_request", "The request body is not valid JSON.") from None
        check_extension_source(body, state.status_now)
        job = state.create_job(body)
        state.extensions[job.job_id] = body.get("extend_from") if isinstance(body, dict) else None
        return JSONResponse(
            {"job_id": job.job_id, "status": "queued", "poll_url": f"/v1/jobs/{job.job_id}"},
            status_code=202,
        )

    async def get_job(request: Request) -> Response:
        job = state.visible_job(request.path_params["job_id"])
        return JSONResponse(state.job_payload(job, _base_url(request)))

    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        if not name.endswith(".mp4"):
            raise ApiError(404, "not_found", "No such output.")
        job = state.check_download(
            request.path_params["job_id"],
            name[: -len(".mp4")],
            request.query_params.get("expires", ""),
            request.query_params.get("signature", ""),
        )
        path = await asyncio.to_thread(video.video_path, job.output_size)
        return _VideoResponse(state, str(path), job.content_type)

    async def list_models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [catalogue_summary(m) for m in catalogue_models()]})

    async def get_model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        state.count("catalogue_reads")
        detail = catalogue_detail(model_id, state.knobs.get("catalogue_changes"))
        if detail is None:
            raise ApiError(404, "model_not_found", f"The model '{model_id[:100]}' does not exist.", param="model")
        return JSONResponse(detail)

    async def usage(request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit", "25"))
        except ValueError:
            raise _invalid("limit", "must be an integer") from None
        if not 1 <= limit <= 100:
            raise _invalid("limit", "must be between 1 and 100")
        since = None
        if q.get("from"):
            try:
                dt = datetime.fromisoformat(q["from"].replace("Z", "+00:00"))
            except ValueError:
                raise _invalid("from", "must be an ISO-8601 date or datetime") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            since = dt.timestamp()
        return JSONResponse(state.usage(_base_url(request), limit, q.get("model") or None, since))

    async def upload(request: Request) -> Response:
        limit = state.knobs["upload_max_bytes"]
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise _invalid("file", f"file is too large (more than the {limit} bytes limit)")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(
                400, "invalid_request", "Send the file as multipart/form-data in a field named 'file'.", "file"
            )
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception as exc:
            raise _invalid("file", f"could not parse the multipart body ({exc})") from None
        try:
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise ApiError(400, "invalid_request", "Missing required file field: 'file'.", param="file")
            content_type = (part.content_type or "").split(";")[0].strip().lower()
            if not content_type.startswith(_UPLOAD_TYPES):
                raise _invalid(
                    "file", f"unsupported content type {content_type or 'none'!r}: send image, audio or video"
                )
            data = await part.read()
        finally:
            await form.close()
        if len(data) > limit:
            raise _invalid("file", f"file is too large ({len(data)} bytes, the limit is {limit})")
        if not data:
            raise _invalid("file", "file is empty")
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", (part.filename or "upload").rsplit("/", 1)[-1])[:200] or "upload"
        item = state.add_upload(filename, content_type, data)
        return JSONResponse(
            {
                "path": item.path,
                "url": f"{_base_url(request)}/v1/uploads/{item.upload_id}/{item.filename}",
                "content_type": content_type,
                "size_bytes": len(data),
            },
            status_code=201,
        )

    async def get_upload(request: Request) -> Response:
        item = state.uploads.get(request.path_params["upload_id"])
        if item is None or item.filename != request.path_params["name"]:
            raise ApiError(404, "not_found", "No such file.")
        return Response(item.data, media_type=item.content_type)

    async def control_config(request: Request) -> Response:
        if request.method == "POST":
            try:
                knobs = await request.json()
            except ValueError:
                raise ApiError(400, "invalid_request", "Body must be a JSON object of knobs.") from None
            if not isinstance(knobs, dict):
                raise ApiError(400, "invalid_request", "Body must be a JSON object of knobs.")
            try:
                return JSONResponse(state.configure(**knobs))
            except ValueError as exc:
                raise ApiError(400, "invalid_request", str(exc)) from None
        return JSONResponse(state.config())

    async def control_reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def control_stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def control_expire(request: Request) -> Response:
        raw = await request.body()
        opts = json.loads(raw) if raw else {}
        try:
            state.expire_job(
                request.path_params["job_id"],
                retention=bool(opts.get("retention", True)),
                urls=bool(opts.get("urls", False)),
            )
        except KeyError:
            raise ApiError(404, "job_not_found", "No such job.") from None
        return JSONResponse({"ok": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return [
        *image_routes(state),  # images (its output route before the video download's)
        Route("/v1/videos/generations", create_generation, methods=["POST"]),
        Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/v1/outputs/{job_id}/{name}", download, methods=["GET", "HEAD"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id}", get_model, methods=["GET"]),
        Route("/v1/account/usage", usage, methods=["GET"]),
        Route("/v1/files/upload", upload, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/{name}", get_upload, methods=["GET"]),
        Route("/_config", control_config, methods=["GET", "POST"]),
        Route("/_reset", control_reset, methods=["POST"]),
        Route("/_stats", control_stats, methods=["GET"]),
        Route("/_jobs/{job_id}/expire", control_expire, methods=["POST"]),
        Route("/_health", health, methods=["GET"]),
        *compose_routes(state),
        *template_routes(),
    ]


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "method_not_allowed" if exc.status_code == 405 else "not_found"
    return ApiError(exc.status_code, code, str(exc.detail)).response()


def create_app(state: SimulatorState) -> ASGIApp:
    """The full ASGI application (gateway + routes) serving ``state``."""
    app = Starlette(
        routes=build_routes(state),
        exception_handlers={ApiError: _api_error_handler, HTTPException: _http_error_handler},
    )
    return Gateway(state, app)


__all__ = ["build_routes", "create_app"]
