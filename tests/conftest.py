"""
Test session set-up: a throwaway Airflow home and SQLite DB, set before anything imports Airflow.

The example DAGs folder is the DAGs folder, so the example DAGs run as end-to-end tests on
``dag.test()``; the simulator and storage emulator fixtures are loaded for every test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="empiriolabs-tests-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "example_dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

pytest_plugins = ["airflow_provider_empiriolabs.testing.pytest_plugin", "tests.emulators.fixtures"]


@pytest.fixture(autouse=True)
def _fresh_request_budgets() -> None:
    """Each test starts with the account's full request budget (it is process-wide by design)."""
    from airflow_provider_empiriolabs.hooks import rate_budget

    rate_budget._budgets.clear()


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
