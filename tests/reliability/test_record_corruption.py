"""
Partial and corrupted job records fail closed: never a POST unless the record is absent or provably unsent.

A job record names a billed job. Records come from this provider, from other versions, from the
REST API's state store edits and from manual repair, so a try may find anything under the key.
The property: whatever the store holds, if it is not absent and not a complete ``not_sent``
record, the try sends nothing (real HTTP against the simulator, its POSTs counted); and when it
cannot read the record it fails naming the record and how to repair it.

The records are generated: complete records of every state mutated one field at a time (removed,
given a value of another type, an empty or unparseable one), extra fields, unknown states, random
JSON, random text (truncated JSON) and random bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.support import DictStateStore, RecordingTI, submit_job, wait_until_terminal

KEY = EmpirioLabsGenerateVideoOperator.external_id_key
PROMPT = "A horse galloping along a beach at sunrise"
FINGERPRINT = "0123456789abcdef0123456789abcdef"


def _operator(**kwargs: Any) -> EmpirioLabsGenerateVideoOperator:
    return EmpirioLabsGenerateVideoOperator(task_id="generate", prompt=PROMPT, duration=3, poll_interval=0.02, **kwargs)


def _complete(state: str, job_id: str) -> dict[str, Any]:
    """A record as the provider writes it, in each state."""
    record: dict[str, Any] = {
        "state": state,
        "fingerprint": FINGERPRINT,
        "job_id": None,
        "summary": None,
        "updated_at": datetime.now(UTC).isoformat(),
        "generation": 1,
    }
    if state in ("accepted", "done"):
        record["job_id"] = job_id
    if state == "done":
        record["summary"] = {"job_id": job_id, "status": "completed", "output_urls": [], "video_seconds": 3}
    return record


#: Values of the wrong kind for a field, or empty, or unparseable: none of them is a complete record's.
_BROKEN = st.one_of(
    st.none(),
    st.just(""),
    st.just(" "),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40).filter(lambda n: n < 0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.just({}),
    st.just("not a date / not a job"),
    st.just("job/../../x"),
    st.just("2026-13-45T99:99:99"),
)

#: For each field of each state, broken values that make the record incomplete (some are broken
#: only for some states: a ``None`` summary is a complete ``accepted`` record's).
_INCOMPLETE: dict[str, Any] = {
    "state": st.one_of(_BROKEN, st.sampled_from(["Done", "ACCEPTED", "finished", "sent", "pending", "sending "])),
    "job_id": _BROKEN,
    "summary": st.one_of(
        _BROKEN,
        st.just({"status": "completed"}),
        st.just({"job_id": "job_other", "output_urls": []}),
        st.just({"job_id": None}),
    ),
    "updated_at": _BROKEN,
    "generation": st.one_of(st.just("1"), st.just(1.5), st.just(True), st.just(-1), st.just([1])),
    "fingerprint": st.one_of(st.just(""), st.just(3), st.just([]), st.just("xyz"), st.just(FINGERPRINT.upper())),
}


def _is_complete(record: Any) -> bool:
    """The test's own reading of a complete record (independent of the provider's)."""
    fields = set(_complete("done", "x"))
    # fingerprint and generation may be absent (records of older provider versions); nothing else.
    if not isinstance(record, dict) or not fields - {"fingerprint", "generation"} <= set(record) <= fields:
        return False
    state, job_id, summary = record["state"], record["job_id"], record["summary"]
    try:
        datetime.fromisoformat(record["updated_at"])
    except (TypeError, ValueError):
        return False
    if state not in ("sending", "not_sent", "accepted", "done"):
        return False
    generation = record.get("generation")
    if generation is not None and (type(generation) is not int or generation < 0):
        return False
    if record.get("fingerprint") not in (None, FINGERPRINT):
        return False
    named = isinstance(job_id, str) and job_id.startswith("job_")
    if state in ("accepted", "done") and not named:
        return False
    if state in ("sending", "not_sent") and job_id is not None:
        return False
    if state == "done":
        return (
            isinstance(summary, dict)
            and summary.get("job_id") == job_id
            and isinstance(summary.get("output_urls"), list)
        )
    return summary is None


@st.composite
def _mutated(draw: st.DrawFn, job_id: str) -> Any:
    record = _complete(draw(st.sampled_from(["sending", "not_sent", "accepted", "done"])), job_id)
    how = draw(st.sampled_from(["remove", "break", "extra"]))
    name = draw(st.sampled_from(sorted(_INCOMPLETE)))
    if how == "remove":
        record.pop(name)
    elif how == "break":
        record[name] = draw(_INCOMPLETE[name])
    else:
        record[draw(st.sampled_from(["jobId", "note", "job_ids", "State", ""]))] = draw(st.text(max_size=5))
    return record


def _stored_values(job_id: str) -> Any:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=10,
    )
    truncated = st.builds(
        lambda record, cut: json.dumps(record)[:cut], _mutated(job_id), st.integers(min_value=0, max_value=200)
    )
    return st.one_of(_mutated(job_id), json_values.filter(lambda v: v is not None), truncated, st.binary(max_size=64))


def _run(stored: Any, max_tries: int | None) -> BaseException | None:
    ti = RecordingTI()
    ti.max_tries = max_tries
    try:
        _operator().execute({"ti": ti, "task_state_store": DictStateStore(**{KEY: stored})})
    except BaseException as error:  # any outcome but a POST is allowed
        return error
    return None


def test_a_corrupted_record_never_buys_a_second_job(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    job_id = submit_job(PROMPT)  # a job of this account: a record naming it reattaches, unpaid
    wait_until_terminal(job_id)
    sim.configure(render_base_seconds=0.2, render_seconds_per_video_second=0.0)

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(stored=_stored_values(job_id), max_tries=st.none() | st.integers(min_value=0, max_value=5))
    def prop(stored: Any, max_tries: int | None) -> None:
        if _is_complete(stored) or stored is None:
            return  # complete records are the decision table's business (tests/operators)
        before = sim.stats()["posts"]
        error = _run(stored, max_tries)
        assert sim.stats()["posts"] == before, f"a POST for the stored record {stored!r} ({error!r})"
        if "cannot be read" in str(error):
            assert KEY in str(error) and "state-store" in str(error), str(error)

    prop()


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param({"state": "accepted", "updated_at": datetime.now(UTC).isoformat()}, id="accepted-without-job_id"),
        pytest.param(
            {"state": "accepted", "job_id": "", "updated_at": datetime.now(UTC).isoformat()}, id="accepted-empty-job_id"
        ),
        pytest.param(
            {"state": "accepted", "job_id": 42, "updated_at": datetime.now(UTC).isoformat()}, id="accepted-int-job_id"
        ),
        pytest.param({"state": "done", "job_id": "job_1", "summary": None}, id="done-null-summary"),
        pytest.param({"state": "done", "job_id": "job_1", "summary": {}}, id="done-empty-summary"),
        pytest.param(
            {
                "state": "done",
                "job_id": "job_1",
                "summary": {"job_id": "job_1", "output_urls": []},
                "updated_at": "yesterday",
            },
            id="done-unparseable-updated_at",
        ),
        pytest.param({"state": "paid", "job_id": "job_1"}, id="unknown-state"),
        pytest.param('{"state": "accepted", "job_id": "job_', id="truncated-json"),
        pytest.param("", id="empty-text"),
        pytest.param(b"\x00\xff", id="bytes"),
    ],
)
def test_each_reported_partial_record_fails_closed_saying_what_to_check(
    stored: Any, empiriolabs_connection: Any
) -> None:
    sim = empiriolabs_connection
    ti = RecordingTI()
    ti.max_tries = 0
    with pytest.raises(AirflowFailException) as caught:  # final: no retry of the task
        _operator().execute({"ti": ti, "task_state_store": DictStateStore(**{KEY: stored})})
    text = str(caught.value)
    assert "cannot be read" in text and f"state-store/{KEY}" in text and "DELETE" in text, text
    assert sim.stats()["posts"] == 0


@pytest.mark.parametrize("stored", [None, _complete("not_sent", "")], ids=["absent", "not_sent"])
def test_an_absent_or_provably_unsent_record_is_sent_once(stored: Any, empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    ti = RecordingTI()
    ti.max_tries = 0
    summary = _operator().execute({"ti": ti, "task_state_store": DictStateStore(**{KEY: stored})})
    assert summary["status"] == "completed"
    assert sim.stats()["posts"] == 1
