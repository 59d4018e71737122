"""
Where the shared budget lives in Redis and what it keeps there.

:class:`RedisSettings` is the server (an Airflow connection of type ``redis``); the account's keys
and the Lua scripts that read and write them follow. Each script runs atomically in Redis;
:class:`ClientParts` registers them on one client (the workers' synchronous one, or an event
loop's). :mod:`._redis_store` uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from airflow.sdk import Connection

#: Prefix of every key the provider writes.
KEY_PREFIX = "empiriolabs"

# The account's state in one round trip: the shared pause left (a longer one is cut to the clamp,
# ARGV[1] ms, for every process), and the count of the account's grants with its TTL.
STATE_SCRIPT = """
local pause = redis.call('PTTL', KEYS[1])
local clamp = tonumber(ARGV[1])
if pause > clamp then
    redis.call('PEXPIRE', KEYS[1], clamp)
    pause = clamp
end
local granted = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
return {pause, granted, redis.call('PTTL', KEYS[2])}
"""
# One grant more; the count lives one window (ARGV[1] ms) after the last grant.
COUNT_SCRIPT = """
local granted = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return granted
"""
# After Redis lost writes: the count goes back up to the one this process saw (never down).
RESTORE_SCRIPT = """
local granted = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if granted < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return granted
"""
# Sets the key's TTL to ARGV[1] ms unless it already has a longer one; returns the TTL in force.
PAUSE_SCRIPT = """
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


@dataclass(frozen=True)
class ClientParts:
    """One client's view of the budget: the client, the ``limits`` strategy and module, the scripts."""

    client: Any
    strategy: Any
    limits: Any
    pause: Any
    state: Any
    count: Any
    restore: Any

    @classmethod
    def of(cls, client: Any, strategy: Any, limits: Any) -> ClientParts:
        scripts = (client.register_script(s) for s in (PAUSE_SCRIPT, STATE_SCRIPT, COUNT_SCRIPT, RESTORE_SCRIPT))
        return cls(client, strategy, limits, *scripts)


def pause_key(account: tuple[str, str]) -> str:
    """The Redis key whose TTL is the account's shared pause."""
    return f"{KEY_PREFIX}:pause:{account[0]}:{account[1]}"


def granted_key(account: tuple[str, str]) -> str:
    """The Redis key counting the account's grants, kept one window after the last (see ``_lost``)."""
    return f"{KEY_PREFIX}:granted:{account[0]}:{account[1]}"


def window_identity(account: tuple[str, str]) -> tuple[str, str, str]:
    """What names the account's window in ``limits``' key."""
    return ("empiriolabs", account[0], account[1])


def state_keys(account: tuple[str, str]) -> list[str]:
    return [pause_key(account), granted_key(account)]
