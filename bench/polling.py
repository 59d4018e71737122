"""Benchmark: requests per finished job and detection lag, this trigger against fixed pollers.

``make bench-polling`` (200 jobs) or ``.venv/bin/python bench/polling.py --quick`` (a smoke run).

The same jobs (duration 3..15 s, 720p or 1080p, the simulator's ``render_jitter`` on, one seed)
are waited on three ways, one after the other, against the simulator in a child process:

* ``trigger``: real ``EmpirioLabsJobTrigger.run()`` instances, all in one event loop, each with
  ``expected_done_at`` from ``VideoRequest.expected_render_seconds()`` and the operator's default
  ``poll_interval`` (60 s), after the one synchronous poll the operator makes before deferring
  (counted);
* ``fixed 5 s``: the API's own sample (sleep 5 s, poll, repeat);
* ``fixed 60 s``: dbt Cloud's default interval.

Time is scaled: the simulator runs ``--time-scale`` simulated seconds per real second, and every
interval and expected time the pollers use is divided by the same factor, so the figures are in
simulated (real-world) seconds. Lag = when the poller saw the job finished minus when the job
finished (the job's own ``completed_at``, on the simulator's clock, mapped to real time by reading
that clock once before each variant). The rate limit is lifted here (this benchmark is about how often each poller asks;
``bench/rate_budget.py`` is about the limit).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from _common import (
    CpuMeter,
    bench_arguments,
    command_line,
    load_average,
    machine,
    percentile,
    publish,
    setup_airflow_env,
    table,
)

setup_airflow_env()
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # no log line per poll

import httpx  # noqa: E402

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook  # noqa: E402
from airflow_provider_empiriolabs.models import VideoRequest  # noqa: E402
from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator, connection_json  # noqa: E402
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger  # noqa: E402

TITLE = "Polling: requests per job and detection lag"
OPERATOR_POLL_INTERVAL = 60.0


@dataclass
class Spec:
    duration: int
    resolution: str


@dataclass
class Result:
    job_id: str
    spec: Spec
    render: float = 0.0  # simulated seconds from created_at to completed_at
    lag: float = 0.0  # simulated seconds
    requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def parse_ts(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def job_specs(count: int, seed: int) -> list[Spec]:
    rng = random.Random(seed)
    return [Spec(rng.randint(3, 15), rng.choice(("720p", "1080p"))) for _ in range(count)]


async def submit_all(client: httpx.AsyncClient, specs: list[Spec]) -> list[Result]:
    async def one(spec: Spec) -> Result:
        body = {
            "model": "happyhorse-1-1",
            "prompt": "a horse galloping on a beach at dawn",
            "duration": spec.duration,
            "resolution": spec.resolution,
        }
        response = await client.post("/v1/videos/generations", json=body)
        response.raise_for_status()
        return Result(response.json()["job_id"], spec)

    return list(await asyncio.gather(*(one(spec) for spec in specs)))


@dataclass
class SimClock:
    """Maps the simulator's clock (what its timestamps say) to this process's real time."""

    real: float
    simulated: float
    scale: float

    def to_real(self, simulated: float) -> float:
        return self.real + (simulated - self.simulated) / self.scale


def read_clock(sim: EmpirioLabsSimulator, scale: float) -> SimClock:
    """Read the simulator's clock once, timed by the middle of the round trip (about 1 ms)."""
    before = time.time()
    simulated = parse_ts(sim.stats()["simulated_time"])
    after = time.time()
    return SimClock((before + after) / 2, simulated, scale)


def finish(result: Result, job: dict[str, Any], seen_at: float, clock: SimClock) -> None:
    """Record the lag from the job's own timestamps (simulated clock) and when it was seen (real)."""
    completed = parse_ts(job["completed_at"])
    result.render = completed - parse_ts(job["created_at"])
    result.lag = (seen_at - clock.to_real(completed)) * clock.scale


