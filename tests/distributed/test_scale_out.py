"""
Scale out: 48 mapped deferrable videos on a distributed Airflow while a triggerer and a worker die.

The deployment (``conftest.py``): CeleryExecutor with two workers of 4 slots, two triggerers,
Postgres, Redis, and the simulator at EmpirioLabs' real limit (50 requests per sliding minute)
rendering each video in ~20 s. Mid-run, one triggerer is SIGKILLed (its triggers must move to the
other one) and one Celery worker's whole process group is SIGKILLed while it runs task runners
(they are left orphaned, in groups of their own) and a new worker replaces it.

What must hold, whatever died:

* every task ends ``success`` (none ``failed``/``upstream_failed``);
* one paid job per video: the simulator created exactly as many jobs as videos (a second accepted
  POST for a video is a second bill), and saw exactly as many POSTs (a POST refused with 429 costs
  no money but spends the budget: with one budget for the deployment none is refused);
* every video landed in the destination with the bytes the simulator serves (sha256);
* the account's limit held: never more than 50 API requests in any sliding 60 s window (the
  simulator's ``peak_requests_60s``, which counts every API request it received, refused or not).
  This needs one budget for the whole deployment, the shared budget through Redis (see
  ``USE_SHARED_BUDGET`` in ``conftest.py``): each process keeping its own 50-a-minute budget lets
  2 triggerers and 8 task runners overrun it.

All checks are evaluated and reported together; the figures of the run are printed (``-s``).
"""

from __future__ import annotations

import hashlib
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.distributed.conftest import (
    SIMULATOR_KNOBS,
    TASK_HEARTBEAT_TIMEOUT,
    USE_SHARED_BUDGET,
    DistributedDeployment,
    wait_for,
)
from tests.distributed.dags.empiriolabs_distributed import DAG_ID

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

#: At least 40 mapped generate + transfer pairs.
VIDEOS = 48
#: How long the run may take once triggered (the deployment's start-up is extra).
RUN_TIMEOUT = 780.0
#: How long to look for a worker whose generate task has just been paid for (then: any busy one).
PAID_MOMENT_WAIT = 120.0


class Monitor(threading.Thread):
    """Samples the deployment once a second: peak RSS per component, and the kills' aftermath.

    :param airflow: the deployment.
    """

    def __init__(self, airflow: DistributedDeployment) -> None:
        super().__init__(name="distributed-monitor", daemon=True)
        self.airflow = airflow
        self.stopped = threading.Event()
        self.peak_rss: dict[str, int] = {}
        self.errors: list[str] = []
        # Triggerer kill: the dead triggerer's job id, its triggers, when it died, and when each of
        # its triggers was picked up by a live triggerer.
        self.dead_triggerer_job: int | None = None
        self.orphan_triggers: set[int] = set()
        self.triggerer_killed_at: float | None = None
        self.trigger_adopted_at: dict[int, float] = {}
        # Worker kill: the task instances its runners ran ((task id, map index) -> try number), when it
        # died, and when the scheduler moved each of them on (no longer running that try). A retry
        # gets a new task instance id: rows are followed by task and map index.
        self.orphan_tis: dict[tuple[str, int], int] = {}
        self.worker_killed_at: float | None = None
        self.ti_detected_at: dict[tuple[str, int], tuple[float, str]] = {}
        self.run_id = ""
        self.orphan_pids_alive_at_end: list[int] = []

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                self.sample()
            except Exception as exc:  # keep sampling; report the first few
                if len(self.errors) < 5:
                    self.errors.append(repr(exc))

    def sample(self) -> None:
        for name, rss in self.airflow.rss_by_component().items():
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)
        pg = self.airflow.postgres
        now = time.monotonic()
        pending = self.orphan_triggers - set(self.trigger_adopted_at)
        if pending:
            rows = pg.query("SELECT id, triggerer_id FROM trigger WHERE id = ANY(%s)", (list(pending),))
            found = {int(tid): owner for tid, owner in rows}
            for tid in pending:
                owner = found.get(tid, "gone")
                if owner != self.dead_triggerer_job and owner is not None:
                    self.trigger_adopted_at[tid] = now
        waiting = {ti: v for ti, v in self.orphan_tis.items() if ti not in self.ti_detected_at}
        if waiting:
            rows = pg.query(
                "SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
                (DAG_ID, self.run_id),
            )
            for task_id, map_index, state, try_number in rows:
                key = (str(task_id), int(map_index))
                if key in waiting and (state != "running" or int(try_number) != waiting[key]):
                    self.ti_detected_at[key] = (now, f"{state} (try {try_number})")


