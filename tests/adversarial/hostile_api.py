"""
A hostile EmpirioLabs API on 127.0.0.1: every byte of every answer is the test's to choose.

The friendly simulator (``airflow_provider_empiriolabs.testing``) plays the API as documented;
this one plays a broken or malicious one, at the protocol level (raw asyncio streams, no HTTP
library): headers or bodies dripped a byte at a time or never finished, a ``Content-Length`` that
lies, gzip nobody asked for, JSON nested 100,000 deep or megabytes long, redirects elsewhere,
absurd ``Retry-After`` values, hostile job ids. Each route has a queue of :class:`Answer` s,
served in order (then the route's default); every request is recorded, so a test can count the
POSTs that reached it.

It runs its own event loop in a thread, so a synchronous hook (a worker) and an asynchronous one
(a triggerer's loop) can both be pointed at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

POST_ROUTE = "POST /v1/videos/generations"
JOB_ROUTE = "GET /v1/jobs/{id}"

#: Hostile job ids an answer may carry.
HOSTILE_JOB_IDS = ["..", ".", "job\n1", "job_\u202e1", "job\x001", "j" * 4000, "job 1", "a/b", ""]

#: Absurd values of ``Retry-After`` / ``X-RateLimit-Reset``.
ABSURD_WAITS = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "-5",
    "1790000000000",  # a Unix time in milliseconds, past
    "4102444800000",  # a Unix time in milliseconds, year 2100
    "99999999999",  # a Unix time in seconds, year 5138
    "Fri, 01 Jan 9999 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Sun, 06 Nov 1994 08:49:37 +9999",
    "soon",
    "",
    "1" * 400,
]


@dataclass(frozen=True)
class Answer:
    """
    One answer, byte by byte.

    :param status: the status code.
    :param body: the body, as sent before ``gzip``.
    :param headers: headers besides the ones below.
    :param reason: the reason phrase (default ``OK``).
    :param content_length: the ``Content-Length`` announced (default: the body's true length).
    :param no_length: announce no length: the body ends when the connection closes.
    :param gzip: gzip the body (and say so), whatever the client accepts.
    :param drip: seconds between bytes of the head and the body.
    :param endless_head: the headers never end (one byte every ``drip`` seconds).
    :param endless_body: the body never ends (one byte every ``drip`` seconds).
    :param close_after: close the connection after this many body bytes.
    :param hang: never answer at all.
    """

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    reason: str = "OK"
    content_length: int | None = None
    no_length: bool = False
    gzip: bool = False
    drip: float = 0.0
    endless_head: bool = False
    endless_body: bool = False
    close_after: int | None = None
    hang: bool = False

    @property
    def keeps_connection(self) -> bool:
        return not (self.no_length or self.close_after is not None or self.content_length is not None)


def json_answer(status: int, payload: Any, **options: Any) -> Answer:
    """An answer with ``payload`` as its JSON body."""
    return Answer(status=status, body=json.dumps(payload).encode(), **options)


def deep_json(depth: int) -> bytes:
    """JSON nested ``depth`` deep: ``[[[...]]]``."""
    return b"[" * depth + b"]" * depth


def huge_json(size: int) -> bytes:
    """A JSON object of about ``size`` bytes, holding a plausible job id."""
    return b'{"job_id": "job_huge", "status": "queued", "pad": "' + b"x" * size + b'"}'


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "api_error", "code": code}}


@dataclass
class Received:
    """A request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = field(repr=False)


class HostileAPI:
    """
    The server. ``with HostileAPI() as api:`` starts it on a free port; ``api.url`` is its base URL.

    :param default: the answer of a route with nothing scripted.
    """

    def __init__(self, default: Answer | None = None) -> None:
        self.default = default or json_answer(404, envelope("not_found", "nothing scripted here"))
        self.received: list[Received] = []
        self._scripts: dict[str, deque[Answer]] = {}
        self._defaults: dict[str, Answer] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-api", daemon=True)
        self._connections: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    # -- scripting -------------------------------------------------------------------------------

    def script(self, route: str, *answers: Answer) -> None:
        """Queue answers for a route (``POST_ROUTE``, ``JOB_ROUTE``, or ``"GET /path"``)."""
        for answer in answers:
            _warm(answer)
        with self._lock:
            self._scripts.setdefault(route, deque()).extend(answers)

    def always(self, route: str, answer: Answer) -> None:
        """The route's answer once its queue is empty."""
        _warm(answer)
        with self._lock:
            self._defaults[route] = answer

    def reset(self) -> None:
        """Forget scripts and received requests (between examples of a property test)."""
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()
            self.received.clear()

    @property
    def posts(self) -> int:
        """How many job submissions reached the server (each one billed, were it the real API)."""
        with self._lock:
            return sum(1 for r in self.received if route_of(r.method, r.target) == POST_ROUTE)

    def requests_to(self, route: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if route_of(r.method, r.target) == route]

    def _next(self, request: Received) -> Answer:
        route = route_of(request.method, request.target)
        with self._lock:
            self.received.append(request)
            queue = self._scripts.get(route)
            if queue:
                return queue.popleft()
            return self._defaults.get(route, self.default)

    # -- running ---------------------------------------------------------------------------------

    def __enter__(self) -> HostileAPI:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0, limit=1 << 20), self._loop
        )
        self._server = future.result(timeout=10)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._one_exchange(reader, writer):
                pass
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:  # the server stops: end quietly
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request, send its answer; whether the connection stays open for another."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        answer = self._next(Received(method, target, headers, body))
        await self._send(writer, answer)
        return answer.keeps_connection and not answer.endless_body

    async def _send(self, writer: asyncio.StreamWriter, answer: Answer) -> None:
        if answer.hang:
            await asyncio.sleep(3600)
        body = b"" if answer.status in (204, 304) else answer.body
        if answer.gzip:
            body = _gzipped(body)
        lines = [f"HTTP/1.1 {answer.status} {answer.reason}", "Content-Type: application/json"]
        if answer.gzip:
            lines.append("Content-Encoding: gzip")
        if answer.content_length is not None:
            lines.append(f"Content-Length: {answer.content_length}")
        elif not (answer.no_length or answer.endless_body):
            lines.append(f"Content-Length: {len(body)}")
        if not answer.keeps_connection or answer.endless_body:
            lines.append("Connection: close")
        lines += [f"{name}: {value}" for name, value in answer.headers]
        head = ("\r\n".join(lines) + "\r\n").encode("latin-1", "replace")
        if answer.endless_head:
            await self._write(writer, head + b"X-Drip: ", answer.drip)
            while True:
                await self._write(writer, b"a", answer.drip)
        await self._write(writer, head + b"\r\n", answer.drip)
        if answer.close_after is not None:
            body = body[: answer.close_after]
        await self._write(writer, body, answer.drip)
        while answer.endless_body:
            await self._write(writer, b" ", answer.drip)

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, data: bytes, drip: float) -> None:
        if not drip:
            writer.write(data)
            await writer.drain()
            return
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(drip)


@functools.lru_cache(maxsize=8)
def _gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=1)


def _warm(answer: Answer) -> None:
    """Compress when scripting, not while answering (a slow answer would be a timeout, not a test)."""
    if answer.gzip:
        _gzipped(answer.body)


def route_of(method: str, target: str) -> str:
    """The route a request goes to: ``JOB_ROUTE`` for any job, else ``"METHOD /path"``."""
    path = target.split("?", 1)[0]
    if method == "GET" and path.startswith("/v1/jobs/"):
        return JOB_ROUTE
    return f"{method} {path}"


__all__ = [
    "ABSURD_WAITS",
    "HOSTILE_JOB_IDS",
    "JOB_ROUTE",
    "POST_ROUTE",
    "Answer",
    "HostileAPI",
    "Received",
    "deep_json",
    "envelope",
    "huge_json",
    "json_answer",
    "route_of",
]