async def fixed_poller(client: httpx.AsyncClient, results: list[Result], interval: float, clock: SimClock) -> None:
    async def one(result: Result) -> None:
        while True:
            await asyncio.sleep(interval / clock.scale)
            response = await client.get(f"/v1/jobs/{result.job_id}")
            response.raise_for_status()
            job = response.json()
            if job["status"] in ("completed", "failed"):
                finish(result, job, time.time(), clock)
                return

    await asyncio.gather(*(one(r) for r in results))


async def trigger_poller(results: list[Result], clock: SimClock) -> None:
    async def one(result: Result) -> None:
        # What the operator does before deferring: one synchronous poll (here async, same request).
        hook = EmpirioLabsHook()
        try:
            job = await hook.aget_job(result.job_id)
        finally:
            await hook.aclose()
        if job.status.is_terminal():  # the operator would not defer: it has seen the end
            finish(result, job.model_dump(mode="json"), time.time(), clock)
            return
        request = VideoRequest.build(
            prompt="a horse galloping on a beach at dawn",
            duration=result.spec.duration,
            resolution=result.spec.resolution,
        )
        # The operator's expected_done_at: created_at plus the expected render, here in real time.
        assert job.created_at is not None
        expected = clock.to_real(job.created_at.timestamp() + request.expected_render_seconds())
        trigger = EmpirioLabsJobTrigger(
            job_id=result.job_id,
            poll_interval=OPERATOR_POLL_INTERVAL / clock.scale,
            end_time=time.time() + 3600.0,
            expected_done_at=expected,
        )
        async for event in trigger.run():
            seen_at = time.time()
            payload = event.payload
            if payload["status"] != "success":
                raise RuntimeError(f"trigger ended with {payload}")
            finish(result, payload["job"], seen_at, clock)
            return

    await asyncio.gather(*(one(r) for r in results))


def run_variant(sim: EmpirioLabsSimulator, name: str, specs: list[Spec], scale: float) -> dict[str, Any]:
    sim.reset()  # same seed: the same jitter for every variant
    clock = read_clock(sim, scale)
    client_cpu = CpuMeter().start()
    sim_cpu = CpuMeter(sim.pid).start()

    async def main() -> list[Result]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(
            base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, limits=limits, timeout=60
        ) as client:
            results = await submit_all(client, specs)
            if name == "trigger":
                await trigger_poller(results, clock)
            else:
                await fixed_poller(client, results, float(name.split()[1]), clock)
            return results

    started = time.monotonic()
    results = asyncio.run(main())
    wall = time.monotonic() - started
    client_cpu.stop()
    sim_cpu.stop()
    stats = sim.stats()
    for r in results:
        r.requests = stats["gets_per_job"].get(r.job_id, 0)
    lags = [r.lag for r in results]
    ratios = [r.lag / r.render for r in results]
    return {
        "name": name,
        "jobs": len(results),
        "requests_per_job": sum(r.requests for r in results) / len(results),
        "lag_p50": percentile(lags, 50),
        "lag_p95": percentile(lags, 95),
        "lag_max": max(lags),
        "ratio_p50": percentile(ratios, 50),
        "ratio_p95": percentile(ratios, 95),
        "render_min": min(r.render for r in results),
        "render_max": max(r.render for r in results),
        "wall": wall,
        "client_cpu": client_cpu.percent,
        "sim_cpu": sim_cpu.percent,
        "rate_limited": stats["rate_limited"],
        "early_lag_share": sum(1 for r in ratios if r > 0.10) / len(ratios),
    }


