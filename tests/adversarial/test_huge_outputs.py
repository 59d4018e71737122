"""
A job answer with a huge outputs list, or a huge ``Content-Length``: bounded memory, a clear failure, no lost video.

The hostile API accepts the request, then answers every poll with a finished job listing 100,000
output URLs (6 MB of JSON), or announcing a body of a petabyte. The worker must not read it (the
answer cap), must fail saying why, and must keep the job: the record still names it, so the next
try reattaches to it (0 POSTs) once the API answers sanely, instead of paying for another.
"""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest

from airflow_provider_empiriolabs.operators._job_record import JobRecord
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.adversarial.hostile_api import JOB_ROUTE, POST_ROUTE, Answer, HostileAPI, json_answer
from tests.adversarial.support import KEY
from tests.support import DictStateStore, RecordingTI

ACCEPTED = {"job_id": "job_new", "status": "queued"}
KEY_NAME = EmpirioLabsGenerateVideoOperator.external_id_key


def _finished(urls: int) -> dict[str, Any]:
    data = [{"url": f"https://cdn.example.com/o/{n}.mp4?signature={n:032x}"} for n in range(urls)]
    return {"job_id": "job_new", "status": "completed", "progress": 1, "result": {"data": data}}


HUGE = {
    "100k-outputs": json_answer(200, _finished(100_000)),
    "petabyte-content-length": Answer(200, json.dumps(_finished(1)).encode(), content_length=10**15),
}


def _try(store: DictStateStore) -> tuple[Any, BaseException | None, float]:
    """One try of the task: its result, its error, and the peak of Python memory it held (MB)."""
    operator = EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt="a horse on a beach",
        duration=3,
        poll_interval=0.05,
        timeout=30,
        hook_params={"max_attempts": 1},  # one answer per poll: the test is about the answer, not retries
    )
    result: Any = None
    failure: BaseException | None = None
    tracemalloc.start()
    try:
        result = operator.execute({"ti": RecordingTI(), "task_state_store": store})
    except BaseException as error:  # a named failure is the expected outcome
        failure = error
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return result, failure, peak


@pytest.mark.parametrize("answer", list(HUGE.values()), ids=list(HUGE))
def test_a_huge_job_answer_fails_clearly_within_bounded_memory_and_the_job_is_kept(
    api: HostileAPI, answer: Answer
) -> None:
    api.script(POST_ROUTE, json_answer(202, ACCEPTED))
    api.always(JOB_ROUTE, answer)
    store = DictStateStore()

    result, error, peak_mb = _try(store)

    assert result is None and error is not None
    text = str(error)
    assert "1048576" in text or "1,048,576" in text, text  # says why: the answer is over the cap
    assert KEY not in text and "signature=" not in text
    assert peak_mb < 32, f"{peak_mb:.1f} MB held for a refused answer"  # the hostile server's copy included
    assert api.posts == 1
    record = JobRecord.load(store.get(KEY_NAME))
    assert record is not None and (record.state, record.job_id) == ("accepted", "job_new")  # not lost

    api.always(JOB_ROUTE, json_answer(200, _finished(1)))  # the API answers sanely again
    again, error, _ = _try(store)

    assert error is None and again["job_id"] == "job_new" and len(again["output_urls"]) == 1
    assert api.posts == 1  # the next try reattached: no second job
