"""A small real HTTP server on 127.0.0.1 that misbehaves on purpose, for the transfer's trust tests.

Each test installs routes (path -> a function writing the answer) and reads back what the server
received. ``http.server`` in a thread: plain sockets, so a route can drip bytes, lie about its
encoding or its length, or redirect anywhere, which a well-behaved framework would not let it do.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]


@dataclass
class HostileServer:
    """The running server: ``url("/x")`` on 127.0.0.1, ``url("/x", host="localhost")`` on a second name."""

    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def url(self, path: str, *, host: str = "127.0.0.1", query: str = "expires=9&signature=s3cr3t") -> str:
        return f"http://{host}:{self.port}{path}" + (f"?{query}" if query else "")


@contextmanager
def hostile_server() -> Iterator[HostileServer]:
    """Serve on a free port of 127.0.0.1 until the block ends."""
    state = HostileServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            state.seen.append(Seen(path, {k.lower(): v for k, v in self.headers.items()}))
            route = state.routes.get(path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with suppress(BrokenPipeError, ConnectionResetError):
                route(self)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------- routes


def body(
    data: bytes,
    content_type: str = "video/mp4",
    *,
    encoding: str | None = None,
    length: int | None = None,
    cut_after: int | None = None,
) -> Route:
    """Answer ``data``, optionally encoded (gzip, deflate, or a label only) and cut short."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        payload = data
        if encoding == "gzip":
            payload = gzip.compress(data)
        elif encoding == "deflate":
            payload = zlib.compress(data)
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload) if length is None else length))
        if encoding:
            handler.send_header("Content-Encoding", encoding)
        handler.end_headers()
        handler.wfile.write(payload if cut_after is None else payload[:cut_after])
        handler.wfile.flush()

    return route


def redirect(location: str, status: int = 302) -> Route:
    """Answer a redirect to ``location``."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def drip(data: bytes, *, every: float, headers_too: bool = False, stop: threading.Event) -> Route:
    """
    Send ``data`` one byte every ``every`` seconds (the status line and headers too, with
    ``headers_too``), until done or ``stop`` is set.
    """

    def route(handler: BaseHTTPRequestHandler) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        if not headers_too:
            handler.wfile.write(head)
            handler.wfile.flush()
            head = b""
        for byte in head + data:
            if stop.wait(every):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    return route


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until true or ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
