"""
``make demo``: the text-to-video example DAG, end to end on real Airflow, offline.

Starts the EmpirioLabs simulator, points the ``empiriolabs_default`` connection at it, migrates a
throwaway SQLite Airflow home (removed at the end), runs ``airflow dags test`` on the example DAG
(the same code the docs show) and prints where the MP4 landed.

Airflow runs in that home, not in the repository: ``python -m airflow`` puts its working directory
on ``sys.path``, and the repository's ``airflow_provider_empiriolabs.egg-info`` (left by the
editable install) would then be a second copy of the distribution, whose ``airflow.plugins`` entry
point registers the plugin twice ("Plugin 'empiriolabs' already registered").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "example_empiriolabs_text_to_video"


def main() -> int:
    output = REPO / "demo-output"
    output.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="empiriolabs-demo-airflow-home-") as home:
        return _run(Path(home), output)


def _run(home: Path, output: Path) -> int:
    # time_scale 10: a 5 s clip renders in ~5 s of real time instead of ~50 s.
    with EmpirioLabsSimulator(time_scale=10) as sim:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT": sim.connection_json(),
        }
        print(f"EmpirioLabs simulator on {sim.url}; Airflow home {home}", flush=True)
        airflow = [sys.executable, "-m", "airflow"]
        subprocess.run([*airflow, "db", "migrate"], env=env, cwd=home, check=True, stdout=subprocess.DEVNULL)
        run_conf = json.dumps({"destination": f"file://{output}/"})
        result = subprocess.run([*airflow, "dags", "test", DAG_ID, "-c", run_conf], env=env, cwd=home)
        if result.returncode != 0:
            print(f"The demo DAG failed (exit {result.returncode}); its log is above.", file=sys.stderr)
            return result.returncode
        stats = sim.stats()
    videos = sorted(output.rglob("*.mp4"), key=lambda p: p.stat().st_mtime)
    if not videos:
        print(f"The DAG succeeded but no MP4 is in {output}", file=sys.stderr)
        return 1
    print()
    print(f"Video requests sent: {stats['posts']} (one per task, never more)")
    print(f"Your video: {videos[-1]} ({videos[-1].stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
