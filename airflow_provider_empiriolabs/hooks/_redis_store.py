"""
Where the shared request budget lives: a Redis server, its clients, and the fallback when it fails.

:class:`RedisBackend` keeps the account's moving window (``limits``) and its shared pause (a key
whose TTL is the time left) in Redis; every call answers ``None`` instead of raising when Redis
cannot be used, and :class:`.shared_budget.SharedBudget` then uses this process's own budget.
See :mod:`.shared_budget` for the library chosen and the keys written.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any

from airflow_provider_empiriolabs.hooks._redis_keys import (
    KEY_PREFIX,
    ClientParts,
    RedisSettings,
    granted_key,
    pause_key,
    state_keys,
    window_identity,
)
from airflow_provider_empiriolabs.redaction import scrub

# The shared budget's logger, whichever of its modules writes: one name to configure and filter.
log = logging.getLogger("airflow_provider_empiriolabs.hooks.shared_budget")

#: A ``Retry-After`` shared through Redis never holds the account longer than this.
MAX_SHARED_PAUSE_SECONDS = 120.0
#: After Redis failed, the process uses its own budget this long before asking Redis again.
BACKEND_RETRY_SECONDS = 30.0
#: Connect and read timeout of every Redis call: a stalled Redis costs a call this much, once.
REDIS_TIMEOUT_SECONDS = 2.0


class RedisBackend:
    """
    One Redis server's budget store, for the whole process.

    Workers' threads share one synchronous client; each event loop (a triggerer has one) gets its
    own asynchronous client, built in that loop. Every call answers ``None`` instead of raising
    when Redis cannot be used: the caller then falls back to its own budget.

    :param settings: the Redis server.
    :param clock: a monotonic clock in seconds (for the retry delay; replaceable in tests).
    """

    def __init__(self, settings: RedisSettings, clock: Any = time.monotonic) -> None:
        self.settings = settings
        self._monotonic = clock
        self._lock = threading.Lock()
        self._sync: ClientParts | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientParts] = weakref.WeakKeyDictionary()
        # Per account: when this process first saw the shared pause in force; the highest grant
        # count it saw and until when Redis must still have it (see _lost).
        self._pause_seen: dict[tuple[str, str], float] = {}
        self._granted: dict[tuple[str, str], tuple[int, float]] = {}
        self._down = False
        self._retry_at = 0.0
        self.warnings = 0  # how many times the fallback was announced (for tests)

    def __repr__(self) -> str:
        return f"RedisBackend({self.settings.describe()})"

    # -- health ---------------------------------------------------------------------------------

    def usable(self) -> bool:
        """Whether to ask Redis now: up, or down long enough to try again."""
        with self._lock:
            return not self._down or self._monotonic() >= self._retry_at

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            self._retry_at = self._monotonic() + BACKEND_RETRY_SECONDS
            if self._down:
                log.debug("EmpirioLabs shared budget: %s still unusable (%s)", self.settings.describe(), type(error))
                return
            self._down = True
            self.warnings += 1
        reason = scrub(error, self.settings.password or "")
        if isinstance(error, ImportError):
            reason += " (install airflow-provider-empiriolabs[redis])"
        log.warning(
            "EmpirioLabs shared request budget: Redis at %s cannot be used (%s: %s); this process falls "
            "back to its own budget (the account's limit counted for this process alone, so the account "
            "may see more) and tries Redis again every %.0f s. No request fails for this.",
            self.settings.describe(),
            type(error).__name__,
            reason,
            BACKEND_RETRY_SECONDS,
        )

    def _succeeded(self) -> None:
        if not self._down:
            return
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            log.info("EmpirioLabs shared request budget: Redis at %s is back in use", self.settings.describe())

    # -- clients --------------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        # A stalled Redis costs one timeout, never retried; a connection that dropped (a restart, a
        # failover behind one address) is tried once more on a new one, not left for the fallback.
        return {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}

    def _sync_parts(self) -> ClientParts:
        """The workers' client, ``limits`` strategy and scripts, built on first use."""
        with self._lock:
            if self._sync is None:
                import limits
                import redis
                from limits.storage import RedisStorage
                from limits.strategies import MovingWindowRateLimiter
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))  # see _options
                pool = redis.ConnectionPool.from_url(self.settings.url, retry=retry, **self._options())
                client = redis.Redis(connection_pool=pool)
                storage = RedisStorage(self.settings.describe(), connection_pool=pool, key_prefix=KEY_PREFIX)
                self._sync = ClientParts.of(client, MovingWindowRateLimiter(storage), limits)
            return self._sync

    async def _async_parts(self) -> ClientParts:
        """
        The running loop's client, ``limits`` strategy and scripts.

        ``redis.asyncio`` and ``limits.aio`` take over half a second to import: they are imported
        in a thread (:func:`load_async_modules`), so the loop keeps running every other trigger.
        """
        if not _async_modules_loaded.is_set():
            await asyncio.to_thread(load_async_modules)
        loop = asyncio.get_running_loop()
        with self._lock:
            parts = self._async.get(loop)
            if parts is None:
                import limits
                import redis.asyncio
                from limits.aio.storage import RedisStorage
                from limits.aio.strategies import MovingWindowRateLimiter
                from redis.asyncio.retry import Retry
                from redis.backoff import NoBackoff

                retry = Retry(NoBackoff(), 1, supported_errors=(redis.asyncio.ConnectionError,))
                pool = redis.asyncio.ConnectionPool.from_url(self.settings.url, retry=retry, **self._options())
                client = redis.asyncio.Redis(connection_pool=pool)
                shared_pool: dict[str, Any] = {"connection_pool": pool}  # typed as scalars by limits
                storage = RedisStorage(
                    "async+" + self.settings.describe(), implementation="redispy", key_prefix=KEY_PREFIX, **shared_pool
                )
                parts = self._async[loop] = ClientParts.of(client, MovingWindowRateLimiter(storage), limits)
            return parts

    # -- what the answers mean (the same for both clients) --------------------------------------

    def _pause_left(self, account: tuple[str, str], pause_ms: int) -> float:
        """
        The shared pause still to wait: at most the clamp from the moment this process first saw it.

        Redis cuts a longer key to the clamp (:data:`._redis_keys.STATE_SCRIPT`); a writer that keeps putting a
        long pause back still holds this process no longer than the clamp.
        """
        now = self._monotonic()
        with self._lock:
            if pause_ms <= 0:
                self._pause_seen.pop(account, None)
                return 0.0
            seen = self._pause_seen.setdefault(account, now)
        return max(min(pause_ms / 1000.0, seen + MAX_SHARED_PAUSE_SECONDS - now), 0.0)

    def _lost(self, account: tuple[str, str], granted: int, ttl_ms: int) -> int:
        """
        The highest grant count this process saw that Redis no longer has (0: none lost).

        Redis's count of the account's grants lives one window after the last grant. A count lower
        than one this process read or made while Redis must still have it means Redis lost writes of
        the window (a flush, a restart without its data, a failover to a replica that missed them):
        the difference is how many grants it lost at most, all sent within the last window. They are
        put back into the window as far as it has room, stamped now (later than they were sent: the
        window holds them a little longer, never less), then the count is put back up to what this
        process saw; until then, every process that saw a higher count puts back too.
        """
        now = self._monotonic()
        with self._lock:
            seen, until = self._granted.get(account, (0, 0.0))
            if now >= until:
                seen = 0
            if ttl_ms > 0 and granted >= seen:
                expires = now + ttl_ms / 1000.0
                self._granted[account] = (granted, max(until, expires) if granted == seen else expires)
            return seen if seen > granted else 0

    def _counted(self, account: tuple[str, str], granted: int, window: int) -> int:
        """
        This process's grant made the account's count ``granted``; not above the count it saw, Redis
        lost writes since it read the count (the count it saw is returned: the grant is not used).
        """
        now = self._monotonic()
        with self._lock:
            seen, until = self._granted.get(account, (0, 0.0))
            if now < until and granted <= seen:
                return seen
            self._granted[account] = (granted, now + window)
            return 0

    def _put_back(self, parts: ClientParts, item: Any, account: tuple[str, str], missing: int, seen: int) -> Any:
        """
        Put the lost grants back into the window, one by one while it has room, then the count.

        :param missing: how many counts Redis lost: two a grant (before and after its hit), one a
            refused try. As many places are put back (up to twice the grants lost): the processes
            that saw the reset put back at once, one of them not knowing the latest grants, and
            the margin covers the latest grants until the process that knows them puts them back.
        """
        ids, window = window_identity(account), int(item.get_expiry())
        put_back = 0
        while put_back < missing and parts.strategy.hit(item, *ids):
            put_back += 1
        self._announce_reset(put_back, window)
        return parts.restore(keys=[granted_key(account)], args=[seen, window * 1000])

    async def _aput_back(
        self, parts: ClientParts, item: Any, account: tuple[str, str], missing: int, seen: int
    ) -> None:
        """:meth:`_put_back` on the event loop's client."""
        ids, window = window_identity(account), int(item.get_expiry())
        put_back = 0
        while put_back < missing and await parts.strategy.hit(item, *ids):
            put_back += 1
        self._announce_reset(put_back, window)
        await parts.restore(keys=[granted_key(account)], args=[seen, window * 1000])

    def _announce_reset(self, put_back: int, window: int) -> None:
        log.warning(
            "EmpirioLabs shared request budget: Redis at %s lost the account's recent requests (a flush, "
            "a restart without its data, or a failover to a replica that missed them); %d of them are "
            "put back into the account's %d s window, so that the limit holds across the reset",
            self.settings.describe(),
            put_back,
            window,
        )

    # -- the budget's operations ----------------------------------------------------------------

    def reserve(self, account: tuple[str, str], requests: int, window: int) -> float | None:
        """
        Take a slot in the account's window (0.0), or say how long to wait; ``None``: Redis unusable.

        A pause set by any process of the account is waited out first (up to the clamp). When Redis
        lost grants of the window, they are put back first (see :meth:`_lost`).
        """
        if not self.usable():
            return None
        try:
            parts = self._sync_parts()
            ids = window_identity(account)
            item = parts.limits.RateLimitItemPerSecond(requests, window)
            pause_ms, granted, ttl_ms = parts.state(keys=state_keys(account), args=[_clamp_ms()])
            seen = self._lost(account, int(granted), int(ttl_ms))
            if seen:
                self._put_back(parts, item, account, seen - int(granted), seen)
            result = self._pause_left(account, int(pause_ms))
            if result <= 0:  # counted before and after the hit: a reset in between is seen (_counted)
                granted = int(parts.count(keys=[granted_key(account)], args=[window * 1000]))
                seen = self._counted(account, granted, window)
                if not seen and parts.strategy.hit(item, *ids):
                    granted = int(parts.count(keys=[granted_key(account)], args=[window * 1000]))
                    seen = self._counted(account, granted, window)
                    result = 0.0
                else:
                    result = _until(parts.strategy.get_window_stats(item, *ids).reset_time, window)
                if seen:  # lost since the read above: put back, and this place (if any) is not used
                    self._put_back(parts, item, account, seen - granted, seen)
                    result = 0.01
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return result

    async def areserve(self, account: tuple[str, str], requests: int, window: int) -> float | None:
        """:meth:`reserve` in the event loop, without blocking it."""
        if not self.usable():
            return None
        try:
            parts = await self._async_parts()
            ids = window_identity(account)
            item = parts.limits.RateLimitItemPerSecond(requests, window)
            pause_ms, granted, ttl_ms = await parts.state(keys=state_keys(account), args=[_clamp_ms()])
            seen = self._lost(account, int(granted), int(ttl_ms))
            if seen:
                await self._aput_back(parts, item, account, seen - int(granted), seen)
            result = self._pause_left(account, int(pause_ms))
            if result <= 0:
                granted = int(await parts.count(keys=[granted_key(account)], args=[window * 1000]))
                seen = self._counted(account, granted, window)
                if not seen and await parts.strategy.hit(item, *ids):
                    granted = int(await parts.count(keys=[granted_key(account)], args=[window * 1000]))
                    seen = self._counted(account, granted, window)
                    result = 0.0
                else:
                    result = _until((await parts.strategy.get_window_stats(item, *ids)).reset_time, window)
                if seen:
                    await self._aput_back(parts, item, account, seen - granted, seen)
                    result = 0.01
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return result

    def pause(self, account: tuple[str, str], seconds: float) -> float | None:
        """Pause the account for ``seconds`` (clamped), unless it already is for longer; the pause in force."""
        if not self.usable():
            return None
        try:
            ms = self._sync_parts().pause(keys=[pause_key(account)], args=[_pause_ms(seconds)])
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return int(ms) / 1000.0

    async def apause(self, account: tuple[str, str], seconds: float) -> float | None:
        """:meth:`pause` in the event loop."""
        if not self.usable():
            return None
        try:
            ms = await (await self._async_parts()).pause(keys=[pause_key(account)], args=[_pause_ms(seconds)])
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return int(ms) / 1000.0

    def pause_remaining(self, account: tuple[str, str]) -> float | None:
        """Seconds left of the account's shared pause for this process (0: none); ``None``: Redis unusable."""
        if not self.usable():
            return None
        try:
            pause_ms, _, _ = self._sync_parts().state(keys=state_keys(account), args=[_clamp_ms()])
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return self._pause_left(account, int(pause_ms))

    async def apause_remaining(self, account: tuple[str, str]) -> float | None:
        """:meth:`pause_remaining` in the event loop."""
        if not self.usable():
            return None
        try:
            pause_ms, _, _ = await (await self._async_parts()).state(keys=state_keys(account), args=[_clamp_ms()])
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return self._pause_left(account, int(pause_ms))


_async_modules_loaded = threading.Event()


def load_async_modules() -> None:
    """Import what the event loop's client needs (run in a thread: never in the loop)."""
    import limits.aio.storage
    import limits.aio.strategies  # noqa: F401
    import redis.asyncio
    import redis.asyncio.retry  # noqa: F401

    _async_modules_loaded.set()


def _clamp_ms() -> int:
    return int(MAX_SHARED_PAUSE_SECONDS * 1000)


def _pause_ms(seconds: float) -> int:
    return max(int(min(max(seconds, 0.0), MAX_SHARED_PAUSE_SECONDS) * 1000), 1)


def _until(reset_time: float, window: int) -> float:
    """Seconds until the window frees a slot (wall clock, as ``limits`` stamps entries): 10 ms to a window."""
    return min(max(reset_time - time.time(), 0.01), float(window))
