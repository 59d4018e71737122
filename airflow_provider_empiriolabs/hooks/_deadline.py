"""
A total deadline for the hook's synchronous requests, headers and body included.

The deadline lives in a context variable set around one request (:func:`deadline_scope`); the
client's network backend, wrapped once by :func:`bound_by_deadline`, bounds every socket operation
by it (the mechanism: :mod:`airflow_provider_empiriolabs._socket_deadline`, shared with the output
downloads). Outside a scope the client behaves as httpx's.

The asynchronous path needs none of this: it runs the request under ``asyncio.wait_for``.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpcore

from airflow_provider_empiriolabs._socket_deadline import Deadline, DeadlineBackend

if TYPE_CHECKING:
    import httpx

__all__ = ["Deadline", "bound_by_deadline", "deadline_scope"]

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
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend, _current.get)  # type: ignore[union-attr]
            done = True
    return done
