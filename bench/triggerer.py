"""Benchmark: 2,000 EmpirioLabs triggers waiting at once in Airflow's own trigger runner.

``make bench-triggerer`` (2,000 triggers) or ``.venv/bin/python bench/triggerer.py --quick``.

The triggers run in Airflow's ``TriggerRunner`` (``airflow.jobs.triggerer_job_runner``): the
same child process, event loop, trigger creation, kwargs decryption, greenback portal, log
forwarding and supervisor comms as ``airflow triggerer``. Only the supervisor's database side is
replaced (:class:`BenchSupervisor`): instead of reading ``trigger`` rows it hands the runner
``RunTrigger`` workloads built here, records events instead of writing them to task instances,
and drops the forwarded log lines instead of writing one file per task. So no scheduler, DAG
runs or task instances are needed, and the figures are those of the runner process alone,
which is where the triggers live.

A :class:`~_triggerer_support.TickerTrigger` runs in the same loop and records how late each of
its 50 ms sleeps wakes up: the event-loop lag every trigger sees. Two variants, each in a fresh
runner against the simulator (child process, rate limit raised): the provider's trigger (one
shared ``httpx.AsyncClient`` per loop and account), and the same trigger whose hook builds and
closes a client per poll.

The jobs render for hours (simulator knob ``render_base_seconds``) so that none finishes: every
trigger keeps waiting and polling (first poll from ``expected_done_at``, then at most every
``poll_interval``) for the whole window.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    CpuMeter,
    bench_arguments,
    command_line,
    load_average,
    machine,
    percentile,
    publish,
    rss_bytes,
    setup_airflow_env,
    table,
)

setup_airflow_env()
if not os.environ.get("AIRFLOW__CORE__FERNET_KEY"):
    from cryptography.fernet import Fernet

    os.environ["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()

import httpx  # noqa: E402
import structlog  # noqa: E402
from airflow.executors.workloads.trigger import RunTrigger  # noqa: E402
from airflow.jobs.triggerer_job_runner import TriggerRunnerSupervisor  # noqa: E402
from airflow.models.trigger import Trigger  # noqa: E402

from airflow_provider_empiriolabs.models import VideoRequest  # noqa: E402
from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator, connection_json  # noqa: E402

TITLE = "Triggerer: 2,000 triggers in one trigger runner"
TICK = 0.05
VARIANTS = {
    "shared client": "airflow_provider_empiriolabs.triggers.empiriolabs.EmpirioLabsJobTrigger",
    "client per poll": "_triggerer_support.PerPollClientTrigger",
    "floor: sleep-only trigger": "_triggerer_support.SleeperTrigger",
}
EVENTS: list[tuple[int, Any]] = []
FAILURES: list[tuple[int, Any]] = []
LOG_LINES = [0]


class BenchSupervisor(TriggerRunnerSupervisor):
    """Airflow's trigger runner supervisor with the database side replaced by this benchmark."""

    def heartbeat(self) -> None:  # no Job row
        pass

    def load_triggers(self) -> None:  # workloads are appended to ``creating_triggers`` directly
        pass

    def clean_unused(self) -> None:
        pass

    def on_trigger_event(self, trigger_id: int, event: Any) -> None:
        EVENTS.append((trigger_id, event))

    def on_trigger_failure(self, trigger_id: int, exc: list[str] | None) -> None:
        FAILURES.append((trigger_id, exc))

    def metric_tags(self) -> dict[str, str]:
        return {"hostname": "bench"}

    def _process_log_messages_from_subprocess(self) -> Any:
        # The runner formats and sends every log line as in production; here they are counted, not written.
        while True:
            yield
            LOG_LINES[0] += 1


def submit_jobs(sim: EmpirioLabsSimulator, count: int, seed: int) -> list[tuple[str, float]]:
    """Submit ``count`` jobs; return (job id, expected_done_at as the operator computes it) each."""
    rng = random.Random(seed)

    async def main() -> list[tuple[str, float]]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(
            base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, limits=limits, timeout=60
        ) as client:
            # Not more requests at once than connections: httpcore's pool slows down quadratically
            # with the number of requests queued in it (encode/httpcore#1035).
            gate = asyncio.Semaphore(50)

            async def one() -> tuple[str, float]:
                duration, resolution = rng.randint(3, 15), rng.choice(("720p", "1080p"))
                request = VideoRequest.build(prompt="a horse", duration=duration, resolution=resolution)
                async with gate:
                    response = await client.post("/v1/videos/generations", json=request.to_payload())
                response.raise_for_status()
                return response.json()["job_id"], time.time() + request.expected_render_seconds()

            return list(await asyncio.gather(*(one() for _ in range(count))))

    return asyncio.run(main())


