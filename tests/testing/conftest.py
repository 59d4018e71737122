"""Simulator fixtures for the simulator's own tests.

The plugin's fixtures are imported here rather than listed in ``pytest_plugins``: pytest refuses
``pytest_plugins`` in a conftest below the top level when the whole suite runs, and the
top-level ``tests/conftest.py`` belongs to the rest of the suite.
"""

from __future__ import annotations

from airflow_provider_empiriolabs.testing.pytest_plugin import (
    empiriolabs_connection,
    empiriolabs_simulator,
    empiriolabs_simulator_knobs,
    empiriolabs_simulator_session,
)

__all__ = [
    "empiriolabs_connection",
    "empiriolabs_simulator",
    "empiriolabs_simulator_knobs",
    "empiriolabs_simulator_session",
]
