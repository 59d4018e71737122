"""
The EmpirioLabs view's FastAPI app, mounted by the plugin at ``/empiriolabs`` on the API server.

Pages: a DAG run's (or a task instance's) videos, and the spend page; each has a JSON twin under
``/api``. Videos are streamed by ``/media`` from the stored copy or the signed URL, server side.
Every route needs a signed-in user, and reads only DAGs the auth manager lets that user read.

Every answer carries security headers (:data:`PAGE_SECURITY_HEADERS`, :data:`API_SECURITY_HEADERS`;
media answers :data:`~.media.MEDIA_SECURITY_HEADERS`). The media route is async: its blocking reads
run on :class:`MediaPool`, threads of the view's own, so slow output hosts can never hold the
thread pool Airflow's own sync endpoints share; when all its streams are taken it answers 503.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_empiriolabs.redaction import redact_text
from airflow_provider_empiriolabs.ui.access import current_user, readable_dag_ids, require_dag_read
from airflow_provider_empiriolabs.ui.media import (
    MEDIA_SECURITY_HEADERS,
    MediaStream,
    MediaUnavailable,
    allowed_storage,
    is_allowed_storage,
    media_streams,
    media_timeout_seconds,
    open_media,
)
from airflow_provider_empiriolabs.ui.pages import run_page, spend_page
from airflow_provider_empiriolabs.ui.records import SpendSummary, VideoRecord, run_videos, spend_summary, task_videos
from airflow_provider_empiriolabs.ui.urls import SPEND_ROUTE, URL_PREFIX

__all__ = ["API_SECURITY_HEADERS", "PAGE_SECURITY_HEADERS", "MediaPool", "SecurityHeaders", "app", "create_app"]

T = TypeVar("T")

_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
#: The view's HTML pages: no script at all, inline style, media and images from the view only,
#: framed only by Airflow's own UI.
PAGE_SECURITY_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    ),
}
#: JSON and error answers: nothing in them may run or be framed.
API_SECURITY_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
}


class SecurityHeaders:
    """
    ASGI middleware: every answer of the view gets security headers (a route's own win).

    HTML answers get :data:`PAGE_SECURITY_HEADERS`, ``video/*`` and ``image/*`` ones the media headers, everything
    else (JSON, errors, 401s) :data:`API_SECURITY_HEADERS`.

    :param app: the view's app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                kind = dict(headers).get(b"content-type", b"").split(b";")[0].strip().lower()
                extra = (
                    PAGE_SECURITY_HEADERS
                    if kind == b"text/html"
                    else MEDIA_SECURITY_HEADERS
                    if kind.startswith((b"video/", b"image/"))
                    else API_SECURITY_HEADERS
                )
                for name, value in extra.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class MediaPool:
    """
    The media route's own threads: at most ``size`` answers at once, each on its own thread.

    An answer holds a slot from its request to its last byte; when none is free the route answers
    503 at once (never queues behind slow output hosts). Threads come from an anyio limiter of the
    same size, never from Airflow's shared default pool.

    :param size: slots (``[empiriolabs] view_media_streams`` when ``None``, read on first use).
    """

    def __init__(self, size: int | None = None) -> None:
        self._size = size
        self._taken = 0
        self._lock = threading.Lock()
        self._limiters: dict[int, anyio.CapacityLimiter] = {}

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = media_streams()
        return self._size

    @property
    def taken(self) -> int:
        """Slots in use now."""
        return self._taken

    def try_take(self) -> bool:
        """Take a slot if one is free."""
        with self._lock:
            if self._taken >= self.size:
                return False
            self._taken += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._taken -= 1

    def _limiter(self) -> anyio.CapacityLimiter:
        import asyncio

        loop = id(asyncio.get_running_loop())
        with self._lock:
            if loop not in self._limiters:
                self._limiters = {loop: anyio.CapacityLimiter(self.size)}  # one event loop serves the app
            return self._limiters[loop]

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on one of the pool's threads."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter())


#: The media route's pool (one per API server process).
media_pool = MediaPool()


async def _streamed(stream: MediaStream, pool: MediaPool) -> AsyncIterator[bytes]:
    """The body of a media answer, read on the pool's threads; the slot is given back at the end."""
    chunks: Iterator[bytes] = stream.body
    try:
        while True:
            chunk = await pool.run(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            close = getattr(chunks, "close", None)
            if close is not None:
                await pool.run(close)
            pool.give_back()


User = Annotated[Any, Depends(current_user)]

#: Jobs in flight polled per spend page at most (the account's 50 requests a minute are shared).
MAX_POLLED_JOBS = 10
#: How long a balance or a job's progress is reused before the API is asked again.
CACHE_SECONDS = 15.0

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _cached(key: str, compute: Any) -> Any:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


def _session() -> Any:
    from airflow.utils.session import create_session

    return create_session()


def _map_index(value: str | None) -> int:
    """The UI fills ``{MAP_INDEX}`` only for mapped tasks: anything but an integer means not mapped."""
    try:
        return int(value) if value is not None else -1
    except ValueError:
        return -1


def _records(dag_id: str, run_id: str, task_id: str | None, map_index: str | None) -> list[VideoRecord]:
    index = _map_index(map_index)
    with _session() as session:
        if task_id is None:
            return run_videos(session, dag_id, run_id)
        return task_videos(session, dag_id, run_id, task_id, index)


def _media_path(request: Request, record: VideoRecord, index: int) -> str:
    root = request.scope.get("root_path", "") or URL_PREFIX
    parts = (record.dag_id, record.run_id, record.task_id, str(record.map_index), str(index))
    return f"{root}/media/" + "/".join(quote(p, safe="") for p in parts)


def _run_path(request: Request, record: VideoRecord) -> str:
    root = request.scope.get("root_path", "") or URL_PREFIX
    return f"{root}/runs/{quote(record.dag_id, safe='')}/{quote(record.run_id, safe='')}"


def _balance(user: Any, conn_id: str) -> dict[str, Any]:
    """The account's balance through ``conn_id`` if the user may read that connection; never its key."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    if not get_auth_manager().is_authorized_connection(
        method="GET", details=ConnectionDetails(conn_id=conn_id), user=user
    ):
        return {"conn_id": conn_id, "balance_usd": None, "error": "you may not read this connection"}

    def fetch() -> dict[str, Any]:
        from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

        try:
            usage = EmpirioLabsHook(conn_id).get_account_usage(limit=1)
        except Exception as error:
            problem = f"{type(error).__name__}: {redact_text(str(error))}"
            return {"conn_id": conn_id, "balance_usd": None, "error": problem}
        return {"conn_id": conn_id, "balance_usd": usage.balance_usd}

    result: dict[str, Any] = _cached(f"balance:{conn_id}", fetch)
    return result


def _progress(records: list[VideoRecord]) -> dict[str, float | None]:
    """The API's progress of each job in flight (the first :data:`MAX_POLLED_JOBS`), server side."""
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

    def fetch(record: VideoRecord) -> float | None:
        try:
            return EmpirioLabsHook(record.conn_id).get_job(record.job_id).progress
        except Exception:
            return None

    return {r.job_id: _cached(f"job:{r.conn_id}:{r.job_id}", lambda r=r: fetch(r)) for r in records[:MAX_POLLED_JOBS]}


def _spend(user: Any, conn_id: str | None) -> tuple[SpendSummary, dict[str, float | None], dict[str, Any]]:
    with _session() as session:
        summary = spend_summary(session, readable_dag_ids(user))
    return summary, _progress(summary.in_flight), _balance(user, conn_id or "empiriolabs_default")


def _open(record: VideoRecord, index: int, range_header: str | None, deadline: float) -> MediaStream:
    return open_media(record, index, range_header, deadline=deadline)


def create_app() -> FastAPI:
    """The view's app (a new one each call; the plugin mounts :data:`app`)."""
    view = FastAPI(title="EmpirioLabs view", docs_url=None, redoc_url=None, openapi_url=None)
    view.add_middleware(SecurityHeaders)

    @view.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
    def run_html(
        request: Request, user: User, dag_id: str, run_id: str, task_id: str | None = None, map_index: str | None = None
    ) -> HTMLResponse:
        require_dag_read(user, dag_id)
        records = _records(dag_id, run_id, task_id, map_index)
        title = f"EmpirioLabs videos: {dag_id} / {run_id}" + (f" / {task_id}" if task_id else "")
        empty = "This task submitted no EmpirioLabs job." if task_id else "This run made no EmpirioLabs video."
        root = request.scope.get("root_path", "") or URL_PREFIX
        airflow_root = root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else ""
        links = {
            "This run in Airflow": f"{airflow_root}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}",
            "EmpirioLabs spend": f"{airflow_root}/plugin/{SPEND_ROUTE}",
        }
        prefixes = allowed_storage()
        page = run_page(
            title,
            records,
            lambda r, i: _media_path(request, r, i),
            empty,
            links,
            streamed=lambda uri: is_allowed_storage(uri, prefixes),
        )
        return HTMLResponse(page)

    @view.get("/api/runs/{dag_id}/{run_id}")
    def run_json(user: User, dag_id: str, run_id: str, task_id: str | None = None, map_index: str | None = None) -> Any:
        require_dag_read(user, dag_id)
        return {"videos": [r.public() for r in _records(dag_id, run_id, task_id, map_index)]}

    @view.get("/media/{dag_id}/{run_id}/{task_id}/{map_index}/{index}")
    async def media(
        request: Request, user: User, dag_id: str, run_id: str, task_id: str, map_index: int, index: int
    ) -> Any:
        pool = media_pool
        if not pool.try_take():
            return JSONResponse(
                {"detail": f"the view is streaming {pool.size} videos already; try again in a moment"},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "5"},
            )
        streaming = False
        try:
            deadline = time.monotonic() + media_timeout_seconds()
            await pool.run(require_dag_read, user, dag_id)
            records = await pool.run(_records, dag_id, run_id, task_id, str(map_index))
            if not records or not 0 <= index < records[0].outputs:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such output")
            try:
                stream = await pool.run(_open, records[0], index, request.headers.get("range"), deadline)
            except MediaUnavailable as error:
                return JSONResponse({"detail": str(error)}, status_code=status.HTTP_404_NOT_FOUND)
            headers = {**stream.headers, "X-EmpirioLabs-Source": stream.source}
            streaming = True
            return StreamingResponse(_streamed(stream, pool), status_code=stream.status, headers=headers)
        finally:
            if not streaming:
                pool.give_back()

    @view.get("/spend", response_class=HTMLResponse)
    def spend_html(request: Request, user: User, conn_id: Annotated[str | None, Query()] = None) -> HTMLResponse:
        summary, progress, balance = _spend(user, conn_id)
        return HTMLResponse(spend_page(summary, progress, balance, lambda r: _run_path(request, r)))

    @view.get("/api/spend")
    def spend_json(user: User, conn_id: Annotated[str | None, Query()] = None) -> Any:
        summary, progress, balance = _spend(user, conn_id)
        return {
            "balance": balance,
            "total_usd": summary.total_usd,
            "jobs": summary.jobs,
            "unpriced": summary.unpriced,
            "estimated": summary.estimated,
            "estimated_usd": summary.estimated_usd,
            "per_dag": summary.per_dag,
            "per_day": summary.per_day,
            "in_flight": [{**r.public(), "progress": progress.get(r.job_id)} for r in summary.in_flight],
        }

    return view


#: The app the plugin mounts.
app = create_app()