def _ti_states(airflow: DistributedDeployment, run_id: str) -> list[tuple[str, int, str, int]]:
    rows = airflow.postgres.query(
        "SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
        (DAG_ID, run_id),
    )
    return [(str(t), int(m), str(s), int(n)) for t, m, s, n in rows]


def _kill_worker_mid_task(airflow: DistributedDeployment, monitor: Monitor, run_id: str) -> str:
    """SIGKILL the group of a worker in the costliest moment; start a replacement.

    The costliest moment: a generate task on it has had its POST accepted (it logged so) and has
    not deferred yet, so whether its retry pays again depends on the job id being kept before the
    crash. If no such moment is caught within :data:`PAID_MOMENT_WAIT` s, the worker is killed
    while it runs two task runners, whatever they do.
    """
    logs = airflow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"

    def running_on_workers() -> list[tuple[str, str, int, int]]:
        rows = airflow.postgres.query(
            "SELECT hostname, task_id, map_index, try_number FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s AND state = 'running' AND hostname IN ('worker-1', 'worker-2')",
            (DAG_ID, run_id),
        )
        return [(str(h), str(t), int(m), int(n)) for h, t, m, n in rows]

    def task_log(task_id: str, map_index: int, try_number: int) -> str:
        log = logs / f"task_id={task_id}" / f"map_index={map_index}" / f"attempt={try_number}.log"
        try:
            return log.read_text(errors="replace")
        except OSError:
            return ""

    def paid_not_deferred(task_id: str, map_index: int, try_number: int) -> bool:
        text = task_log(task_id, map_index, try_number)
        return "EmpirioLabs accepted the request" in text and "Pausing task as DEFERRED" not in text

    def waiting_to_send(task_id: str, map_index: int, try_number: int) -> bool:
        text = task_log(task_id, map_index, try_number)
        return "Submitting" in text and "EmpirioLabs accepted the request" not in text

    def sending_on(host: str) -> bool:
        """Whether a task of ``host`` has a POST in flight ("sending" recorded, no answer yet).

        A kill then leaves that POST's outcome unknown to everybody (the API has no idempotency key),
        and the task fails by design rather than risk paying twice: a crash at another moment is
        what this test asks the provider to survive with no failed task.
        """
        rows = airflow.postgres.query(
            "SELECT count(*) FROM task_state_store s JOIN task_instance t ON s.dag_id = t.dag_id AND "
            "s.run_id = t.run_id AND s.task_id = t.task_id AND s.map_index = t.map_index "
            "WHERE t.dag_id = %s AND t.run_id = %s AND t.hostname = %s AND t.state = 'running' "
            "AND s.value LIKE %s",
            (DAG_ID, run_id, host, '%"sending"%'),
        )
        return bool(rows and int(rows[0][0]))

    deadline = time.monotonic() + PAID_MOMENT_WAIT
    moment: tuple[str, str] | None = None
    while moment is None:
        running = running_on_workers()
        for host, task_id, map_index, try_number in running:
            if task_id != "generate" or sending_on(host):
                continue
            if paid_not_deferred(task_id, map_index, try_number):
                moment = (host, f"{host} right after generate[{map_index}]'s POST was accepted")
                break
            if waiting_to_send(task_id, map_index, try_number):
                moment = (host, f"{host} while generate[{map_index}] waits to send its POST")
                break
        if moment is None and time.monotonic() > deadline:
            per_host: dict[str, int] = {}
            for host, *_ in running:
                per_host[host] = per_host.get(host, 0) + 1
            busy = [
                h for h, n in per_host.items() if n >= 2 and len(airflow.task_runners(h)) >= 2 and not sending_on(h)
            ]
            if busy:
                moment = (busy[0], f"{busy[0]} running {per_host[busy[0]]} tasks (no paid-not-deferred moment seen)")
        if moment is None:
            if time.monotonic() > deadline + 300:
                pytest.fail("no worker ever ran two tasks at once\n" + airflow.log_tails())
            time.sleep(0.1)
    name, why = moment
    rows = airflow.postgres.query(
        "SELECT task_id, map_index, try_number, state FROM task_instance "
        "WHERE dag_id = %s AND run_id = %s AND hostname = %s AND state IN ('queued', 'running')",
        (DAG_ID, run_id, name),
    )
    monitor.worker_killed_at = time.monotonic()
    orphans = airflow.kill_group(name)
    monitor.orphan_tis = {(str(r[0]), int(r[1])): int(r[2]) for r in rows if r[3] == "running"}
    print(
        f"\nSIGKILLed {why}: its whole process group; {len(orphans)} task runner(s) left orphaned "
        f"(pids {[p.pid for p in orphans]}); its tasks then: "
        f"{sorted(f'{r[0]}[{r[1]}] try {r[2]} {r[3]}' for r in rows)}"
    )
    airflow.start_worker("worker-3")
    airflow.wait_worker_ready("worker-3")
    print(f"worker-3 ready {time.monotonic() - monitor.worker_killed_at:.1f} s after the kill")
    return name


