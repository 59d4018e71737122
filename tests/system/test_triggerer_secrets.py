"""
Secrets on a real deployment at DEBUG: a deferrable generate task runs to success with a canary
API key, its trigger polling from a real triggerer, and no log file of the Airflow home holds the
key, a part of it, or a signed output URL's signature.

The deployment is this module's own (the machinery of ``conftest.py``, with every component at
``DEBUG`` and ``empiriolabs_default`` holding the canary key); it lives only while this module
runs, so it never runs beside the package's shared deployment (this module sorts before the
others of its rank). Where it looks: every file under the home except the metadata DB: the four
components' logs (the triggerer's logs the events its triggers fire), ``logs/`` (task logs, the
scheduler's and DAG processor's own files) and anything else written there.

What counts as a leak: the key, its part after ``sk-empiriolabs-``, any ``signature=<hex>`` in
the text, and every signature the simulator handed out for the run's job (read back from the
account's usage), however it is framed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
from airflow_provider_empiriolabs.testing.server import connection_json
from tests.system.conftest import COMPONENTS, TEXT_TO_VIDEO_DAG, AirflowDeployment, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CANARY = "sk-empiriolabs-TRIGGERERCANARY-8d2e61b9f04c"
_SIGNATURE = re.compile(r"signature=([0-9a-f]{16,})", re.IGNORECASE)
#: A 5 s video renders in (10 + 2 * 5) / 2 = 10 s of real time: surely deferred, soon done.
KNOBS = {"time_scale": 2.0, "render_base_seconds": 10.0, "render_seconds_per_video_second": 2.0}


@pytest.fixture(scope="module")
def canary_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowDeployment]:
    """A deployment of its own: every component at DEBUG, ``empiriolabs_default`` holding the canary."""
    home = tmp_path_factory.mktemp("airflow-home-secrets")
    with EmpirioLabsSimulator(api_key=CANARY, process=True, **KNOBS) as simulator:
        deployment = AirflowDeployment(home, simulator)
        config = simulator.config()
        budget = max(1, int(config["rate_limit_rpm"] * config["time_scale"]))
        deployment.env.update(
            {
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
                "AIRFLOW__LOGGING__FAB_LOGGING_LEVEL": "DEBUG",
                "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT": connection_json(
                    simulator.url, CANARY, {"requests_per_minute": budget}
                ),
            }
        )
        try:
            deployment.migrate()
            for component in COMPONENTS:
                deployment.start(component)
            started = time.monotonic()
            deployment.wait_healthy()
            print(f"\nDEBUG deployment healthy after {time.monotonic() - started:.0f} s (home {home})")
            yield deployment
        finally:
            deployment.stop_all()


def _log_files(home: Path) -> dict[Path, str]:
    """Every file of the home but the metadata DB (and its journal) and the password file, as text."""
    files = {}
    for path in sorted(home.rglob("*")):
        if not path.is_file() or path.name.startswith("airflow.db") or path.name == "passwords.json":
            continue
        files[path] = path.read_bytes().decode("utf-8", "replace")
    return files


def _handed_out_signatures(sim: EmpirioLabsSimulator) -> set[str]:
    """Every output URL signature the account's usage lists (the simulator signs afresh per poll)."""
    resp = httpx.get(
        f"{sim.url}/v1/account/usage", params={"limit": 100}, headers={"Authorization": f"Bearer {CANARY}"}, timeout=10
    )
    resp.raise_for_status()
    return {m for event in resp.json()["data"] for url in event["output_urls"] for m in _SIGNATURE.findall(url)}


def _where(files: dict[Path, str], home: Path, needle: str, limit: int = 5) -> list[str]:
    """``file: line`` for the first lines holding ``needle`` (for the failure message)."""
    found = []
    for path, text in files.items():
        for line in text.splitlines():
            if needle in line:
                found.append(f"{path.relative_to(home)}: {line.strip()[:300]}")
                if len(found) >= limit:
                    return found
    return found


def test_no_key_or_url_signature_in_any_log_of_a_real_triggerer_at_debug(
    canary_deployment: AirflowDeployment, tmp_path: Path
) -> None:
    airflow = canary_deployment
    sim = airflow.simulator
    run_id = airflow.trigger(TEXT_TO_VIDEO_DAG, {"destination": f"file://{tmp_path}/"})
    airflow.wait_for_task_state(TEXT_TO_VIDEO_DAG, run_id, "generate_video", "deferred", timeout=240)
    wait_for("the trigger's first poll", lambda: sim.stats()["polls_total"] >= 1, 120, on_timeout=airflow.log_tails)
    state = airflow.wait_for_run(TEXT_TO_VIDEO_DAG, run_id, timeout=480)
    assert state == "success", airflow.task_log(TEXT_TO_VIDEO_DAG, run_id, "generate_video")
    assert sim.stats()["unauthorized"] == 0  # the canary was the key in use, and it worked
    assert len(list(tmp_path.rglob("*.mp4"))) == 1
    time.sleep(5)  # let the components flush what they log after the run ends

    home = airflow.home
    files = _log_files(home)
    text = "\n".join(files.values())
    # The logs are the DEBUG ones, of all three: the triggerer ran the trigger, and tasks logged.
    assert "DEBUG" in text or "debug" in text
    assert any("triggerer" in p.name for p in files), sorted(str(p.relative_to(home)) for p in files)
    assert "generate_video" in text and "EmpirioLabsJobTrigger" in text
    task_logs = [p for p in files if "dag_id=" in str(p)]
    assert task_logs, "no task log files under logs/"

    handed_out = _handed_out_signatures(sim)
    assert handed_out, "the simulator handed out no signed URL"
    leaks: dict[str, list[str]] = {}
    for what, needle in (("the API key", CANARY), ("the API key's secret part", CANARY.split("-", 2)[-1])):
        if needle in text:
            leaks[what] = _where(files, home, needle)
    for value in sorted(set(_SIGNATURE.findall(text))):
        leaks[f"signature={value[:8]}..."] = _where(files, home, value)
    for value in sorted(handed_out):
        if value in text:
            leaks[f"handed-out signature {value[:8]}..."] = _where(files, home, value)
    report = "\n".join(f"{what}:\n  " + "\n  ".join(lines) for what, lines in leaks.items())
    assert not leaks, f"secrets in the Airflow home's logs ({len(files)} files searched):\n{report}"
