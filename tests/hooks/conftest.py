"""Fixtures of the hook tests: a real ``redis-server``, and a process without shared budgets yet."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from airflow_provider_empiriolabs.hooks import shared_budget
from tests.hooks.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def fresh_shared_budgets() -> None:
    """Each test builds its own backends and budgets (and warns afresh)."""
    shared_budget._backends.clear()
    shared_budget._shared.clear()
    shared_budget._warned.clear()
