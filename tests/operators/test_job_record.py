"""
The job record's decision (``decide``): the table of the module, held case by case, and the image digests.

The decision is a pure function of the stored value, the request's fingerprint, the try's
generation and ``regenerate``; these tests call it directly. The end-to-end properties (no POST
for a corrupted record, reuse across clears) live in tests/reliability and tests/adversarial.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_empiriolabs.operators._job_record import Next, decide, record_location
from airflow_provider_empiriolabs.operators._reference_images import content_digests

FP, OTHER_FP = "a" * 32, "b" * 32
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _record(state: str, **fields: Any) -> dict[str, Any]:
    job_id = "job_1" if state in ("accepted", "done") else None
    summary = {"job_id": "job_1", "status": "completed", "output_urls": []} if state == "done" else None
    record = {
        "state": state,
        "fingerprint": FP,
        "job_id": job_id,
        "summary": summary,
        "updated_at": NOW.isoformat(),
        "generation": 1,
    }
    return {**record, **fields}


def _next(stored: Any, *, generation: int | None = 1, regenerate: bool = False, fp: str = FP, now: Any = NOW) -> Next:
    decision = decide(stored, request_fingerprint=fp, current_generation=generation, regenerate=regenerate, now=now)
    return decision.next


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, Next.SEND),
        (_record("not_sent"), Next.SEND),
        (_record("sending"), Next.UNKNOWN),
        (_record("accepted"), Next.REATTACH),
        ("job_1", Next.REATTACH),  # a bare job id: an older provider version's record
        (_record("done"), Next.REUSE),
    ],
)
def test_the_decision_table(stored: Any, expected: Next) -> None:
    assert _next(stored) is expected


def test_a_done_video_past_its_urls_lifetime_is_made_again() -> None:
    assert _next(_record("done"), now=NOW + timedelta(days=7)) is Next.SEND


def test_after_a_clear_the_fingerprint_and_regenerate_decide_before_the_state() -> None:
    assert _next(_record("done"), generation=2) is Next.REUSE  # same request, cleared: reused
    assert _next(_record("done"), generation=2, fp=OTHER_FP) is Next.SEND  # another request or account
    assert _next(_record("done"), generation=2, regenerate=True) is Next.SEND
    assert _next(_record("sending"), generation=2, regenerate=True) is Next.SEND  # the documented way out
    # Within one generation neither may: a retry never pays twice.
    assert _next(_record("accepted"), fp=OTHER_FP, regenerate=True) is Next.REATTACH


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a job id",
        _record("accepted", job_id=""),
        _record("done", summary=None),
        _record("done", summary={"job_id": "job_2", "output_urls": []}),
        _record("done", updated_at="soon"),
        _record("not_sent", job_id="job_1"),
        _record("not_sent", extra=1),
        {k: v for k, v in _record("not_sent").items() if k != "updated_at"},
    ],
)
def test_an_unreadable_record_is_an_unknown_outcome_even_after_a_clear_with_regenerate(stored: Any) -> None:
    decision = decide(stored, request_fingerprint=OTHER_FP, current_generation=9, regenerate=True, now=NOW)
    assert decision.next is Next.UNKNOWN and "cannot be read" in decision.reason


def test_the_record_is_located_as_the_rest_api_addresses_it() -> None:
    class TI:
        dag_id, run_id, task_id, map_index = "d", "r", "t", 2

    assert record_location(TI(), "k") == "/api/v2/dags/d/dagRuns/r/taskInstances/t/state-store/k?map_index=2"


def test_content_digests_follow_the_bytes_not_the_path(tmp_path: Path) -> None:
    image = tmp_path / "still.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\none")
    url = "https://assets.example.com/still.png"
    first = content_digests([str(image), url], None)
    assert first[1] is None and first == content_digests([str(image), url], None)
    image.write_bytes(b"\x89PNG\r\n\x1a\ntwo")
    assert content_digests([str(image), url], None)[0] != first[0]
    gone = content_digests([str(tmp_path / "gone.png")], None)[0]
    assert gone is not None and gone.startswith("unreadable:")
    assert gone != content_digests([str(tmp_path / "gone.png")], None)[0]  # never matches an earlier run
