"""
Properties of the hook over generated answers of the hostile API (Hypothesis).

Whatever status, headers (absurd waits, unknown encodings, redirects) and body (random JSON,
JSON nested deep, megabytes, bytes, the key echoed) the server answers with, in whatever shape
(gzip, a lying length, cut short, dripped), every call of ``submit_video``, ``get_job`` and
``aget_job``:

- returns a correct result or raises a named :class:`EmpirioLabsError`, never a raw exception;
- finishes within its deadlines (one per request sent) plus slack, never hangs;
- never sends the billed POST again once it may have been accepted (only after a 429 or 503);
- waits, and pauses the process, only for finite times within the cap;
- never shows the API key in an error's text, repr or traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import string
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import Job
from tests.adversarial.hostile_api import (
    ABSURD_WAITS,
    HOSTILE_JOB_IDS,
    JOB_ROUTE,
    POST_ROUTE,
    Answer,
    HostileAPI,
    deep_json,
    envelope,
    huge_json,
)
from tests.adversarial.support import DEADLINE, KEY, SLACK, assert_named, assert_waits_bounded, outcome, request

MAX_ATTEMPTS = 3

#: Examples per property (``EMPIRIOLABS_PROPERTY_EXAMPLES`` to search harder, e.g. 500).
PROPERTY = settings(
    max_examples=int(os.environ.get("EMPIRIOLABS_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

STATUSES = st.sampled_from([200, 201, 202, 204, 301, 302, 307, 400, 401, 402, 404, 409, 418, 422, 429, 500, 502, 503])
HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,:+-/", max_size=24)
WAITS = st.one_of(
    st.sampled_from(ABSURD_WAITS),
    st.floats().map(repr),
    st.integers(-(10**15), 10**15).map(str),
    HEADER_TEXT,
)
HEADERS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["Retry-After", "X-RateLimit-Reset"]), WAITS),
        st.tuples(st.just("Content-Encoding"), st.sampled_from(["gzip", "br", "identity", "compress, gzip"])),
        st.tuples(st.just("Location"), st.sampled_from(["http://elsewhere.test/", "ftp://x/", f"/?k={KEY}"])),
    ),
    max_size=2,
).map(tuple)
JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
PLAUSIBLE = st.fixed_dictionaries(
    {"job_id": st.one_of(st.just("job_1"), st.sampled_from(HOSTILE_JOB_IDS), st.text(max_size=20), st.integers())},
    optional={
        "status": st.one_of(st.sampled_from(["queued", "processing", "completed", "failed", "succeeded"]), JSON),
        "progress": JSON,
        "result": JSON,
        "error": JSON,
    },
)
BODIES = st.one_of(
    PLAUSIBLE.map(lambda body: json.dumps(body).encode()),
    JSON.map(lambda body: json.dumps(body).encode()),
    st.sampled_from([10, 1_000, 100_000]).map(deep_json),
    st.just(huge_json(2 << 20)),
    st.binary(max_size=64),
    st.just(json.dumps(envelope(f"bad {KEY}", f"key {KEY}")).encode()),
)
#: How the answer travels: mostly as sent, sometimes broken or slow.
SHAPES = st.sampled_from(["plain"] * 6 + ["gzip", "length-lies", "closed-early", "drip"])


def shaped(status: int, body: bytes, headers: tuple[tuple[str, str], ...], shape: str, reason: str) -> Answer:
    options: dict[str, Any] = {
        "gzip": {"gzip": True},
        "length-lies": {"content_length": len(body) + 100},
        "closed-early": {"close_after": len(body) // 2},
        "drip": {"drip": 0.1},
    }.get(shape, {})
    return Answer(status, body, headers=headers, reason=reason, **options)


ANSWERS = st.lists(
    st.builds(shaped, STATUSES, BODIES, HEADERS, SHAPES, st.sampled_from(["OK", f"Bad {KEY}"])),
    min_size=1,
    max_size=MAX_ATTEMPTS,
)


def start(api: HostileAPI, waits: dict[str, list[float]], route: str, answers: list[Answer]) -> None:
    api.reset()
    for recorded in waits.values():
        recorded.clear()
    api.script(route, *answers)


def check(
    api: HostileAPI,
    waits: dict[str, list[float]],
    answers: list[Answer],
    result: Any,
    error: BaseException | None,
    elapsed: float,
) -> None:
    """What every call must promise, whatever the answers."""
    sent = len(api.received)
    assert 1 <= sent <= MAX_ATTEMPTS
    assert elapsed < sent * DEADLINE + SLACK, f"{elapsed:.1f} s for {sent} request(s)"
    assert_waits_bounded(waits)
    if error is not None:
        assert_named(error)
    else:
        last = answers[sent - 1] if sent <= len(answers) else None
        assert last is not None and 200 <= last.status < 300, "a result comes only from a 2xx"


@PROPERTY
@given(answers=ANSWERS)
def test_submit_video(api: HostileAPI, waits: dict[str, list[float]], answers: list[Answer]) -> None:
    start(api, waits, POST_ROUTE, answers)
    hook = EmpirioLabsHook(max_attempts=MAX_ATTEMPTS, total_timeout=DEADLINE)
    started = time.monotonic()
    try:
        result, error = outcome(hook.submit_video, request())
    finally:
        hook.close()
    check(api, waits, answers, result, error, time.monotonic() - started)
    for served in answers[: api.posts - 1]:
        assert served.status in (429, 503), f"POST sent again after a {served.status}, which may have been accepted"
    if error is None:
        assert isinstance(result, str) and result


@PROPERTY
@given(answers=ANSWERS)
def test_get_job(api: HostileAPI, waits: dict[str, list[float]], answers: list[Answer]) -> None:
    start(api, waits, JOB_ROUTE, answers)
    hook = EmpirioLabsHook(max_attempts=MAX_ATTEMPTS, total_timeout=DEADLINE)
    started = time.monotonic()
    try:
        result, error = outcome(hook.get_job, "job_1")
    finally:
        hook.close()
    check(api, waits, answers, result, error, time.monotonic() - started)
    assert error is not None or isinstance(result, Job)


@PROPERTY
@given(answers=ANSWERS)
def test_aget_job(api: HostileAPI, waits: dict[str, list[float]], answers: list[Answer]) -> None:
    start(api, waits, JOB_ROUTE, answers)
    hook = EmpirioLabsHook(max_attempts=MAX_ATTEMPTS, total_timeout=DEADLINE)

    async def run() -> tuple[Any, BaseException | None]:
        try:
            return await hook.aget_job("job_1"), None
        except Exception as error:
            return None, error
        finally:
            await hook.aclose()

    started = time.monotonic()
    result, error = asyncio.run(run())
    check(api, waits, answers, result, error, time.monotonic() - started)
    assert error is not None or isinstance(result, Job)
