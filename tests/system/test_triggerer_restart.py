"""
The triggerer dies while a paid job renders: the deferred task must still finish, on the one job
it already paid for, and the video must land.

A real deployment (see ``conftest.py``) runs the text-to-video example DAG, triggered through the
REST API. The simulator renders for ~40 s of real time, so the generate task is surely deferred
(its trigger polling from the triggerer) when the triggerer is killed. A new triggerer then picks
the orphaned trigger up (after the dead one's heartbeat goes stale), rebuilds it from
``serialize()`` and polls the same job: no second POST (a second POST is a second bill).
"""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.system.conftest import TEXT_TO_VIDEO_DAG, AirflowDeployment, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.kills_components, pytest.mark.timeout(900)]

#: render = 10 + 6 * 5 s of video = 40 s at time_scale 1: long enough to be deferred and killed.
RENDER_KNOBS = {"time_scale": 1.0, "render_base_seconds": 10.0, "render_seconds_per_video_second": 6.0}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_deferred_task_survives_a_triggerer_restart(
    airflow_deployment: AirflowDeployment, tmp_path: Path, sig: signal.Signals
) -> None:
    airflow = airflow_deployment
    sim = airflow.simulator
    sim.reset()
    sim.configure(**RENDER_KNOBS)

    run_id = airflow.trigger(TEXT_TO_VIDEO_DAG, {"destination": f"file://{tmp_path}/"})
    airflow.wait_for_task_state(TEXT_TO_VIDEO_DAG, run_id, "generate_video", "deferred", timeout=180)
    # The trigger runs in the triggerer: its first poll reached the simulator.
    wait_for("the trigger's first poll", lambda: sim.stats()["polls_total"] >= 1, 60, on_timeout=airflow.log_tails)
    assert sim.stats()["posts"] == 1

    killed_at = time.monotonic()
    airflow.kill("triggerer", sig)
    polls_while_down = sim.stats()["polls_total"]
    time.sleep(2)
    assert sim.stats()["polls_total"] == polls_while_down, "something still polls with the triggerer down"
    assert airflow.task_instance(TEXT_TO_VIDEO_DAG, run_id, "generate_video")["state"] == "deferred"
    # The kill came mid-render: the job the task paid for is still running at the API.
    job_id = airflow.xcom(TEXT_TO_VIDEO_DAG, run_id, "generate_video", key="job_id")
    job = httpx.get(f"{sim.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10)
    assert job.json()["status"] in ("queued", "processing"), job.text
    airflow.restart("triggerer")
    restarted_at = time.monotonic()
    wait_for(
        "the new triggerer to poll the job",
        lambda: sim.stats()["polls_total"] > polls_while_down,
        300,
        on_timeout=airflow.log_tails,
    )
    resumed_at = time.monotonic()

    state = airflow.wait_for_run(TEXT_TO_VIDEO_DAG, run_id, timeout=400)

    # Figures for the record (not asserted: speed depends on the machine).
    print(
        f"\n{sig.name}: new triggerer healthy {restarted_at - killed_at:.1f} s after the kill, "
        f"polling the job again after {resumed_at - killed_at:.1f} s, run done after "
        f"{time.monotonic() - killed_at:.1f} s"
    )
    log = airflow.task_log(TEXT_TO_VIDEO_DAG, run_id, "generate_video")
    assert state == "success", log
    stats = sim.stats()
    assert stats["posts"] == 1, "the restarted trigger submitted the job again"
    assert stats["jobs_created"] == 1
    summary = airflow.xcom(TEXT_TO_VIDEO_DAG, run_id, "generate_video")
    assert summary["job_id"] == job_id
    assert summary["status"] in ("completed", "succeeded")
    video = tmp_path / job_id / "0.mp4"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        f"{job_id}/0.mp4"
    ], "a partial or temporary object was left behind"
    assert hashlib.sha256(video.read_bytes()).hexdigest() == sim.expected_video_sha256()
