"""
Install as users do: build the sdist and the wheel, install the wheel with an extra into a fresh
venv, and run an example DAG there on ``dag.test()`` against the simulator the wheel ships.

Cheap and offline: ``uv build --no-build-isolation`` builds with the locked setuptools of the
project's venv (``make dist`` runs the same command), and ``uv pip install --offline`` installs the
wheel's dependencies, pinned by the lock, from uv's cache, which ``make env`` filled. The fresh venv
shares nothing else with the project's: not its site-packages, not the checkout on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_empiriolabs import __version__
from tests.conftest import REPO

pytestmark = pytest.mark.slow

UV = Path(sys.executable).with_name("uv")
EXAMPLE = "example_empiriolabs_taskflow.py"


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, check=False, cwd=cwd)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(UV, "build", "--no-build-isolation", "--python", sys.executable, "--out-dir", out, REPO, cwd=REPO)
    return out


def test_the_sdist_and_the_wheel_are_built(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir() if not p.name.startswith("."))
    assert names == [
        f"airflow_provider_empiriolabs-{__version__}-py3-none-any.whl",
        f"airflow_provider_empiriolabs-{__version__}.tar.gz",
    ]


def test_the_wheel_installed_with_an_extra_in_a_fresh_venv_runs_a_dag(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    _run(UV, "venv", "-q", "--python", getattr(sys, "_base_executable", sys.executable), venv)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [UV, "pip", "install", "--offline", "-q", "--python", python, f"{wheel}[amazon]", "-c",
         REPO / "requirements" / "dev.txt"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, (
        "installing the wheel from uv's cache failed (run `make env` to fill the cache):\n" + installed.stderr[-3000:]
    )

    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "example_dags" / EXAMPLE, dags / EXAMPLE)
    home = tmp_path / "airflow-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
    )
    home.mkdir()
    script = tmp_path / "run_installed.py"  # run from outside the checkout: only the venv is importable
    shutil.copy(REPO / "tests" / "packaging" / "run_installed.py", script)
    result = subprocess.run(
        [python, script, tmp_path / "videos"], capture_output=True, text=True, timeout=600, check=False, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    seen = json.loads(lines[-1].removeprefix("RESULT "))

    assert seen["provider_file"].startswith(seen["prefix"])  # the wheel's copy, not the checkout's
    assert Path(seen["prefix"]).resolve() == venv.resolve()
    assert seen["amazon"] is True  # the [amazon] extra brought the s3:// filesystem
    assert seen["import_errors"] == {}
    assert seen["state"] == "success", result.stderr[-3000:]
    assert seen["posts"] == 1
    assert seen["landed"] == [seen["expected"]]
