"""
Run inside a fresh venv that holds the built wheel (not the checkout): one example DAG end to end.

Started by ``test_wheel.py`` with the venv's Python, from a folder outside the checkout, with
``AIRFLOW_HOME`` and the DAGs folder set in the environment. It imports only what the wheel and its
dependencies installed: the simulator comes from the wheel's ``testing`` package. Prints one JSON
line with what it saw; exits 1 when the DAG run failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


def main(destination: Path) -> int:
    import airflow_provider_empiriolabs
    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator

    subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True, capture_output=True)
    from airflow.dag_processing.dagbag import DagBag

    seen: dict[str, object] = {
        "provider_file": airflow_provider_empiriolabs.__file__,
        "prefix": sys.prefix,
        "amazon": _importable("airflow.providers.amazon.aws.fs.s3"),
    }
    with EmpirioLabsSimulator(time_scale=50.0) as sim:
        os.environ["AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"] = sim.connection_json()
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        seen["import_errors"] = {str(k): str(v) for k, v in bag.import_errors.items()}
        run = bag.get_dag("example_empiriolabs_taskflow").test(run_conf={"destination": f"file://{destination}/"})
        landed = sorted(destination.rglob("*.mp4"))
        seen.update(
            state=str(run.state),
            posts=sim.stats()["posts"],
            landed=[hashlib.sha256(p.read_bytes()).hexdigest() for p in landed],
            expected=sim.expected_video_sha256(),
        )
    print("RESULT " + json.dumps(seen))
    return 0 if seen["state"] == "success" else 1


def _importable(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
