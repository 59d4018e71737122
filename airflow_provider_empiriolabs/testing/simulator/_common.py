"""Shared vocabulary of the simulator's modules: ASGI type aliases, number checks, money and time formats.

Kept apart so that every other module can use them without importing one another.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CENT = Decimal("0.000001")
_TRUNCATED = "empiriolabs.truncated"


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC with a ``Z`` suffix (what most APIs send; ``datetime.fromisoformat`` reads it)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _money(value: Decimal) -> float:
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send", "iso"]
