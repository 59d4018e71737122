"""
The hook's unit-test fixtures: a connection from the environment, respx on one base URL, retry
waits recorded instead of slept (which is also how the waits themselves are checked).
"""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import respx
import tenacity.nap

from airflow_provider_empiriolabs.hooks.empiriolabs import (
    EmpirioLabsHook,
)
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget
from tests.hooks.support import BASE, KEY

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set an ``AIRFLOW_CONN_<ID>`` JSON connection."""

    def set_(conn_id: str = "empiriolabs_default", **fields: Any) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "empiriolabs", **fields}))

    return set_


@pytest.fixture
def unit_conn(set_conn: Callable[..., None]) -> None:
    set_conn(host=BASE, password=KEY)


@pytest.fixture
def api(unit_conn: None) -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits, recorded instead of slept (sync: tenacity's nap; async: asyncio.sleep)."""
    waits: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=waits.append))
    real_sleep = asyncio.sleep

    test_thread = threading.get_ident()

    async def fake_sleep(seconds: float, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != test_thread:  # e.g. a simulator's uvicorn loop in its thread
            return await real_sleep(seconds, *args, **kwargs)
        if seconds:
            waits.append(seconds)
        return await real_sleep(0, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    # The recorded waits do not pass real time, so the process-wide pause a 429 also sets
    # (tested in test_rate_budget.py) would be slept for real afterwards: keep it out of here.
    monkeypatch.setattr(RequestBudget, "pause", lambda self, seconds: None)
    return waits


@pytest.fixture
def hook(api: respx.MockRouter, sleeps: list[float]) -> Iterator[EmpirioLabsHook]:
    h = EmpirioLabsHook(max_attempts=3)
    yield h
    h.close()


@pytest.fixture
def fresh_shared_budgets() -> None:
    """Each test builds its own backends and budgets (and warns afresh); ``redis_server`` is the suite's own."""
    from airflow_provider_empiriolabs.hooks import shared_budget

    shared_budget._backends.clear()
    shared_budget._shared.clear()
    shared_budget._warned.clear()
