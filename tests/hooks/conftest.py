"""Fixtures of the hook tests: a process without shared budgets yet (``redis_server`` is the suite's own)."""

from __future__ import annotations

import pytest

from airflow_provider_empiriolabs.hooks import shared_budget


@pytest.fixture
def fresh_shared_budgets() -> None:
    """Each test builds its own backends and budgets (and warns afresh)."""
    shared_budget._backends.clear()
    shared_budget._shared.clear()
    shared_budget._warned.clear()
