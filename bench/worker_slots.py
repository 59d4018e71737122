"""Benchmark: worker slot-seconds per job, the deferrable operator against the sensor in poke mode.

``make bench-worker-slots`` or ``.venv/bin/python bench/worker_slots.py --quick``.

20 jobs on the time-scaled simulator (child process), two ways, timed by the wall time each
holds a worker slot:

* ``deferrable operator``: ``EmpirioLabsGenerateVideoOperator(deferrable=True).execute()``
  (validate, submit, one poll, ``TaskDeferred``) plus ``execute_complete()`` when the trigger
  (a real ``EmpirioLabsJobTrigger.run()``, in an event loop standing in for the triggerer) fired;
  the wait in between holds no slot;
* ``sensor, poke mode``: the job submitted, then ``EmpirioLabsJobSensor(mode="poke").execute()``,
  which holds its slot for the whole render (20 sensors in 20 threads, as 20 worker slots).

Both call the real methods directly with a minimal context (a ``ti`` that keeps XComs and a task
state store), not through a worker: the start-up of a task process (a few seconds in Airflow 3,
paid twice by a deferred task, once per half) is not included. The sensor's slot time is a
waiting time and scales with simulated time (reported in simulated seconds); the operator's is
work (HTTP round trips, validation) and does not (reported as measured).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any

from _common import bench_arguments, command_line, load_average, machine, percentile, publish, table
from airflow.sdk.exceptions import TaskDeferred
from polling import OPERATOR_POLL_INTERVAL, job_specs

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor
from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator, connection_json

TITLE = "Worker slot-seconds per job: deferrable operator against sensor (poke mode)"


class FakeTI:
    """The little of a task instance the operator and the sensor touch: XComs and stats tags."""

    stats_tags: dict[str, str] = {}

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


class FakeStore(dict):  # type: ignore[type-arg]
    """A task state store: the operator keeps its job id here for crash recovery."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


def context() -> dict[str, Any]:
    return {"ti": FakeTI(), "task_state_store": FakeStore()}


def deferrable(specs: list[Any], scale: float) -> list[float]:
    slots: list[float] = []
    deferred: list[tuple[EmpirioLabsGenerateVideoOperator, dict[str, Any], Any, float]] = []
    for i, spec in enumerate(specs):
        op = EmpirioLabsGenerateVideoOperator(
            task_id=f"video_{i}",
            prompt="a horse galloping on a beach",
            duration=spec.duration,
            resolution=spec.resolution,
            deferrable=True,
            poll_interval=OPERATOR_POLL_INTERVAL / scale,
        )
        ctx = context()
        started = time.monotonic()
        try:
            op.execute(ctx)
            raise RuntimeError("the operator did not defer")
        except TaskDeferred as deferral:
            deferred.append((op, ctx, deferral.trigger, time.monotonic() - started))

    async def wait_all() -> list[dict[str, Any]]:
        async def one(trigger: Any) -> dict[str, Any]:
            async for event in trigger.run():
                return dict(event.payload)
            raise RuntimeError("no event")

        return list(await asyncio.gather(*(one(t) for _, _, t, _ in deferred)))

    events = asyncio.run(wait_all())
    for (op, ctx, _, first_half), event in zip(deferred, events, strict=True):
        started = time.monotonic()
        op.execute_complete(ctx, event)
        slots.append(first_half + time.monotonic() - started)
    return slots


def poke_sensors(specs: list[Any], scale: float) -> list[float]:
    hook = EmpirioLabsHook()
    job_ids = [
        hook.submit_video(VideoRequest.build(prompt="a horse", duration=s.duration, resolution=s.resolution))
        for s in specs
    ]
    hook.close()
    slots = [0.0] * len(job_ids)

    def one(i: int, job_id: str) -> None:
        sensor = EmpirioLabsJobSensor(
            task_id=f"wait_{i}", job_id=job_id, mode="poke", poke_interval=OPERATOR_POLL_INTERVAL / scale
        )
        started = time.monotonic()
        sensor.execute(context())
        slots[i] = (time.monotonic() - started) * scale

    threads = [threading.Thread(target=one, args=(i, j)) for i, j in enumerate(job_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return slots


def main() -> int:
    parser = bench_arguments(__doc__, "3 jobs at time scale 100, docs untouched")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.time_scale = 3, 100.0
    load_before = load_average()
    specs = job_specs(args.jobs, args.seed)
    knobs = {"time_scale": args.time_scale, "render_jitter": 0.2, "seed": args.seed, "rate_limit_rpm": 0}
    with EmpirioLabsSimulator(process=True, **knobs) as sim:
        os.environ["AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"] = connection_json(
            sim.url, sim.api_key, {"requests_per_minute": 10**9}
        )
        operator_slots = deferrable(specs, args.time_scale)
        sim.reset()
        sensor_slots = poke_sensors(specs, args.time_scale)
    rows = []
    for name, slots in (("deferrable operator", operator_slots), ("sensor, poke mode", sensor_slots)):
        rows.append(
            [
                name,
                f"{sum(slots) / len(slots):.2f}",
                f"{percentile(slots, 50):.2f}",
                f"{max(slots):.2f}",
                f"{sum(slots):.1f}",
            ]
        )
        print(f"{name}: mean {sum(slots) / len(slots):.2f} slot-s per job, total {sum(slots):.1f}", flush=True)
    ratio = (sum(sensor_slots) / len(sensor_slots)) / (sum(operator_slots) / len(operator_slots))
    text = f"""
{args.jobs} jobs (duration 3..15 s, 720p/1080p, `render_jitter` 0.2) on the simulator (child process) at time
scale {args.time_scale:g}, `poll_interval` 60 s for both. {machine()}; load average before / after:
{load_before} and {load_average()}.

Reproduce: `make bench-worker-slots` (or `{command_line()}`; `--quick` for a smoke run).

{table(["way", "slot-seconds / job (mean)", "p50", "max", "total for all jobs"], rows)}

The deferrable operator holds a worker slot {ratio:,.0f} times less per job than the sensor in poke
mode. Its slot time is measured work (validation, submission, one poll; then reading the event); the
sensor's is its wait, in simulated seconds (real x {args.time_scale:g}), so about the render time plus up
to one `poll_interval`. Not included: starting a task process (a few seconds in Airflow 3), which the
deferred task pays twice and the sensor once.
"""
    publish(TITLE, text, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
