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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_empiriolabs.redaction import scrub

if TYPE_CHECKING:
    from airflow.sdk import Connection

# The shared budget's logger, whichever of its modules writes: one name to configure and filter.
log = logging.getLogger("airflow_provider_empiriolabs.hooks.shared_budget")

#: A ``Retry-After`` shared through Redis never holds the account longer than this.
MAX_SHARED_PAUSE_SECONDS = 120.0
#: After Redis failed, the process uses its own budget this long before asking Redis again.
BACKEND_RETRY_SECONDS = 30.0
#: Connect and read timeout of every Redis call: a stalled Redis costs a call this much, once.
REDIS_TIMEOUT_SECONDS = 2.0
#: Prefix of every key the provider writes.
KEY_PREFIX = "empiriolabs"

# Sets the key's TTL to ARGV[1] ms unless it already has a longer one; returns the TTL in force.
_PAUSE_SCRIPT = """
local current = redis.call('PTTL', KEYS[1])
local wanted = tonumber(ARGV[1])
if current < wanted then
    redis.call('SET', KEYS[1], '1', 'PX', wanted)
    return wanted
end
return current
"""


@dataclass(frozen=True)
class RedisSettings:
    """
    Where the shared budget lives: an Airflow connection of type ``redis``.

    Host, port (6379), login (an ACL user, optional), password, and the extras ``db`` (0) and
    ``ssl`` (false), as the Redis provider reads them. The password is kept out of ``repr``.
    """

    host: str
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False

    @classmethod
    def from_connection(cls, conn: Connection) -> RedisSettings:
        extra = conn.extra_dejson
        ssl = extra.get("ssl", False)
        return cls(
            host=conn.host or "localhost",
            port=int(conn.port or 6379),
            db=int(extra.get("db", 0) or 0),
            username=conn.login or None,
            password=conn.password or None,
            ssl=ssl is True or str(ssl).lower() in ("true", "1", "yes"),
        )

    @property
    def url(self) -> str:
        """The redis-py URL, credentials included: never log it (see :meth:`describe`)."""
        auth = ""
        if self.username or self.password:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        return f"{'rediss' if self.ssl else 'redis'}://{auth}{self.host}:{self.port}/{self.db}"

    def describe(self) -> str:
        """Where, without credentials: for logs."""
        return f"{'rediss' if self.ssl else 'redis'}://{self.host}:{self.port}/{self.db}"


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
        self._sync: tuple[Any, Any, Any, Any] | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any, Any, Any]] = (
            weakref.WeakKeyDictionary()
        )
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
        return {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}

    def _sync_parts(self) -> tuple[Any, Any, Any, Any]:
        """(client, limits strategy, pause script, limits module), built on first use."""
        with self._lock:
            if self._sync is None:
                import limits
                import redis
                from limits.storage import RedisStorage
                from limits.strategies import MovingWindowRateLimiter
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                pool = redis.ConnectionPool.from_url(self.settings.url, retry=Retry(NoBackoff(), 0), **self._options())
                client = redis.Redis(connection_pool=pool)
                storage = RedisStorage(self.settings.describe(), connection_pool=pool, key_prefix=KEY_PREFIX)
                self._sync = (client, MovingWindowRateLimiter(storage), client.register_script(_PAUSE_SCRIPT), limits)
            return self._sync

    def _async_parts(self) -> tuple[Any, Any, Any, Any]:
        """The running loop's (client, limits strategy, pause script, limits module)."""
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

                pool = redis.asyncio.ConnectionPool.from_url(
                    self.settings.url, retry=Retry(NoBackoff(), 0), **self._options()
                )
                client = redis.asyncio.Redis(connection_pool=pool)
                shared_pool: dict[str, Any] = {"connection_pool": pool}  # typed as scalars by limits
                storage = RedisStorage(
                    "async+" + self.settings.describe(), implementation="redispy", key_prefix=KEY_PREFIX, **shared_pool
                )
                parts = (client, MovingWindowRateLimiter(storage), client.register_script(_PAUSE_SCRIPT), limits)
                self._async[loop] = parts
            return parts

    # -- the budget's operations ----------------------------------------------------------------

    @staticmethod
    def _item(limits: Any, requests: int, window: int) -> Any:
        return limits.RateLimitItemPerSecond(requests, window)

    def reserve(self, account: tuple[str, str], requests: int, window: int) -> float | None:
        """
        Take a slot in the account's window (0.0), or say how long to wait; ``None``: Redis unusable.

        A pause set by any process of the account is waited out first.
        """
        if not self.usable():
            return None
        try:
            client, strategy, _, limits = self._sync_parts()
            pause = client.pttl(pause_key(account))
            if pause > 0:
                result: float = min(pause / 1000.0, MAX_SHARED_PAUSE_SECONDS)
            else:
                item = self._item(limits, requests, window)
                if strategy.hit(item, *window_identity(account)):
                    result = 0.0
                else:
                    result = _until(strategy.get_window_stats(item, *window_identity(account)).reset_time, window)
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
            client, strategy, _, limits = self._async_parts()
            pause = await client.pttl(pause_key(account))
            if pause > 0:
                result: float = min(pause / 1000.0, MAX_SHARED_PAUSE_SECONDS)
            else:
                item = self._item(limits, requests, window)
                if await strategy.hit(item, *window_identity(account)):
                    result = 0.0
                else:
                    stats = await strategy.get_window_stats(item, *window_identity(account))
                    result = _until(stats.reset_time, window)
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
            _, _, script, _ = self._sync_parts()
            ms = script(keys=[pause_key(account)], args=[_pause_ms(seconds)])
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
            _, _, script, _ = self._async_parts()
            ms = await script(keys=[pause_key(account)], args=[_pause_ms(seconds)])
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return int(ms) / 1000.0

    def pause_remaining(self, account: tuple[str, str]) -> float | None:
        """Seconds left of the account's shared pause (0: none); ``None``: Redis unusable."""
        if not self.usable():
            return None
        try:
            client, _, _, _ = self._sync_parts()
            ms = client.pttl(pause_key(account))
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return min(max(ms, 0) / 1000.0, MAX_SHARED_PAUSE_SECONDS)

    async def apause_remaining(self, account: tuple[str, str]) -> float | None:
        """:meth:`pause_remaining` in the event loop."""
        if not self.usable():
            return None
        try:
            client, _, _, _ = self._async_parts()
            ms = await client.pttl(pause_key(account))
        except Exception as error:
            self._failed(error)
            return None
        self._succeeded()
        return min(max(ms, 0) / 1000.0, MAX_SHARED_PAUSE_SECONDS)


def pause_key(account: tuple[str, str]) -> str:
    """The Redis key whose TTL is the account's shared pause."""
    return f"{KEY_PREFIX}:pause:{account[0]}:{account[1]}"


def window_identity(account: tuple[str, str]) -> tuple[str, str, str]:
    """What names the account's window in ``limits``' key."""
    return ("empiriolabs", account[0], account[1])


def _pause_ms(seconds: float) -> int:
    return max(int(min(max(seconds, 0.0), MAX_SHARED_PAUSE_SECONDS) * 1000), 1)


def _until(reset_time: float, window: int) -> float:
    """Seconds until the window frees a slot (wall clock, as ``limits`` stamps entries): 10 ms to a window."""
    return min(max(reset_time - time.time(), 0.01), float(window))
