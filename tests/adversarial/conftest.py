"""
Fixtures for the adversarial tests: the hostile API, a connection to it with short timeouts,
and retry waits recorded instead of slept (checked against the cap instead).
"""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import tenacity.nap

from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget
from tests.adversarial.hostile_api import HostileAPI
from tests.adversarial.support import KEY, TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileAPI]:
    with HostileAPI() as api:
        yield api


@pytest.fixture
def api(hostile: HostileAPI, monkeypatch: pytest.MonkeyPatch) -> HostileAPI:
    """The hostile API, with nothing scripted, as the default connection (short timeouts; see support)."""
    hostile.reset()
    extra = {"timeout": TIMEOUT, "requests_per_minute": 1_000_000}
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT",
        json.dumps({"conn_type": "empiriolabs", "host": hostile.url, "password": KEY, "extra": extra}),
    )
    return hostile


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """
    Retry waits and budget pauses, recorded instead of waited.

    ``retry``: what tenacity would sleep (sync: its nap; async: ``asyncio.sleep`` on the test's
    thread). ``pause``: how long the process's budget was paused for, as the budget set it
    (then lifted, so that the test goes on).
    """
    recorded: dict[str, list[float]] = {"retry": [], "pause": []}
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=recorded["retry"].append))
    real_sleep = asyncio.sleep
    test_thread = threading.get_ident()

    async def fake_sleep(seconds: float, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != test_thread:  # the hostile server's own loop
            return await real_sleep(seconds, *args, **kwargs)
        if seconds:
            recorded["retry"].append(seconds)
        return await real_sleep(0, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    real_pause = RequestBudget.pause

    def pause(self: RequestBudget, seconds: float) -> None:
        real_pause(self, seconds)
        with self._lock:
            paused = max(self._paused_until - self._monotonic(), 0.0)
            self._paused_until = 0.0
        recorded["pause"].append(paused)

    monkeypatch.setattr(RequestBudget, "pause", pause)
    return recorded
