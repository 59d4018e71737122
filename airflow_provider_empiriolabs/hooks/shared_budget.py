"""
The account's request budget shared by every process of a deployment, through Redis.

:mod:`.rate_budget` keeps one process under the account's 50 requests per minute. On a real
deployment (Celery or Kubernetes workers, one or more triggerers) every process had its own
window, and together they sent 88 to 114 requests in the busiest minute. With the EmpirioLabs
connection's extra ``budget_conn_id`` naming a Redis connection, every process of the account
takes its slots from one moving window kept in Redis, and a 429's ``Retry-After`` pauses them all.

**Library.** `limits <https://limits.readthedocs.io>`_ (5.x) keeps the window: its moving-window
strategy is an exact sliding log (a Redis list of timestamps, checked and appended atomically by
one Lua script), it has the same strategy over a synchronous storage (workers' threads) and an
asynchronous one (``redis.asyncio``: the triggerer's event loop is never blocked by a network
call), both over redis-py, and it answers *when* the window frees a slot (``get_window_stats``),
so a caller sleeps exactly that long instead of spinning. It is mature (the engine behind
Flask-Limiter), typed, and its only dependencies were already installed with Airflow.
``pyrate-limiter`` (4.x) was evaluated too: its Redis bucket is as exact, but its ``Limiter``
mixes sync and async results in one API, starts a background leak thread per limiter (unwanted
in a triggerer), and its API changed incompatibly between 3.x and 4.x. The pause (a key whose TTL
is the time left) and the fallback are this module's own: no library shares a ``Retry-After``.

**What is counted.** A request takes its place in the window when it is sent. The per-process
budget holds it until 60 s after its answer; a shared log cannot move an entry afterwards, so the
shared window is 61 s instead (one second for the request to reach the API), which costs 1.6 %
of the throughput and keeps a slow upload from overlapping the next minute at the API.

**When Redis is unreachable** (down at start, killed, a network split, the connection missing,
or the ``redis`` extra not installed) no call fails for it: the process falls back to its own
budget (:class:`.rate_budget.RequestBudget`, which has counted every request the process sent),
logs one warning that says so, and tries Redis again after :data:`BACKEND_RETRY_SECONDS`.

**Every wait is bounded.** A pause counts at most :data:`MAX_SHARED_PAUSE_SECONDS` from the
moment this process first saw it (Redis cuts a longer key to that for everyone), and a call waits
for its slot :data:`.rate_budget.MAX_WAIT_SECONDS` at most in all, then fails unsent.

**Across a Redis reset** (a flush, a restart without its data, a failover to a replica that missed
the last writes) the limit holds: every grant also counts up an account counter, and a process
that reads a lower count than it saw puts the lost grants back into the window (see
:meth:`._redis_store.RedisBackend._lost`).

Keys (prefix ``empiriolabs``) name the account by its base URL and a hash of its key, never the
key: ``empiriolabs:LIMITER/empiriolabs/<base url>/<sha256[:16]>/...`` for the window,
``empiriolabs:pause:<base url>:<sha256[:16]>`` for the pause and
``empiriolabs:granted:<base url>:<sha256[:16]>`` for the count of grants.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.hooks import _redis_store
from airflow_provider_empiriolabs.hooks._redis_keys import RedisSettings as RedisSettings
from airflow_provider_empiriolabs.hooks._redis_keys import pause_key as pause_key
from airflow_provider_empiriolabs.hooks._redis_keys import window_identity as window_identity
from airflow_provider_empiriolabs.hooks._redis_store import RedisBackend as RedisBackend
from airflow_provider_empiriolabs.hooks._settings import BUDGET_CONN_ID
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget, Slot, WaitBound, account_of, budget_for

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

__all__ = [
    "BACKEND_RETRY_SECONDS",
    "BUDGET_CONN_EXTRA",
    "KEY_PREFIX",
    "MAX_SHARED_PAUSE_SECONDS",
    "REDIS_TIMEOUT_SECONDS",
    "SHARED_WINDOW_SECONDS",
    "RedisBackend",
    "RedisSettings",
    "SharedBudget",
    "aaccount_budget",
    "account_budget",
    "backend_for",
    "pause_key",
    "shared_budget_for",
    "window_identity",
]

log = logging.getLogger(__name__)

#: The shared moving window: 60 s plus one for the request to reach the API (see the module doc).
SHARED_WINDOW_SECONDS = 61
# Where the account's window and pause live (:mod:`._redis_store`), re-exported with their doc.
#: A ``Retry-After`` shared through Redis never holds the account longer than this.
MAX_SHARED_PAUSE_SECONDS = _redis_store.MAX_SHARED_PAUSE_SECONDS
#: After Redis failed, the process uses its own budget this long before asking Redis again.
BACKEND_RETRY_SECONDS = _redis_store.BACKEND_RETRY_SECONDS
#: Connect and read timeout of every Redis call: a stalled Redis costs a call this much, once.
REDIS_TIMEOUT_SECONDS = _redis_store.REDIS_TIMEOUT_SECONDS
#: Prefix of every key the provider writes.
KEY_PREFIX = _redis_store.KEY_PREFIX
#: The connection extra of the EmpirioLabs connection that names the Redis connection.
BUDGET_CONN_EXTRA = BUDGET_CONN_ID.name


class SharedBudget(RequestBudget):
    """
    The account's budget shared through Redis, with this process's own budget as the fallback.

    Same interface as :class:`.rate_budget.RequestBudget` (it is one: its own count is kept up to
    date with every request the process sends, so a fallback starts from the truth):

    * :meth:`acquire` / :meth:`aacquire` wait for this process's pause, then for the account's
      shared pause and window in Redis (``aacquire`` never blocks the event loop); the process's
      callers queue, and only the first asks Redis;
    * :meth:`pause` pauses this process at once and the whole account through Redis (clamped at
      :data:`MAX_SHARED_PAUSE_SECONDS`); called inside an event loop, the Redis write is a task;
    * :meth:`pause_remaining` / :meth:`apause_remaining`: the longer of the two pauses.

    :param requests_per_minute: the account's limit.
    :param backend: where the account's window and pause live.
    :param account: the account's identity (:func:`.rate_budget.account_of`).
    :param window_seconds: the shared window in whole seconds (default :data:`SHARED_WINDOW_SECONDS`,
        read when the budget is built; smaller only in tests and benches).
    """

    def __init__(
        self,
        requests_per_minute: int,
        backend: RedisBackend,
        account: tuple[str, str],
        window_seconds: int | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        super().__init__(requests_per_minute, clock=clock)
        window_seconds = SHARED_WINDOW_SECONDS if window_seconds is None else window_seconds
        if window_seconds < 1 or int(window_seconds) != window_seconds:
            raise ValueError(f"window_seconds: must be a whole number of seconds >= 1 (got {window_seconds})")
        self.backend = backend
        self.account = account
        self.window_seconds = int(window_seconds)
        self._pending: set[asyncio.Task[Any]] = set()
        # One caller of the process asks Redis at a time, the others queue here (first come, first
        # served): 100 triggers waiting on a full window cost Redis one question, not 100 each time
        # a slot frees.
        self._thread_turn = threading.Lock()
        self._loop_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"SharedBudget({self.requests_per_minute} per {self.window_seconds} s, {self.backend!r})"

    def _record(self) -> Slot:
        """The shared window gave a slot: count it here too, for a fallback."""
        with self._lock:
            slot = [self._monotonic()]
            self._started.append(slot)
            return slot

    def _shared_or_local(self, shared_wait: float | None) -> tuple[float, Slot | None]:
        if shared_wait is None:  # Redis unusable: this process's own budget
            return self._reserve()
        if shared_wait > 0:
            return shared_wait, None
        return 0.0, self._record()

    def acquire(self, max_wait: float | None = None) -> Slot:
        """Block the thread until the account may send a request (bounded as :meth:`.RequestBudget.acquire`)."""
        bound = WaitBound.starting(self._monotonic, max_wait)
        if not self._thread_turn.acquire(timeout=max(bound.left(), 0.0)):
            raise bound.spent()
        try:
            while True:
                wait = RequestBudget.pause_remaining(self)
                if wait <= 0:
                    wait, slot = self._shared_or_local(
                        self.backend.reserve(self.account, self.requests_per_minute, self.window_seconds)
                    )
                    if slot is not None:
                        return slot
                time.sleep(bound.sleep_for(wait))
        finally:
            self._thread_turn.release()

    async def aacquire(self, max_wait: float | None = None) -> Slot:
        """Wait, without blocking the event loop, until the account may send a request (bounded too)."""
        bound = WaitBound.starting(self._monotonic, max_wait)
        loop = asyncio.get_running_loop()
        with self._lock:
            turn = self._loop_turns.get(loop)
            if turn is None:
                turn = self._loop_turns[loop] = asyncio.Lock()
        try:
            async with asyncio.timeout(max(bound.left(), 0.0)):
                await turn.acquire()
        except TimeoutError:
            raise bound.spent() from None
        try:
            while True:
                wait = RequestBudget.pause_remaining(self)
                if wait <= 0:
                    wait, slot = self._shared_or_local(
                        await self.backend.areserve(self.account, self.requests_per_minute, self.window_seconds)
                    )
                    if slot is not None:
                        return slot
                await asyncio.sleep(bound.sleep_for(wait))
        finally:
            turn.release()

    def pause(self, seconds: float) -> None:
        """Hold this process at once, and every process of the account through Redis (clamped)."""
        super().pause(seconds)
        if seconds <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.backend.pause(self.account, seconds)
            return
        task = loop.create_task(self.backend.apause(self.account, seconds))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def apause(self, seconds: float) -> None:
        """:meth:`pause`, awaiting the Redis write."""
        super().pause(seconds)
        if seconds > 0:
            await self.backend.apause(self.account, seconds)

    def pause_remaining(self) -> float:
        """Seconds left of the longer pause: this process's, or the account's in Redis."""
        shared = self.backend.pause_remaining(self.account)
        return max(super().pause_remaining(), shared or 0.0)

    async def apause_remaining(self) -> float:
        """:meth:`pause_remaining` without blocking the event loop."""
        shared = await self.backend.apause_remaining(self.account)
        return max(RequestBudget.pause_remaining(self), shared or 0.0)


# ---------------------------------------------------------------------------------------------
# One budget per account and backend in the process; what the hook asks for.
# ---------------------------------------------------------------------------------------------

_backends: dict[RedisSettings, RedisBackend] = {}
_shared: dict[tuple[tuple[str, str], RedisSettings], SharedBudget] = {}
_registry_lock = threading.Lock()
_hook_backends: weakref.WeakKeyDictionary[Any, RedisSettings | None] = weakref.WeakKeyDictionary()
_warned: set[str] = set()


def backend_for(settings: RedisSettings) -> RedisBackend:
    """The process's backend for one Redis server."""
    with _registry_lock:
        backend = _backends.get(settings)
        if backend is None:
            backend = _backends[settings] = RedisBackend(settings)
        return backend


