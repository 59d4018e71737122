"""
A total deadline for a synchronous request, headers and body included.

httpx's timeouts bound each read, not the request: a server that sends one byte a second never
trips them and holds a worker forever. Here every socket operation of a synchronous client gets
``min(its own timeout, time left before the deadline)``, so the request ends at the deadline
whatever the server does. The deadline lives in a context variable set around one request
(:func:`deadline_scope`); outside a scope the client behaves as httpx's.

The asynchronous path needs none of this: it runs the request under ``asyncio.wait_for``.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore

if TYPE_CHECKING:
    import ssl

    import httpx


@dataclass
class Deadline:
    """
    When the request must be over, and whether it was cut off for that reason.

    :param at: the deadline, on ``time.monotonic``'s clock.
    """

    at: float
    hit: bool = False

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("empiriolabs_deadline", default=None)


@contextlib.contextmanager
def deadline_scope(seconds: float) -> Iterator[Deadline]:
    """
    Bound every socket operation of synchronous clients (see :func:`bound_by_deadline`) in this block.

    :param seconds: the time the whole request may take from now.
    """
    deadline = Deadline(time.monotonic() + seconds)
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def _bounded(timeout: float | None, timeout_error: type[Exception]) -> tuple[float | None, bool]:
    """The timeout to use for one operation, and whether it is the deadline's (not the operation's)."""
    deadline = _current.get()
    if deadline is None:
        return timeout, False
    left = deadline.left()
    if left <= 0:
        deadline.hit = True
        raise timeout_error("the request's total deadline passed")
    if timeout is None or left < timeout:
        return left, True
    return timeout, False


def _call(operation: Any, timeout: float | None, timeout_error: type[Exception], *args: Any) -> Any:
    bounded, by_deadline = _bounded(timeout, timeout_error)
    try:
        return operation(*args, timeout=bounded)
    except timeout_error:
        deadline = _current.get()
        if by_deadline and deadline is not None:
            deadline.hit = True
        raise


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes end at the deadline of the request using it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _call(self._stream.read, timeout, httpcore.ReadTimeout, max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _call(self._stream.write, timeout, httpcore.WriteTimeout, buffer)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = _call(self._stream.start_tls, timeout, httpcore.ConnectTimeout, ssl_context, server_hostname)
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Opens :class:`_DeadlineStream` s over another backend."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = _call(
            lambda *, timeout: self._backend.connect_tcp(host, port, timeout, local_address, socket_options),
            timeout,
            httpcore.ConnectTimeout,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = _call(
            lambda *, timeout: self._backend.connect_unix_socket(path, timeout, socket_options),
            timeout,
            httpcore.ConnectTimeout,
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def bound_by_deadline(client: httpx.Client) -> bool:
    """
    Make ``client``'s connections honour :func:`deadline_scope`; return whether it could.

    httpx does not take a network backend, so this reaches the connection pools of the client's
    transports (proxies included) and wraps theirs. A transport without one (a mock, a future
    httpx) is left alone: the body is still bounded by the per-chunk check of the reader.
    """
    done = False
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
            done = True
    return done
