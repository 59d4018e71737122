# [START conftest]
# conftest.py
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Before Airflow is imported: a throwaway metadata DB, and Airflow's DAGs folder set to yours
# (dag.test() runs only DAGs serialized from the configured DAGs folder; without this it fails
# with "the dag is not serialized").
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parent / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

pytest_plugins = ["airflow_provider_empiriolabs.testing.pytest_plugin"]


@pytest.fixture(scope="session", autouse=True)
def airflow_db():
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


# [END conftest]
