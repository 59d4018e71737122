"""
Test session set-up: a throwaway Airflow home and SQLite DB, set before anything imports Airflow.

The example DAGs folder is the DAGs folder, so the example DAGs run as end-to-end tests on
``dag.test()``; the simulator and storage emulator fixtures are loaded for every test.

Each collected test is marked here by what it needs, so that ``make test-quick`` can leave out
what is slow or needs more than the venv (``-m quick``; ``make test`` runs everything):

- ``e2e``: it uses the migrated metadata DB (a ``dag.test()`` run, the UI app on the DB);
- ``npm``: it runs Azurite (the Azure Blob emulator from npm);
- ``redis``: it starts a real ``redis-server`` (installed by root, via apt);
- ``subprocess``: it starts Python with Airflow in a child process (seconds of imports each): the
  benches' smoke runs, the plugin's and the CLI's loading, a fresh process's log set-up;
- ``slow``: real process kills, a wheel build (marked in the test files).

Every xdist worker (``make test`` runs two) imports this file itself, so each has its own Airflow
home and SQLite DB, its own emulators and simulator; ports come from the kernel (``free_port``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="empiriolabs-tests-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "example_dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
# No live catalogue read unless a test asks (its connection's extra catalogue_ttl_seconds wins): the
# tests that count requests or script "any" faults count the job's calls (tests/hooks/test_live_catalogue.py).
os.environ["AIRFLOW__EMPIRIOLABS__CATALOGUE_TTL_SECONDS"] = "0"

if TYPE_CHECKING:
    from tests.support import RedisServer

pytest_plugins = ["airflow_provider_empiriolabs.testing.pytest_plugin", "tests.emulators.fixtures"]


#: The fixtures that say what a test needs; see the module docstring.
_NEEDS_BY_FIXTURE = {"airflow_db": "e2e", "azure_emulator": "npm", "azure_root": "npm", "redis_server": "redis"}
_NEEDS_BY_PARAM = {"azure_root": "npm", "abfs": "npm"}  # roots chosen by parameter (request.getfixturevalue)
#: Tests that start Python with Airflow in a child process, by node id prefix.
_SUBPROCESS = (
    "tests/bench/",
    "tests/packaging/",
    "tests/ui/test_registration.py::test_airflow_loads_the_view_exactly_once",
    "tests/test_get_provider_info.py::test_airflow_providers_list_shows_it",
    "tests/redaction/test_http_logs.py::test_the_provider_installs_the_filter_in_a_fresh_process",
    "tests/transfers/test_empiriolabs_to_object_storage.py::test_importing_the_module_loads_no_storage_library",
    "tests/testing/test_simulator.py::test_python_m_entry_point",
    "tests/docs/test_code_blocks.py::test_the_user_testing_example_runs_as_written",
)
_NOT_QUICK = ("e2e", "npm", "redis", "subprocess", "slow")


def pytest_configure(config: pytest.Config) -> None:
    for name, what in {
        "e2e": "runs DAGs on dag.test() or the UI app on the migrated metadata DB (make test)",
        "npm": "runs Azurite, the Azure Blob emulator from npm (make test)",
        "redis": "starts a real redis-server, installed by root (make test)",
        "subprocess": "starts Python with Airflow in a child process (make test)",
        "quick": "none of e2e, npm, redis, subprocess, slow: what make test-quick runs",
    }.items():
        config.addinivalue_line("markers", f"{name}: {what}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by what it needs (``e2e``, ``npm``, ``redis``, ``subprocess``), and the rest ``quick``."""
    for item in items:
        needs = {_NEEDS_BY_FIXTURE[f] for f in getattr(item, "fixturenames", ()) if f in _NEEDS_BY_FIXTURE}
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            needs |= {
                _NEEDS_BY_PARAM[v] for v in callspec.params.values() if isinstance(v, str) and v in _NEEDS_BY_PARAM
            }
        if item.nodeid.startswith(_SUBPROCESS):
            needs.add("subprocess")
        for need in sorted(needs):
            item.add_marker(need)
        if not any(item.get_closest_marker(name) for name in _NOT_QUICK):
            item.add_marker("quick")


@pytest.fixture(autouse=True)
def _fresh_request_budgets() -> None:
    """Each test starts with the account's full request budget (it is process-wide by design)."""
    from airflow_provider_empiriolabs.hooks import rate_budget

    rate_budget._budgets.clear()


@pytest.fixture(autouse=True)
def _fresh_secret_masks() -> Iterator[None]:
    """
    Each test ends with the secret masks it started with (Airflow's masker and the provider's list).

    Masks are process-wide by design, and an xdist worker runs over a thousand tests that mask signed
    URLs: Airflow's masker recompiles one pattern of every secret it holds at each new one (2,000
    held: 125 ms per mask), so a worker's late tests ran several times slower than alone.
    """
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    from airflow_provider_empiriolabs import redaction

    masker = _secrets_masker()
    patterns, replacer = set(masker.patterns), masker.replacer
    with redaction._secrets_lock:
        ours = set(redaction._secrets)
    yield
    masker.patterns, masker.replacer = patterns, replacer
    with redaction._secrets_lock:
        redaction._secrets.intersection_update(ours)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata DB (about 8 s, once per session) for tests that run DAGs."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _HOME / "airflow.db"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real ``redis-server`` of this test's own (see :class:`tests.support.RedisServer`)."""
    from tests.support import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
