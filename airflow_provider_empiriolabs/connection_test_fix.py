"""
A work-around for the connections list's Test button in the Airflow 3.3 UI ("Bad Request").

The button sends the listed connection back with ``port: Number(connection.port)``: ``0`` for a
connection stored without a port, as every EmpirioLabs connection is (the base URL carries any
port, so the form hides "Port"). ``POST /api/v2/connections/test`` takes ``0 != null`` for another
destination, which must bring its own key, and answers 400 before the hook is asked. This ASGI
middleware, registered as a ``fastapi_root_middlewares`` entry of the provider's plugin, drops that
``port: 0`` from test requests for the ``empiriolabs`` type only, so the stored connection is tested.
Every other request passes untouched, unread. Remove it once Airflow treats ``0`` as no port.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["TEST_PATH", "ConnectionTestPortFix", "without_bogus_port"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The REST API route the Test button posts to.
TEST_PATH = "/api/v2/connections/test"
#: A test request is a small JSON object; a larger body is passed on as it is.
_MAX_BODY_BYTES = 1 << 20


def without_bogus_port(body: bytes) -> bytes:
    """
    The test request's body without ``"port": 0`` when it tests an EmpirioLabs connection.

    :param body: the request body as sent; anything that is not such a JSON object comes back as it is.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("conn_type") != "empiriolabs":
        return body
    if data.get("port") != 0 or isinstance(data.get("port"), bool):
        return body
    del data["port"]
    return json.dumps(data).encode()


class ConnectionTestPortFix:
    """
    ASGI middleware: rewrites only ``POST`` :data:`TEST_PATH` bodies (see :func:`without_bogus_port`).

    :param app: the Airflow API server's ASGI app.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not str(scope.get("path", "")).endswith(TEST_PATH)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = bytes(message.get("body", b""))
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        fixed = without_bogus_port(body) if size <= _MAX_BODY_BYTES else body
        if fixed != body:
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(fixed)).encode())]}
        await self.app(scope, _replay([{"type": "http.request", "body": fixed, "more_body": False}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` first, then the client's own."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