def report(rows: list[dict[str, Any]], args: argparse.Namespace, load_before: str, load_after: str) -> str:
    base = next(r for r in rows if r["name"] == "fixed 5")
    trigger = next(r for r in rows if r["name"] == "trigger")
    names = {"trigger": "this trigger (poll_interval 60 s)", "fixed 5": "fixed 5 s", "fixed 60": "fixed 60 s"}
    body = table(
        [
            "poller",
            "requests / job",
            "vs 5 s",
            "lag p50 (s)",
            "lag p95 (s)",
            "lag max (s)",
            "lag / render p50",
            "lag / render p95",
            "jobs over 10 %",
            "client CPU",
            "simulator CPU",
        ],
        [
            [
                names[r["name"]],
                f"{r['requests_per_job']:.2f}",
                f"{r['requests_per_job'] / base['requests_per_job']:.2f}x",
                f"{r['lag_p50']:.1f}",
                f"{r['lag_p95']:.1f}",
                f"{r['lag_max']:.1f}",
                f"{r['ratio_p50']:.1%}",
                f"{r['ratio_p95']:.1%}",
                f"{r['early_lag_share']:.0%}",
                f"{r['client_cpu']:.0f} %",
                f"{r['sim_cpu']:.0f} %",
            ]
            for r in rows
        ],
    )
    requests_ok = trigger["requests_per_job"] <= base["requests_per_job"] / 3
    lag_ok = trigger["ratio_p95"] <= 0.10
    verdict = (
        f"Goal (at most 1/3 of the 5 s poller's requests, p95 lag at most 10 % of the render): requests "
        f"{'met' if requests_ok else 'NOT met'} ({trigger['requests_per_job']:.2f} vs "
        f"{base['requests_per_job'] / 3:.2f} allowed), lag {'met' if lag_ok else 'NOT met'} "
        f"(p95 of lag / render {trigger['ratio_p95']:.1%})."
    )
    return f"""
{args.jobs} jobs (duration 3..15 s, 720p/1080p, `render_jitter` {args.jitter}, seed {args.seed}; simulated renders
{trigger["render_min"]:.0f}..{trigger["render_max"]:.0f} s), submitted at once, waited on by each poller in turn
against the simulator (child process) at time scale {args.time_scale:g}, rate limit lifted. All times are
simulated seconds (real seconds x {args.time_scale:g}). {machine()}; load average before / after:
{load_before} and {load_after}.

Reproduce: `make bench-polling` (or `{command_line()}`; `--quick` for a smoke run).

{body}

*requests / job* are the job's GETs as the simulator counted them (the trigger's include the one poll
the operator makes before deferring). *lag* is when the poller saw the job finished minus when it
finished; *lag / render* divides it by that job's own render time. CPU is percent of one core over
the run (client: this benchmark's process, all pollers of the variant; simulator: its own process).

{verdict}
"""


def main() -> int:
    parser = bench_arguments(__doc__, "12 jobs at time scale 40, docs untouched")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--time-scale", type=float, default=5.0)
    parser.add_argument("--jitter", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.time_scale = 12, 40.0
    specs = job_specs(args.jobs, args.seed)
    load_before = load_average()
    knobs = {
        "time_scale": args.time_scale,
        "render_jitter": args.jitter,
        "seed": args.seed,
        "rate_limit_rpm": 0,
    }
    rows = []
    with EmpirioLabsSimulator(process=True, **knobs) as sim:
        os.environ["AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"] = connection_json(
            sim.url, sim.api_key, {"requests_per_minute": 10**9}
        )
        for name in ("trigger", "fixed 5", "fixed 60"):
            row = run_variant(sim, name, specs, args.time_scale)
            rows.append(row)
            print(
                f"{name:>9}: {row['requests_per_job']:.2f} requests/job, lag p50 {row['lag_p50']:.1f} s "
                f"p95 {row['lag_p95']:.1f} s (lag/render p95 {row['ratio_p95']:.1%}), {row['wall']:.0f} s wall, "
                f"client CPU {row['client_cpu']:.0f} %, simulator CPU {row['sim_cpu']:.0f} %",
                flush=True,
            )
    text = report(rows, args, load_before, load_average())
    publish(TITLE, text, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
