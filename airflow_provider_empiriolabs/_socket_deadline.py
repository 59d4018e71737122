"""
A total deadline on every socket operation of a synchronous httpx client.

httpx's timeouts bound each read, not the request: a server that sends one byte a second never
trips them and holds a worker forever. Both synchronous paths that talk to servers end at a total
deadline the same way, by wrapping httpcore's network backend: every connect, TLS handshake, read
and write gets ``min(its own timeout, time left before the deadline)``, and fails at once when
none is left. The hook's API calls (:mod:`.hooks._deadline`) and the output downloads
(:mod:`.transfers._guarded_http`) differ only in where the deadline comes from, so each stream
asks a callable for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore

if TYPE_CHECKING:
    import ssl

__all__ = ["Deadline", "DeadlineBackend", "DeadlineStream", "within"]


@dataclass
class Deadline:
    """
    When the request must be over, and whether it was cut off for that reason.

    :param at: the deadline, on ``time.monotonic``'s clock.
    :param what: what the deadline bounds, as its timeout errors name it ("request", "download").
    """

    at: float
    hit: bool = False
    what: str = "request"

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()


#: Where a stream finds its deadline at each operation: ``None`` leaves httpx's timeouts alone.
DeadlineSource = Callable[[], "Deadline | None"]


def within(deadline: Deadline | None, operation: Any, timeout: float | None, timeout_error: type[Exception]) -> Any:
    """
    Run one socket operation with its timeout shortened to what is left of ``deadline``.

    :param deadline: the bound; ``None`` runs the operation with its own timeout.
    :param operation: called with ``timeout=``; raises ``timeout_error`` when it runs out.
    :param timeout: the operation's own timeout (httpx's per-operation one).
    :param timeout_error: what to raise when the deadline has passed, so httpx maps it as its own.
    """
    if deadline is None:
        return operation(timeout=timeout)
    left = deadline.left()
    if left <= 0:
        deadline.hit = True
        raise timeout_error(f"the {deadline.what}'s total deadline passed")
    by_deadline = timeout is None or left < timeout
    try:
        return operation(timeout=left if by_deadline else timeout)
    except timeout_error:
        if by_deadline:  # the deadline's share ran out, not the operation's own timeout
            deadline.hit = True
        raise


class DeadlineStream(httpcore.NetworkStream):
    """
    A network stream whose reads, writes and TLS handshake end at the deadline.

    :param stream: the stream wrapped.
    :param deadline: asked at each operation for the deadline in force.
    """

    def __init__(self, stream: httpcore.NetworkStream, deadline: DeadlineSource) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return within(
            self._deadline(), lambda *, timeout: self._stream.read(max_bytes, timeout), timeout, httpcore.ReadTimeout
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        within(self._deadline(), lambda *, timeout: self._stream.write(buffer, timeout), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = within(
            self._deadline(),
            lambda *, timeout: self._stream.start_tls(ssl_context, server_hostname, timeout),
            timeout,
            httpcore.ConnectTimeout,
        )
        return DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """
    Opens :class:`DeadlineStream` s over another backend, the connection itself bounded too.

    :param backend: the backend wrapped.
    :param deadline: asked at each operation for the deadline in force.
    """

    def __init__(self, backend: httpcore.NetworkBackend, deadline: DeadlineSource) -> None:
        self._backend = backend
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = within(
            self._deadline(),
            lambda *, timeout: self._backend.connect_tcp(host, port, timeout, local_address, socket_options),
            timeout,
            httpcore.ConnectTimeout,
        )
        return DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = within(
            self._deadline(),
            lambda *, timeout: self._backend.connect_unix_socket(path, timeout, socket_options),
            timeout,
            httpcore.ConnectTimeout,
        )
        return DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
