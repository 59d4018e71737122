"""pytest fixtures for the EmpirioLabs simulator.

Load it explicitly (it is deliberately not an auto-loaded ``pytest11`` entry point, so installing
the provider never changes anyone else's test session)::

    pytest_plugins = ["airflow_provider_empiriolabs.testing.pytest_plugin"]

One server serves the whole session (starting it costs ~50 ms, but per-test servers would also
multiply threads and ports); it is reset before every test, which returns its knobs to the session
values, so tests cannot leak jobs, faults or counters into each other. The session runs at a fast
time scale so a default 5 s video renders in about a second of real time. Override
``empiriolabs_simulator_knobs`` in a ``conftest.py`` to change the session knobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_empiriolabs.testing.server import EmpirioLabsSimulator

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Session knobs: a 5 s 720p job takes (20 + 6 * 5) / 50 = 1 real second.
FAST_KNOBS: dict[str, Any] = {"time_scale": 50.0}


@pytest.fixture(scope="session")
def empiriolabs_simulator_knobs() -> dict[str, Any]:
    """Knobs the session simulator starts with (and returns to on every reset)."""
    return dict(FAST_KNOBS)


@pytest.fixture(scope="session")
def empiriolabs_simulator_session(
    empiriolabs_simulator_knobs: dict[str, Any],
) -> Iterator[EmpirioLabsSimulator]:
    """The one simulator of the session (not reset; prefer ``empiriolabs_simulator``)."""
    with EmpirioLabsSimulator(**empiriolabs_simulator_knobs) as sim:
        yield sim


@pytest.fixture
def empiriolabs_simulator(empiriolabs_simulator_session: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    """The session simulator, freshly reset for this test."""
    empiriolabs_simulator_session.reset()
    return empiriolabs_simulator_session


@pytest.fixture
def empiriolabs_connection(
    empiriolabs_simulator: EmpirioLabsSimulator, monkeypatch: pytest.MonkeyPatch
) -> EmpirioLabsSimulator:
    """Sets ``AIRFLOW_CONN_EMPIRIOLABS_DEFAULT`` to the simulator for this test; returns it."""
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", empiriolabs_simulator.connection_json())
    return empiriolabs_simulator