def _kill_busy_triggerer(airflow: DistributedDeployment, monitor: Monitor) -> str:
    """SIGKILL the triggerer running the most triggers, once both run some."""
    jobs: dict[str, int] = {}

    def both_busy() -> dict[str, int] | None:
        jobs.clear()
        jobs.update({k: v for k, v in airflow.triggerer_jobs().items() if k in ("triggerer-1", "triggerer-2")})
        counts = dict(
            airflow.postgres.query(
                "SELECT triggerer_id, count(*) FROM trigger WHERE triggerer_id IS NOT NULL GROUP BY triggerer_id"
            )
        )
        per_name = {name: int(counts.get(job, 0)) for name, job in jobs.items()}
        return per_name if len(per_name) == 2 and min(per_name.values()) >= 2 else None

    per_name = wait_for("both triggerers to run triggers", both_busy, 300, interval=0.5)
    name = max(per_name, key=per_name.get)
    job = jobs[name]
    triggers = {int(r[0]) for r in airflow.postgres.query("SELECT id FROM trigger WHERE triggerer_id = %s", (job,))}
    monitor.dead_triggerer_job = job
    monitor.triggerer_killed_at = time.monotonic()
    airflow.kill_group(name)
    monitor.orphan_triggers = triggers
    print(f"\nSIGKILLed {name} (job {job}) running {len(triggers)} trigger(s); triggers per triggerer: {per_name}")
    return name


