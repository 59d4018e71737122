"""
What the hooks' HTTP clients share: one TLS context per process (:func:`tls_context`), and the
asynchronous clients, one per event loop and account, with a limit on the requests in flight
through each.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.hooks._settings import ApiSettings

#: Requests in flight at once on one shared async client, below httpx's pool size (100).
MAX_REQUESTS_IN_FLIGHT = 32


@functools.cache
def tls_context() -> ssl.SSLContext:
    """
    The TLS context every hook client verifies the API with, built once per process.

    httpx builds one per client otherwise, reading the whole CA bundle each time (about 27 ms: a
    task's hook, each retry's fresh hook, each trigger's). It is httpx's own default context
    (certifi's CAs, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` from the environment), read once.
    """
    return httpx.create_ssl_context()


class _SharedAsyncClients:
    """
    One ``httpx.AsyncClient`` per event loop and account, shared by every hook on that loop.

    A triggerer runs all its triggers in one loop: sharing the client shares its connection pool
    (no TLS handshake per poll, a bounded number of sockets) however many jobs are waited on. It
    is built on first use and closed when the last hook using it lets go.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ApiSettings, list[Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def acquire(
        self, settings: ApiSettings, build: Callable[[], httpx.AsyncClient]
    ) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """
        The loop's client for these settings, with its limit on requests in flight.

        httpcore's pool slows down quadratically with the requests queued in it
        (encode/httpcore#1035): 2,000 triggers polling together stalled a triggerer's loop for
        seconds (``bench/triggerer.py``), so at most :data:`MAX_REQUESTS_IN_FLIGHT` go in at once.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            clients = self._by_loop.setdefault(loop, {})
            entry = clients.get(settings)
            if entry is None or entry[0].is_closed:
                entry = clients[settings] = [build(), 0, asyncio.Semaphore(MAX_REQUESTS_IN_FLIGHT)]
            entry[1] += 1
            return entry[0], entry[2]

    async def release(self, settings: ApiSettings) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            clients = self._by_loop.get(loop, {})
            entry = clients.get(settings)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del clients[settings]
        await entry[0].aclose()

    def open_clients(self) -> int:
        """How many shared clients are open on the running loop (for tests and benchmarks)."""
        with self._lock:
            return len(self._by_loop.get(asyncio.get_running_loop(), {}))


shared_async_clients = _SharedAsyncClients()
