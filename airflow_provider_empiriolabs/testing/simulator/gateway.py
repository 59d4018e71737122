"""The raw ASGI layer in front of the routes: classify, authenticate, admit, and play faults on the wire.

Changes when a fault needs a new effect on the connection (reset, truncation, malformed body, delay).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import struct
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.testing.simulator._common import _TRUNCATED, ASGIApp, Message, Receive, Scope, Send
from airflow_provider_empiriolabs.testing.simulator.faults import _FAULT_STATUS_CODES
from airflow_provider_empiriolabs.testing.simulator.validation import ApiError

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.testing.simulator.state import SimulatorState


#: The billed POSTs that create a job (counted as ``posts``, matched by ``post`` faults).
_JOB_POSTS = frozenset({"/v1/videos/generations", "/v1/images/generations", "/v1/videos/compose"})


def _classify(method: str, path: str) -> str | None:
    if not path.startswith("/v1/"):
        return None
    if path.startswith("/v1/outputs/"):
        return "download"
    if path.startswith("/v1/uploads/"):
        return "cdn"
    if path in _JOB_POSTS and method == "POST":
        return "post"
    if path.startswith("/v1/jobs/") and method == "GET":
        return "poll"
    return "api"


def _api_key(scope: Scope) -> tuple[str | None, bool]:
    """(key, any auth header present). A malformed Authorization header yields (None, True)."""
    auth = None
    x_key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value.decode("latin-1")
        elif name == b"x-api-key":
            x_key = value.decode("latin-1")
    if auth is not None:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip(), True
        if x_key and x_key.strip():
            return x_key.strip(), True
        return None, True
    if x_key is not None:
        return (x_key.strip() or None), True
    return None, False


def _transport_of(send: Send) -> tuple[Any, Any]:
    """uvicorn's transport behind its ``send`` (to drop a connection the way a network does)."""
    cycle = getattr(send, "__self__", None)
    return cycle, getattr(cycle, "transport", None)


async def _drop_connection(send: Send, *, reset: bool) -> None:
    """Close the client connection: RST (``reset``) or FIN after flushing what was written."""
    cycle, transport = _transport_of(send)
    if transport is None:  # not uvicorn: best effort
        raise ConnectionAbortedError("simulated connection drop")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    # Tell uvicorn the client is gone so it neither answers 500 nor logs an incomplete response.
    with contextlib.suppress(AttributeError):
        cycle.disconnected = True
    await asyncio.sleep(0)


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
    status = 500
    headers: list[Any] = []
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return status, headers, b"".join(chunks)


async def _replay(send: Send, status: int, headers: list[Any], body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_error(send: Send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await _replay(send, error.status, headers, body)


class Gateway:
    """Raw ASGI layer in front of the routes: what a real API's edge does before the model.

    Order per ``/v1/`` API request: count, authenticate (401), rate-limit (429), outage (503),
    then one scripted fault or a random 5xx, then the route. The catalog list (``PUBLIC_PATHS``) is
    served without a key, and a key that is wrong is not checked there. Presigned downloads skip auth and the
    rate limit (a CDN serves them) but still take scripted faults. Underscore control endpoints
    bypass everything. Kept as plain ASGI (not Starlette middleware) because dropping or cutting a
    connection needs the server's own ``send``.

    :param state: the simulator state.
    :param app: the Starlette app with the routes.
    """

    def __init__(self, state: SimulatorState, app: ASGIApp) -> None:
        self.state = state
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = _classify(scope["method"], scope["path"])
        if kind is None:
            await self.app(scope, receive, send)
            return
        state = self.state
        key, has_header = _api_key(scope) if kind not in ("download", "cdn") else (None, False)
        decision = state.admit(kind, scope["path"], key, has_header)
        extra = decision.headers

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.count_status(message["status"])
                if extra:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        fault = decision.fault
        if fault is None:
            if decision.error is not None:
                await _send_error(counted, decision.error)
            else:
                await self.app(scope, receive, counted)
            return
        await self._apply_fault(fault, kind, scope, receive, send, counted)

    async def _apply_fault(
        self, fault: dict[str, Any], kind: str, scope: Scope, receive: Receive, send: Send, counted: Send
    ) -> None:
        run_app = kind != "post" or fault["accepted"]
        name = fault["kind"]
        if name == "status":
            if kind == "post" and fault["accepted"]:
                await _capture(self.app, scope, receive)
            code, message = _FAULT_STATUS_CODES[fault["status"]]
            retry = {} if fault["retry_after"] is None else {"Retry-After": str(math.ceil(fault["retry_after"]))}
            await _send_error(counted, ApiError(fault["status"], code, message, headers=retry))
        elif name == "reset":
            if kind == "post" and fault["accepted"]:
                await _capture(self.app, scope, receive)
            self.state.count_status(0)
            await _drop_connection(send, reset=True)
        elif name == "malformed_json":
            if run_app and kind not in ("download", "cdn"):
                status, headers, body = await _capture(self.app, scope, receive)
                broken = body[: max(1, len(body) // 2)]
            else:
                status, headers, broken = 200, [(b"content-type", b"application/json")], b'{"job_id": "job_'
            headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
            headers.append((b"content-type", b"application/json"))
            await _replay(counted, status, headers, broken)
        elif name == "delay":
            if kind in ("download", "cdn"):
                await asyncio.sleep(fault["seconds"])
                await self.app(scope, receive, counted)
            else:
                status, headers, body = await _capture(self.app, scope, receive)
                await asyncio.sleep(fault["seconds"])
                await _replay(counted, status, headers, body)
        else:  # truncate
            await self._truncated(scope, receive, send, counted)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send, counted: Send) -> None:
        """Send the real headers (full Content-Length), then half the body, then close."""
        sent = 0
        cutoff: int | None = None
        done = False

        async def cutting(message: Message) -> None:
            nonlocal sent, cutoff, done
            if done:
                return
            if message["type"] == "http.response.start":
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-length":
                        cutoff = int(v) // 2
                await counted(message)
                return
            body = message.get("body", b"")
            if cutoff is None:
                cutoff = len(body) // 2
            room = cutoff - sent
            if len(body) >= room:
                await send({"type": "http.response.body", "body": body[:room], "more_body": True})
                done = True
                scope[_TRUNCATED] = True
                await _drop_connection(send, reset=False)
                return
            sent += len(body)
            await send({"type": "http.response.body", "body": body, "more_body": True})

        await self.app(scope, receive, cutting)


__all__ = ["Gateway"]
