"""The simulator's knobs for worlds whose renders do not follow the provider's guess."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
from airflow_provider_empiriolabs.testing.simulator import DEFAULT_KNOBS


@pytest.fixture
def sim(empiriolabs_simulator: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    return empiriolabs_simulator


@pytest.fixture
def api(sim: EmpirioLabsSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10) as c:
        yield c


def submit(api: httpx.Client) -> str:
    body = {"model": "happyhorse-1-1", "prompt": "a horse galloping on a beach", "duration": 3}
    resp = api.post("/v1/videos/generations", json=body)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["job_id"])


def readings_until_done(api: httpx.Client, job_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        job = api.get(f"/v1/jobs/{job_id}").json()
        seen.append(job)
        if job["status"] in ("completed", "failed"):
            return seen
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.005)


def render_seconds(job: dict[str, Any]) -> float:
    from datetime import datetime

    created = datetime.fromisoformat(job["created_at"].replace("Z", "+00:00"))
    completed = datetime.fromisoformat(job["completed_at"].replace("Z", "+00:00"))
    return (completed - created).total_seconds()


def test_the_defaults_keep_todays_world() -> None:
    assert DEFAULT_KNOBS["render_time_factor"] == 1.0
    assert DEFAULT_KNOBS["progress_mode"] == "linear"


@pytest.mark.parametrize(
    ("knob", "value"),
    [("render_time_factor", 0), ("render_time_factor", -1), ("render_time_factor", "3"), ("progress_mode", "jumpy")],
)
def test_bad_values_are_refused(sim: EmpirioLabsSimulator, knob: str, value: Any) -> None:
    with pytest.raises(ValueError, match=knob):
        sim.configure(**{knob: value})


def test_render_time_factor_multiplies_the_render(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    # 20 + 6 x 3 = 38 s by the guess; x3 = 114 simulated s (0.11 real s at time scale 1000).
    sim.configure(time_scale=1000, render_time_factor=3)
    job = readings_until_done(api, submit(api))[-1]
    assert render_seconds(job) == pytest.approx(114, abs=0.01)


def test_stepped_progress_stalls_then_jumps_by_quarters(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(time_scale=200, progress_mode="stepped")  # 38 simulated s = 0.19 real s
    seen = readings_until_done(api, submit(api))
    rendering = [job["progress"] for job in seen if job["status"] == "processing"]
    assert set(rendering) <= {0.0, 0.25, 0.5, 0.75}
    assert rendering == sorted(rendering)
    assert len(set(rendering)) >= 3  # it moved, in steps
    assert seen[-1]["progress"] == 1.0


def test_absent_progress_is_null_until_and_after_the_end(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(time_scale=400, progress_mode="absent")
    seen = readings_until_done(api, submit(api))
    assert {job["status"] for job in seen} >= {"processing", "completed"}
    assert all(job["progress"] is None for job in seen)