def workload(trigger_id: int, classpath: str, kwargs: dict[str, Any]) -> RunTrigger:
    return RunTrigger(id=trigger_id, classpath=classpath, encrypted_kwargs=Trigger.encrypt_kwargs(kwargs))


def serve_for(sup: BenchSupervisor, seconds: float) -> None:
    """Run the supervisor's loop (as ``airflow triggerer`` does) for this long."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not sup.is_alive():
            raise RuntimeError("the trigger runner process died")
        sup.run_once()


def read_ticks(path: Path, start: float, end: float) -> list[float]:
    if not path.exists():
        return []
    lags = []
    for line in path.read_text().splitlines():
        stamp, lag = line.split()
        if start <= float(stamp) <= end:
            lags.append(float(lag))
    return lags


def run_variant(sim: EmpirioLabsSimulator, name: str, args: argparse.Namespace) -> dict[str, Any]:
    sim.reset()
    EVENTS.clear()
    FAILURES.clear()
    LOG_LINES[0] = 0
    jobs = submit_jobs(sim, args.triggers, args.seed) if not name.startswith("floor") else [("", 0.0)] * args.triggers
    ticks = Path(tempfile.mkdtemp(prefix="empiriolabs-bench-ticker-")) / "ticks.txt"
    sup = BenchSupervisor.start(job=None, capacity=args.triggers + 10, logger=structlog.get_logger("bench"))
    runner = sup.pid
    try:
        sup.creating_triggers.append(
            workload(0, "_triggerer_support.TickerTrigger", {"interval": TICK, "path": str(ticks)})
        )
        serve_for(sup, args.idle)
        idle_rss = rss_bytes(runner)
        idle_since = time.time()
        serve_for(sup, args.idle)
        idle_lags = read_ticks(ticks, idle_since, time.time())
        end_time = time.time() + 3 * 3600
        for i, (job_id, expected_done_at) in enumerate(jobs, start=1):
            if name.startswith("floor"):
                sup.creating_triggers.append(workload(i, VARIANTS[name], {"interval": args.poll_interval}))
                continue
            kwargs = {
                "job_id": job_id,
                "empiriolabs_conn_id": "empiriolabs_default",
                "poll_interval": args.poll_interval,
                "end_time": end_time,
                "hook_params": {},
                "expected_done_at": expected_done_at,
            }
            sup.creating_triggers.append(workload(i, VARIANTS[name], kwargs))
        added = time.time()
        serve_for(sup, args.ramp)
        polls_before = sim.stats()["polls_total"]
        meters = {
            "runner": CpuMeter(runner).start(),
            "supervisor": CpuMeter().start(),
            "sim": CpuMeter(sim.pid).start(),
        }
        window_start = time.time()
        serve_for(sup, args.window)
        window_end = time.time()
        for meter in meters.values():
            meter.stop()
        polls = sim.stats()["polls_total"] - polls_before
        rss = rss_bytes(runner)
        running = len(sup.running_triggers)
    finally:
        sup.kill(signal.SIGTERM, escalation_delay=3, force=True)
    window_lags = read_ticks(ticks, window_start, window_end)
    all_lags = read_ticks(ticks, added, window_end)
    return {
        "name": name,
        "running": running - 1,
        "events": len(EVENTS),
        "failures": len([f for f in FAILURES if f[0] != 0]),
        "idle_rss_mb": idle_rss / 1e6,
        "rss_mb": rss / 1e6,
        "kb_per_trigger": (rss - idle_rss) / 1e3 / args.triggers,
        "runner_cpu": meters["runner"].percent,
        "supervisor_cpu": meters["supervisor"].percent,
        "sim_cpu": meters["sim"].percent,
        "polls_per_s": polls / (window_end - window_start),
        "idle_p99_ms": percentile(idle_lags, 99) * 1e3,
        "p50_ms": percentile(window_lags, 50) * 1e3,
        "p99_ms": percentile(window_lags, 99) * 1e3,
        "max_ms": max(window_lags, default=float("nan")) * 1e3,
        "ramp_p99_ms": percentile(all_lags, 99) * 1e3,
        "ramp_max_ms": max(all_lags, default=float("nan")) * 1e3,
        "log_lines": LOG_LINES[0],
    }


def report(rows: list[dict[str, Any]], args: argparse.Namespace, load_before: str, load_after: str) -> str:
    body = table(
        [
            "variant",
            "triggers running",
            "polls / s",
            "loop lag p50 (ms)",
            "p99 (ms)",
            "max (ms)",
            "p99 / max incl. start (ms)",
            "RSS idle / loaded (MB)",
            "KB / trigger",
            "runner CPU",
            "supervisor CPU",
            "simulator CPU",
        ],
        [
            [
                r["name"],
                r["running"],
                f"{r['polls_per_s']:.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.0f}",
                f"{r['ramp_p99_ms']:.0f} / {r['ramp_max_ms']:.0f}",
                f"{r['idle_rss_mb']:.0f} / {r['rss_mb']:.0f}",
                f"{r['kb_per_trigger']:.1f}",
                f"{r['runner_cpu']:.0f} %",
                f"{r['supervisor_cpu']:.0f} %",
                f"{r['sim_cpu']:.0f} %",
            ]
            for r in rows
        ],
    )
    shared = rows[0]
    lag_ok = shared["p99_ms"] < 100
    mem_ok = shared["kb_per_trigger"] < 30
    verdict = (
        f"Goal (loop lag p99 under 100 ms, under 30 KB per trigger), shared client: lag "
        f"{'met' if lag_ok else 'NOT met'} ({shared['p99_ms']:.1f} ms), memory {'met' if mem_ok else 'NOT met'} "
        f"({shared['kb_per_trigger']:.1f} KB)."
    )
    return f"""
{args.triggers:,} `EmpirioLabsJobTrigger`s waiting at once in one Airflow `TriggerRunner` process (its
supervisor's database side replaced, see `bench/triggerer.py`), `poll_interval` {args.poll_interval:g} s, against
the simulator (child process, rate limit raised, jobs rendering for hours so every trigger keeps
polling). Measured over {args.window:g} s once all triggers had run {args.ramp:g} s. {machine()}; load
average before / after: {load_before} and {load_after}.

Reproduce: `make bench-triggerer` (or `{command_line()}`; `--quick` for a smoke run).

{body}

*loop lag* is how late a 50 ms sleep of a ticker trigger in the same event loop woke up (p50, p99,
max over the window; *incl. start* also covers the creation of all the triggers and their first
polls). *KB / trigger* is the runner process's RSS growth from idle (the ticker alone) to loaded,
divided by the number of triggers. CPU is percent of one core over the window: *runner* is the
process holding the triggers, *supervisor* the process feeding it (here also this benchmark),
*simulator* the API's.

{verdict}
"""


def main() -> int:
    parser = bench_arguments(__doc__, "50 triggers, no floor, short, no docs")
    parser.add_argument("--triggers", type=int, default=2000)
    parser.add_argument("--poll-interval", type=float, default=15.0, help="the triggers' poll_interval (s)")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds after adding before measuring")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds with the ticker alone (twice)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.quick:
        args.triggers, args.ramp, args.window, args.poll_interval, args.idle = 50, 2.0, 2.0, 1.0, 1.0
    load_before = load_average()
    knobs = {"rate_limit_rpm": 0, "render_base_seconds": 6 * 3600.0, "seed": args.seed, "credit_balance_usd": 1e7}
    rows = []
    with EmpirioLabsSimulator(process=True, **knobs) as sim:
        os.environ["AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"] = connection_json(
            sim.url, sim.api_key, {"requests_per_minute": 10**9}
        )
        for name in VARIANTS:
            if args.quick and name.startswith("floor"):
                continue
            row = run_variant(sim, name, args)
            rows.append(row)
            print(
                f"{name}: {row['running']} running, {row['polls_per_s']:.0f} polls/s, loop lag p50 "
                f"{row['p50_ms']:.1f} ms p99 {row['p99_ms']:.1f} ms max {row['max_ms']:.0f} ms, "
                f"{row['kb_per_trigger']:.1f} KB/trigger (RSS {row['idle_rss_mb']:.0f} -> {row['rss_mb']:.0f} MB), "
                f"runner CPU {row['runner_cpu']:.0f} %, simulator CPU {row['sim_cpu']:.0f} %, "
                f"{row['events']} events, {row['failures']} failures, {row['log_lines']} log lines",
                flush=True,
            )
    text = report(rows, args, load_before, load_average())
    publish(TITLE, text, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