def shared_budget_for(
    base_url: str,
    api_key: str,
    requests_per_minute: int,
    redis: RedisSettings | None,
    window_seconds: int | None = None,
) -> RequestBudget:
    """
    The process's budget for one account: shared through ``redis``, or this process's own
    (:func:`.rate_budget.budget_for`) when there is none. The latest ``requests_per_minute`` wins.
    """
    if redis is None:
        return budget_for(base_url, api_key, requests_per_minute)
    account = account_of(base_url, api_key)
    backend = backend_for(redis)
    window_seconds = SHARED_WINDOW_SECONDS if window_seconds is None else window_seconds
    with _registry_lock:
        budget = _shared.get((account, redis))
        if budget is None or budget.window_seconds != window_seconds:
            budget = _shared[(account, redis)] = SharedBudget(requests_per_minute, backend, account, window_seconds)
        else:
            budget.requests_per_minute = requests_per_minute
        return budget


def _budget_conn_id(conn: Connection) -> str | None:
    extra = conn.extra_dejson
    value = extra.get(BUDGET_CONN_EXTRA)
    return str(value).strip() or None if value else None


def _warn_once(conn_id: str, error: BaseException) -> None:
    if conn_id in _warned:
        return
    _warned.add(conn_id)
    log.warning(
        "EmpirioLabs shared request budget: the Redis connection %r cannot be read (%s: %s); this "
        "process uses its own budget instead",
        conn_id,
        type(error).__name__,
        error,
    )


