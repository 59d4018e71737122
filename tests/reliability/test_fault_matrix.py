"""
The fault matrix: every fault the API, the network or the storage can throw at a real pipeline.

Each case runs a real DAG on ``dag.test()`` (real task runner, real task state store, real retries,
triggers run inline) against the simulator over real HTTP on 127.0.0.1, with the fault scripted in
the simulator (or in the destination filesystem), and asserts:

- the outcome of every task (state and try number: whether Airflow retried it);
- the POSTs the simulator received and the jobs it created (billed): one per generate task,
  retries included, except where the API said the first job was not billed;
- the destination: exactly one complete object, SHA-256 identical to what the API served, and no
  partial or temporary object left behind, or nothing at all when the case ends in failure;
- where a case ends in failure, that the task log holds the API's own error message (or, where no
  answer came back, what happened and what to check).

``MATRIX.md`` beside this file is the table of these cases; ``test_the_matrix_document_is_current``
keeps it in step with the table below (regenerate it with ``EMPIRIOLABS_WRITE_MATRIX=1``, which
writes the values observed in the runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.new_surfaces import render_new_surfaces
from tests.reliability.support import (
    FLAKY_SCHEME,
    half_way_failing_storage,
    landed_files,
    sha256_of,
    task_outcomes,
)
from tests.support import run_dag, xcom

pytestmark = pytest.mark.usefixtures("airflow_db")

MATRIX_PATH = Path(__file__).with_name("MATRIX.md")
MiB = 1024 * 1024

#: Lets the first poll through (the sensor's poke before deferring; the operator defers straight from
#: its POST), so that the next fault hits the poll loop that runs in the triggerer.
FIRST_POLL_PASSES: dict[str, Any] = {"kind": "delay", "match": "poll", "seconds": 0, "count": 1}

OK = ("success", 1)
NOT_RUN = ("upstream_failed", 0)


@dataclass(frozen=True)
class Case:
    """
    One row of the matrix.

    :param id: short name (the pytest id).
    :param fault: what goes wrong, for the table.
    :param dag_id: the DAG of ``tests/dags/reliability_fault_matrix.py`` it runs.
    :param tasks: expected ``{task_id: (state, try_number)}``.
    :param posts: POSTs the simulator must receive.
    :param jobs: jobs the simulator must create (each one billed when accepted).
    :param objects: complete objects expected at the destination (0 or 1).
    :param faults: scripted faults (the simulator's ``fail_next_requests``).
    :param knobs: other simulator knobs for the case.
    :param conf: ``dag_run.conf`` beyond the destination.
    :param log: text the task log must hold (the API's own message where there is one).
    :param storage: ``file``, or ``flaky-once`` / ``flaky-always`` for a destination whose writes
        fail half-way (once, or every time).
    :param note: what the row means, for the table.
    """

    id: str
    fault: str
    dag_id: str
    tasks: dict[str, tuple[str, int]]
    posts: int = 1
    jobs: int = 1
    objects: int = 1
    faults: tuple[dict[str, Any], ...] = ()
    knobs: dict[str, Any] = field(default_factory=dict)
    conf: dict[str, Any] = field(default_factory=dict)
    log: tuple[str, ...] = ()
    storage: str = "file"
    note: str = ""


def _ok(**overrides: tuple[str, int]) -> dict[str, tuple[str, int]]:
    return {"generate": OK, "store": OK, **overrides}


def _sensor_ok(**overrides: tuple[str, int]) -> dict[str, tuple[str, int]]:
    return {"generate": OK, "wait": OK, "store": OK, **overrides}


DEFER = "reliability_deferrable"
WORKER = "reliability_worker"
SENSOR = "reliability_submit_sensor_store"
FAILED_NO_RETRY = ("failed", 1)

CASES: tuple[Case, ...] = (
    # -- rate limits ------------------------------------------------------------------------------
    Case(
        "429-retry-after-poll",
        "429 with Retry-After: 1 on a poll (triggerer)",
        DEFER,
        _ok(),
        faults=(FIRST_POLL_PASSES, {"match": "poll", "status": 429, "retry_after": 1}),
        note="waits as asked, then polls on",
    ),
    Case(
        "429-no-retry-after-poll",
        "429 without Retry-After (nor X-RateLimit-*) on a poll (triggerer)",
        DEFER,
        _ok(),
        faults=(FIRST_POLL_PASSES, {"match": "poll", "status": 429}),
        knobs={"retry_after_header": False},
        note="backs off by itself",
    ),
    Case(
        "429-storm-poll",
        "429 storm: 8 polls in a row without Retry-After, longer than one poll interval (triggerer)",
        DEFER,
        _ok(),
        faults=(FIRST_POLL_PASSES, {"match": "poll", "status": 429, "count": 8}),
        knobs={"retry_after_header": False},
        note="keeps waiting (backoff) until the deadline; the job is never resubmitted",
    ),
    Case(
        "429-retry-after-worker-poll",
        "429 with Retry-After: 1 on the worker's poll",
        WORKER,
        _ok(),
        faults=({"match": "poll", "status": 429, "retry_after": 1},),
        note="the hook waits as asked and polls again",
    ),
    Case(
        "429-on-post",
        "429 with Retry-After on the POST (not accepted)",
        DEFER,
        _ok(),
        posts=2,
        faults=({"match": "post", "status": 429, "retry_after": 1},),
        note="the POST is sent again: the API provably refused it, so one job, billed once",
    ),
    # -- server errors and the network ------------------------------------------------------------
    Case(
        "5xx-burst-poll",
        "500, 500, 502, 502, 503, 503 on polls (triggerer)",
        DEFER,
        _ok(),
        faults=(
            FIRST_POLL_PASSES,
            {"match": "poll", "status": 500, "count": 2},
            {"match": "poll", "status": 502, "count": 2},
            {"match": "poll", "status": 503, "count": 2},
        ),
    ),
    Case(
        "503-on-post",
        "503 on the POST (not accepted)",
        DEFER,
        _ok(),
        posts=2,
        faults=({"match": "post", "status": 503},),
        note="a 503 provably did not create a job: sent again once, one job",
    ),
    Case(
        "500-on-post-accepted",
        "500 on the POST, after the API created the job",
        DEFER,
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        objects=0,
        faults=({"match": "post", "status": 500, "accepted": True},),
        log=("The server had an error while processing your request.", "not sent again", "usage"),
        note="outcome unknown to the client: fails at once (no retry, no second POST), says to check usage",
    ),
    Case(
        "reset-poll",
        "connection reset on 2 polls (triggerer)",
        DEFER,
        _ok(),
        faults=(FIRST_POLL_PASSES, {"kind": "reset", "match": "poll", "count": 2}),
    ),
    Case(
        "reset-post",
        "connection reset on the POST (request sent, no answer)",
        DEFER,
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        jobs=0,
        objects=0,
        faults=({"kind": "reset", "match": "post"},),
        log=("no usable answer came back", "not sent again", "usage"),
        note="whether a job was made is unknown: fails at once, never re-POSTs",
    ),
    Case(
        "reset-download",
        "connection reset during the download",
        DEFER,
        _ok(),
        faults=({"kind": "reset", "match": "download"},),
        note="the copy retries the download",
    ),
    Case(
        "post-read-timeout",
        "read timeout on the POST (accepted; hook timeout 0.5 s, answer after 1.5 s)",
        "reliability_post_timeout",
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        objects=0,
        faults=({"kind": "delay", "match": "post", "seconds": 1.5, "accepted": True},),
        log=("ReadTimeout", "not sent again", "usage"),
        note="the job exists and is billed but its id never arrived: fails clearly, one POST",
    ),
    # -- what the API answers -------------------------------------------------------------------
    Case(
        "malformed-json-poll",
        "malformed JSON answer to a poll (triggerer)",
        DEFER,
        _ok(),
        faults=(FIRST_POLL_PASSES, {"kind": "malformed_json", "match": "poll"}),
    ),
    Case(
        "malformed-json-post",
        "malformed JSON answer to the POST (accepted)",
        DEFER,
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        objects=0,
        faults=({"kind": "malformed_json", "match": "post"},),
        log=("unreadable answer", "not sent again", "usage"),
        note="accepted but unreadable: fails at once, one POST",
    ),
    Case(
        "unknown-status",
        'unknown status value "rendering_frames" while running',
        DEFER,
        _ok(),
        knobs={"unknown_status": "rendering_frames"},
        note="read as still running",
    ),
    Case(
        "content-policy",
        "job failed: content_policy_violation",
        DEFER,
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        objects=0,
        conf={"prompt": "SIMULATE_CONTENT_POLICY a horse"},
        log=("content_policy_violation", "The prompt was rejected by the content policy."),
        note="final: no retry (2 were allowed), no new job",
    ),
    Case(
        "model-unavailable",
        "job failed: model_unavailable, not billed",
        DEFER,
        _ok(generate=("success", 2)),
        posts=2,
        jobs=2,
        conf={"prompt": "SIMULATE_MODEL_UNAVAILABLE a horse", "heal_on_retry": True},
        log=("model_unavailable", "The model is temporarily unavailable, retry shortly."),
        note="TWO POSTs by design: the API refunded the failed job, the retry submits a new one",
    ),
    Case(
        "job-gone-404",
        "job gone (404, past retention) while the task was down between tries",
        "reliability_fragile_worker",
        {"generate": ("failed", 2), "store": NOT_RUN},
        objects=0,
        faults=({"match": "poll", "status": 500},),
        conf={"expire_job_on_retry": True},
        log=("unknown or past retention", "no new job is submitted"),
        note="the retry finds the job gone: fails for good, no new POST",
    ),
    Case(
        "402-insufficient-credits",
        "402 insufficient_credits on the POST",
        DEFER,
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        jobs=0,
        objects=0,
        knobs={"credit_balance_usd": 0.10},
        log=("insufficient_credits", "Insufficient credits: this request costs $0.42"),
        note="fails at once (2 retries were allowed), says so",
    ),
    # -- the task itself ----------------------------------------------------------------------------
    Case(
        "retry-after-accepted-post-deferrable",
        "500 on the first poll after the accepted POST, hook without retries, deferrable",
        "reliability_fragile_deferrable",
        _ok(),
        faults=({"match": "poll", "status": 500},),
        note="the task defers straight from the accepted POST: that poll is the trigger's, which waits "
        "the 500 out (a failure of each step after the POST: tests/reliability/test_crash_points.py)",
    ),
    Case(
        "retry-after-accepted-post-worker",
        "same, waiting in the worker",
        "reliability_fragile_worker",
        _ok(generate=("success", 2)),
        faults=({"match": "poll", "status": 500},),
        note="the retry reattaches to the stored job",
    ),
    Case(
        "deadline-deferrable",
        "deadline passes (timeout 0.5 s, render ~2 s), triggerer",
        "reliability_deadline_deferrable",
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        objects=0,
        log=("timed out waiting for EmpirioLabs job job_",),
        note="the error names the job id",
    ),
    Case(
        "deadline-worker",
        "deadline passes, waiting in the worker",
        "reliability_deadline_worker",
        {"generate": FAILED_NO_RETRY, "store": NOT_RUN},
        objects=0,
        log=("waiting for EmpirioLabs job job_",),
        note="the error names the job id",
    ),
    # -- the copy -----------------------------------------------------------------------------------
    Case(
        "truncated-download",
        "download cut at half its Content-Length (3 MiB output)",
        DEFER,
        _ok(),
        faults=({"kind": "truncate", "match": "download"},),
        knobs={"output_size_bytes": 3 * MiB},
        note="resumed with Range",
    ),
    Case(
        "expired-url",
        "output URL expired (403 url_expired) before the copy",
        DEFER,
        _ok(),
        conf={"expire_urls": True},
        note="a fresh URL is fetched from the job",
    ),
    Case(
        "expired-url-and-job",
        "output URL expired and the job past retention before the copy",
        DEFER,
        _ok(store=FAILED_NO_RETRY),
        objects=0,
        conf={"expire_job_before_transfer": True},
        log=("403", "past the API's retention"),
        note="nothing to copy from: fails clearly and without retries, nothing written",
    ),
    Case(
        "storage-fails-half-way-once",
        "destination write fails half-way (ENOSPC after 1.5 of 3 MiB), once",
        DEFER,
        _ok(store=("success", 2)),
        knobs={"output_size_bytes": 3 * MiB},
        storage="flaky-once",
        note="try 1 removes its temporary object; the retry lands it whole",
    ),
    Case(
        "storage-fails-half-way-always",
        "destination write fails half-way on every try",
        DEFER,
        _ok(store=("failed", 2)),
        objects=0,
        knobs={"output_size_bytes": 3 * MiB},
        storage="flaky-always",
        log=("No space left on device",),
        note="fails; no partial or temporary object is left",
    ),
    # -- submit -> sensor -> copy ---------------------------------------------------------------
    Case(
        "sensor-mixed-faults",
        "sensor path: 429, 500, reset, malformed JSON, 503 on the sensor's polls",
        SENSOR,
        _sensor_ok(),
        faults=(
            FIRST_POLL_PASSES,
            {"match": "poll", "status": 429, "retry_after": 1},
            {"match": "poll", "status": 500},
            {"kind": "reset", "match": "poll"},
            {"kind": "malformed_json", "match": "poll"},
            {"match": "poll", "status": 503},
        ),
    ),
    Case(
        "sensor-unknown-status",
        "sensor path: unknown status value",
        SENSOR,
        _sensor_ok(),
        knobs={"unknown_status": "rendering_frames"},
    ),
    Case(
        "sensor-content-policy",
        "sensor path: job failed for content policy",
        SENSOR,
        {"generate": OK, "wait": FAILED_NO_RETRY, "store": NOT_RUN},
        objects=0,
        conf={"prompt": "SIMULATE_CONTENT_POLICY a horse"},
        log=("The prompt was rejected by the content policy.",),
        note="the sensor fails for good; nothing is resubmitted",
    ),
    Case(
        "sensor-reset-post",
        "sensor path: connection reset on the POST",
        SENSOR,
        {"generate": FAILED_NO_RETRY, "wait": NOT_RUN, "store": NOT_RUN},
        jobs=0,
        objects=0,
        faults=({"kind": "reset", "match": "post"},),
        log=("no usable answer came back",),
    ),
)

#: What the runs showed, by case id (written to MATRIX.md with EMPIRIOLABS_WRITE_MATRIX=1).
OBSERVED: dict[str, dict[str, Any]] = {}


def _outcome_text(tasks: dict[str, tuple[str, int]]) -> str:
    parts = []
    for task_id, (state, tries) in tasks.items():
        if state == "upstream_failed":
            parts.append(f"{task_id} not run")
        else:
            parts.append(f"{task_id} {state}" + (f" on try {tries}" if tries > 1 else ""))
    return ", ".join(parts)


def _objects_text(objects: int) -> str:
    return "1 complete, sha256 identical, no temp" if objects else "none (no partial, no temp)"


def _row(case_id: str, fault: str, tasks: dict[str, tuple[str, int]], posts: int, jobs: int, objects: int) -> str:
    return f"| {case_id} | {fault} | {_outcome_text(tasks)} | {posts} | {jobs} | {_objects_text(objects)} |"


def render_matrix(rows: list[str]) -> str:
    """The Markdown document: a short legend, then one row per case."""
    head = [
        "# Fault matrix",
        "",
        "Generated by `tests/reliability/test_fault_matrix.py` from real runs (`dag.test()` against the",
        "simulator over real HTTP):",
        "`EMPIRIOLABS_WRITE_MATRIX=1 .venv/bin/pytest tests/reliability/test_fault_matrix.py`.",
        "Every row is a test asserting exactly these values. *POSTs*: requests to",
        "`POST /v1/videos/generations` the simulator received; *jobs*: jobs it created (each billed once",
        "accepted; `model_unavailable` jobs are refunded by the API). *Objects*: what is at the destination.",
        "",
        "| case | fault | outcome | POSTs | jobs | objects |",
        "|---|---|---|---|---|---|",
    ]
    notes = ["", "## Notes", ""] + [f"- **{c.id}**: {c.note}" for c in CASES if c.note]
    defects = ["", "## Defects the matrix found", ""] + [f"- {d}" for d in DEFECTS]
    searched = ["", "## Searched, not listed", "", SEARCHED_INTRO, ""] + [f"- {d}" for d in SEARCHED]
    return "\n".join(head + rows + notes + defects + searched + render_new_surfaces()) + "\n"


SEARCHED_INTRO = (
    "The rows above are faults someone thought of. These suites search instead: they enumerate or "
    "generate the faults, and each found defects the matrix had missed (all fixed, each with a test "
    "that failed before)."
)

#: The suites that search for faults, and the defect classes they found (kept by hand).
SEARCHED = (
    "**Crash points** (`test_crash_points.py`): every boundary a generate task crosses (each task "
    "state store read and write, each XCom push, each HTTP exchange before sending and with its "
    "answer lost, the deferral, the trigger, the return value) fails in turn, as an exception and as "
    "a kill, on the worker, deferrable and upload paths; then the task is retried. Found: a failure "
    "of the `job_id` XCom push (it ran before the state store write) made the retry POST again, on "
    "all three paths; so did a lost return value (the job id was dropped on success). Now: at most "
    "one POST at every step, the video delivered except where a kill leaves the POST's outcome unknown.",
    "**Hostile inputs** (`tests/models/`, Hypothesis over request fields and API answers): `extra_params`, "
    "`template` and `extend_from` changed the bill unseen by `max_cost_usd`; a model id or image ref "
    "with a trailing newline passed a `$`-anchored rule; 5.5 s was priced as 5.5; hostile job ids "
    "(`..`, newlines, U+202E, NUL, 4,000 characters) reached URLs and logs; `HTTPS://` outputs were "
    "dropped; invisible prompts were accepted; deep JSON raised `RecursionError`.",
    "**Secrets at DEBUG** (`tests/redaction/`, a real triggerer in `tests/system/test_triggerer_secrets.py`): "
    "`httpcore` logged signed `Location`s and cookies; a key with a trailing newline escaped the masker; "
    "the triggerer logged events with signed URLs; the task supervisor logged XCom, task-state-store "
    "and rendered-field values holding them (now sealed).",
    "**Untrusted outputs** (`tests/transfers/test_output_trust*.py`, a hostile CDN on 127.0.0.1): "
    "private, loopback and metadata hosts fetched; cross-host redirects followed; userinfo sent as "
    "Basic auth; HTML stored as `.mp4`; gzip despite `identity` failed every copy; a drip-feeding "
    "server held the copy forever; concurrent mapped transfers raced to create the asset alias.",
)


#: What the matrix found, and what became of it (kept by hand; rendered into MATRIX.md).
DEFECTS = (
    "**job-gone-404**: a retry whose stored job was past retention failed with the provider's own "
    "text only; the API's 404 message was dropped. Fixed in the operator (dda8f3e): the error now "
    "carries it.",
    "**5xx-burst-poll**: the trigger let the operator's `hook_params` `max_attempts` through, so each "
    "poll in the triggerer retried inside the hook with a 1-60 s backoff deaf to the deadline (a "
    "6-error burst took ~10 s instead of ~1 s; a persistent 503 held the trigger ~30 s past "
    "`timeout`). Fixed in the trigger (4a22afa): one attempt per poll, the trigger loop is the retry; "
    "`test_trigger_retries.py`.",
    "**expired-url-and-job**: the copy fails clearly, but neither the output URL's own error "
    "(403 `url_expired`, *This presigned URL has expired*) nor the job's 404 message reaches the "
    "log. Fixed in the transfer: both messages are now in the warning and the error; "
    "`test_a_failed_copy_carries_the_api_own_messages`.",
)


def expected_matrix() -> str:
    return render_matrix([_row(c.id, c.fault, c.tasks, c.posts, c.jobs, c.objects) for c in CASES])


@pytest.fixture(scope="module", autouse=True)
def _write_matrix() -> Any:
    yield
    if os.environ.get("EMPIRIOLABS_WRITE_MATRIX") and len(OBSERVED) == len(CASES):
        rows = [_row(c.id, c.fault, **OBSERVED[c.id]) for c in CASES]
        MATRIX_PATH.write_text(render_matrix(rows))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, empiriolabs_connection: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    sim = empiriolabs_connection
    knobs = dict(case.knobs)
    if case.faults:
        knobs["fail_next_requests"] = list(case.faults)
    if knobs:
        sim.configure(**knobs)
    expected_sha = sim.expected_video_sha256()
    balance_before = sim.stats()["balance_usd"]
    root = tmp_path / "videos"
    scheme = "file" if case.storage == "file" else FLAKY_SCHEME
    conf = {"destination": f"{scheme}://{root}/", **case.conf}

    if case.storage == "file":
        run = run_dag(case.dag_id, **conf)
    else:
        failures = 1 if case.storage == "flaky-once" else 99
        with half_way_failing_storage(failures=failures, fail_after_bytes=sim.config()["output_size_bytes"] // 2) as fs:
            run = run_dag(case.dag_id, **conf)
        assert fs.failures_raised >= 1  # the fault did hit the copy

    logs = "".join(capfd.readouterr())
    stats = sim.stats()
    outcomes = task_outcomes(run)
    files = landed_files(root)
    complete = [f for f in files if sha256_of(f) == expected_sha]
    OBSERVED[case.id] = {
        "tasks": {task_id: outcomes[task_id] for task_id in case.tasks},
        "posts": stats["posts"],
        "jobs": stats["jobs_created"],
        "objects": len(complete),
    }

    # Outcome of every task (Airflow's retries included).
    assert outcomes == case.tasks, logs[-4000:]
    assert run.state == ("success" if all(s == "success" for s, _ in case.tasks.values()) else "failed")
    # Money: POSTs received, jobs created.
    assert stats["posts"] == case.posts
    assert stats["jobs_created"] == case.jobs
    assert stats["pending_faults"] == 0  # every scripted fault did happen
    # The destination: one whole, identical object named after the job, or nothing at all.
    if case.objects:
        job_id = xcom(run, "generate", key="job_id") if case.dag_id != SENSOR else xcom(run, "generate")
        assert [f.relative_to(root).as_posix() for f in files] == [f"{job_id}/0.mp4"]
        assert sha256_of(files[0]) == expected_sha
    else:
        assert files == []
    # Failures say why, in the API's own words where it gave any.
    for text in case.log:
        assert text in logs, f"{text!r} not in the task log"

    if case.id == "model-unavailable":  # the failed job was refunded: one job's worth billed
        assert stats["balance_usd"] == pytest.approx(balance_before - 0.42)
    if case.id == "truncated-download":  # resumed, not restarted: the second request asked for a range
        assert stats["responses_by_status"].get("206") == 1


def test_the_matrix_document_is_current() -> None:
    assert MATRIX_PATH.read_text() == expected_matrix()


def test_a_failed_copy_carries_the_api_own_messages(
    empiriolabs_connection: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_dag(DEFER, destination=f"file://{tmp_path}/", expire_job_before_transfer=True)
    logs = "".join(capfd.readouterr())

    assert task_outcomes(run)["store"] == FAILED_NO_RETRY  # nothing to copy from: no retry can help
    assert "This presigned URL has expired" in logs
    assert "unknown or past retention" in logs  # the API's 404 message for the job