def test_many_deferrable_videos_survive_a_dead_triggerer_and_a_dead_worker(
    distributed: DistributedDeployment, tmp_path: Path
) -> None:
    airflow = distributed
    sim = airflow.simulator
    sim.reset()
    destination = tmp_path / "videos"
    destination.mkdir()

    monitor = Monitor(airflow)
    monitor.start()
    try:
        run_id = airflow.trigger(DAG_ID, {"videos": VIDEOS, "destination": f"file://{destination}/"})
        triggered_at = time.monotonic()

        monitor.run_id = run_id
        _kill_worker_mid_task(airflow, monitor, run_id)
        _kill_busy_triggerer(airflow, monitor)

        state = airflow.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT)
        wall = time.monotonic() - triggered_at
        # The last sampling round, then the orphans' fate.
        monitor.sample()
    finally:
        monitor.stopped.set()
        monitor.join(timeout=10)
    stats = sim.stats()
    orphans_alive = [p.pid for p in airflow.orphans if p.is_running() and p.status() != "zombie"]

    # ---- what landed, and what was paid for ------------------------------------------------------
    tis = _ti_states(airflow, run_id)
    by_state: dict[str, int] = {}
    for _, _, ti_state, _ in tis:
        by_state[ti_state] = by_state.get(ti_state, 0) + 1
    retried = sorted(f"{t}[{m}] try {n}" for t, m, _, n in tis if n > 1)
    job_ids = {
        str(row[0]).strip('"')
        for row in airflow.postgres.query(
            "SELECT value #>> '{}' FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'generate' "
            "AND key = 'job_id'",
            (DAG_ID, run_id),
        )
    }
    usage = httpx.get(
        f"{sim.url}/v1/account/usage",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {sim.api_key}"},
        timeout=30,
    ).json()
    paid = {event["job_id"]: event["cost"]["amount"] for event in usage.get("data", [])}
    paid_unused = sorted(set(paid) - job_ids)
    expected_sha = sim.expected_video_sha256()
    files = sorted(p for p in destination.rglob("*") if p.is_file())
    bad = [
        p.relative_to(destination).as_posix()
        for p in files
        if hashlib.sha256(p.read_bytes()).hexdigest() != expected_sha
    ]
    landed_jobs = {p.relative_to(destination).parts[0] for p in files if p.suffix == ".mp4"}

    # ---- figures ------------------------------------------------------------------------------------
    api_requests = stats["posts"] + stats["polls_total"]
    gets = list(stats["gets_per_job"].values())
    lines = [
        "",
        f"===== distributed run: {VIDEOS} videos, shared budget {'ON' if USE_SHARED_BUDGET else 'OFF'}, "
        f"simulator {SIMULATOR_KNOBS} =====",
        f"run {state} in {wall:.0f} s wall time (triggered -> run finished)",
        f"task states: {by_state}; retried tries: {len(retried)} {retried}",
        f"simulator: POSTs {stats['posts']}, jobs {stats['jobs_created']}, polls {stats['polls_total']}, "
        f"429s {stats['rate_limited']}, peak API requests in a 60 s window {stats['peak_requests_60s']} "
        f"(limit {SIMULATOR_KNOBS['rate_limit_rpm']}), downloads {stats['downloads']} "
        f"({stats['downloads_completed']} completed), all requests {stats['requests_total']}, "
        f"responses {stats['responses_by_status']}",
        f"requests per job: {api_requests / VIDEOS:.2f} API (POST + polls), "
        f"{stats['requests_total'] / VIDEOS:.2f} all; polls per job "
        f"min {min(gets, default=0)} median {statistics.median(gets) if gets else 0} max {max(gets, default=0)}",
        f"paid jobs {len(paid)} (${sum(paid.values()):.2f}); paid but used by no task: {len(paid_unused)}",
        f"files landed {len(files)} for {len(landed_jobs)} jobs; sha256 mismatches {len(bad)}",
    ]
    if monitor.triggerer_killed_at is not None:
        adopted = [t - monitor.triggerer_killed_at for t in monitor.trigger_adopted_at.values()]
        lines.append(
            f"triggerer kill: {len(monitor.orphan_triggers)} trigger(s) orphaned, {len(adopted)} adopted by the "
            f"live triggerer; detection lag min {min(adopted, default=float('nan')):.1f} s, "
            f"max {max(adopted, default=float('nan')):.1f} s"
        )
    if monitor.worker_killed_at is not None:
        seen = {ti: (t - monitor.worker_killed_at, what) for ti, (t, what) in monitor.ti_detected_at.items()}
        lines.append(
            f"worker kill: {len(monitor.orphan_tis)} running task(s) orphaned "
            f"{sorted(f'{t}[{m}]' for t, m in monitor.orphan_tis)}; the scheduler moved on after "
            f"{sorted(f'{t}[{m}] {v[0]:.1f} s -> {v[1]}' for (t, m), v in seen.items())} "
            f"(task heartbeat timeout {TASK_HEARTBEAT_TIMEOUT} s); orphaned runners still alive at the end: "
            f"{orphans_alive}"
        )
    lines.append("peak RSS per component (MB): " + ", ".join(f"{k} {v / 1e6:.0f}" for k, v in monitor.peak_rss.items()))
    lines.append(f"peak RSS, sum of the components' peaks: {sum(monitor.peak_rss.values()) / 1e9:.2f} GB")
    if monitor.errors:
        lines.append(f"monitor errors: {monitor.errors}")
    print("\n".join(lines))

    # ---- the checks, all evaluated -----------------------------------------------------------------
    failures = []
    if state != "success":
        failures.append(f"the run ended {state}")
    not_success = sorted(f"{t}[{m}] {s}" for t, m, s, _ in tis if s != "success")
    if not_success or len(tis) != 1 + 2 * VIDEOS:
        failures.append(f"{len(tis)} task instances, not all success: {not_success}")
    if stats["jobs_created"] != VIDEOS:
        failures.append(
            f"{stats['jobs_created']} paid jobs for {VIDEOS} videos (paid but used by no task: {paid_unused})"
        )
    if stats["posts"] != VIDEOS:
        failures.append(
            f"{stats['posts']} POSTs for {VIDEOS} videos ({stats['posts'] - stats['jobs_created']} of them not "
            "accepted: refused with 429 or an error, so unbilled, but each one spent a request of the budget)"
        )
    if len(files) != VIDEOS or len(landed_jobs) != VIDEOS or bad:
        failures.append(f"{len(files)} files for {len(landed_jobs)} jobs landed, {VIDEOS} expected; bad sha256: {bad}")
    if job_ids != landed_jobs:
        failures.append(f"landed jobs differ from the tasks' jobs: {sorted(job_ids ^ landed_jobs)}")
    if stats["peak_requests_60s"] > SIMULATOR_KNOBS["rate_limit_rpm"]:
        failures.append(
            f"{stats['peak_requests_60s']} API requests in one 60 s window, over the account's limit of "
            f"{SIMULATOR_KNOBS['rate_limit_rpm']} ({stats['rate_limited']} answered 429)"
            + ("" if USE_SHARED_BUDGET else "; the shared budget is off (USE_SHARED_BUDGET)")
        )
    if failures:
        pytest.fail("\n".join(["distributed run failed checks:", *failures]), pytrace=False)