def account_budget(hook: EmpirioLabsHook) -> RequestBudget:
    """The hook's budget: shared when its connection names a ``budget_conn_id``, else the process's."""
    settings = hook.settings
    if hook not in _hook_backends:
        redis: RedisSettings | None = None
        conn_id = _budget_conn_id(hook.get_connection(hook.empiriolabs_conn_id))
        if conn_id:
            try:
                redis = RedisSettings.from_connection(hook.get_connection(conn_id))
            except Exception as error:
                _warn_once(conn_id, error)
        _hook_backends[hook] = redis
    return shared_budget_for(settings.base_url, settings.api_key, settings.requests_per_minute, _hook_backends[hook])


async def aaccount_budget(hook: EmpirioLabsHook) -> RequestBudget:
    """:func:`account_budget`, reading the connections without blocking the event loop."""
    settings = await hook.asettings()
    if hook not in _hook_backends:
        redis: RedisSettings | None = None
        conn_id = _budget_conn_id(await hook.aget_connection(hook.empiriolabs_conn_id))
        if conn_id:
            try:
                redis = RedisSettings.from_connection(await hook.aget_connection(conn_id))
            except Exception as error:
                _warn_once(conn_id, error)
        _hook_backends[hook] = redis
    return shared_budget_for(settings.base_url, settings.api_key, settings.requests_per_minute, _hook_backends[hook])
