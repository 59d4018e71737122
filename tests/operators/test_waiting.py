"""
The operator's waits (``operators/_waiting.py``): from the POST's acceptance, no GET first.

A deferred task defers straight from the accepted POST and the trigger's planner spends its GETs;
a task that waits on the worker sleeps the planner's first wait before its first GET, and takes a
404 right after acceptance as the API not knowing its new job yet. GETs are counted by the
simulator; nothing here is timed.
"""

from __future__ import annotations

import asyncio
import time
import types
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_empiriolabs.operators import _job_operator as operator_module  # the job path keeps the clock
from airflow_provider_empiriolabs.operators import _waiting
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.triggers import empiriolabs as trigger_module
from airflow_provider_empiriolabs.triggers.polling import RENDER_TIMES
from tests.support import afirst_event, make_context

PROMPT = "A horse galloping along a beach at sunrise"
#: Simulated seconds per real second: a 3x render of the guess (about 2 minutes) takes a few seconds.
SCALE = 15.0


class ScaledTime:
    """The simulator's clock (``SCALE`` times faster), for the modules that tell time and sleep."""

    def __init__(self) -> None:
        self.real0 = self.sim0 = time.time()

    def time(self) -> float:
        return self.sim0 + (time.time() - self.real0) * SCALE

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0) / SCALE)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / SCALE)


@pytest.fixture
def scaled(empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The simulator and every wait of the operator and its trigger on one clock, ``SCALE`` times faster."""
    sim = empiriolabs_connection
    clock = ScaledTime()
    sim.configure(time_scale=SCALE)
    clock.real0 = clock.sim0 = time.time()
    fake = types.SimpleNamespace(
        time=clock.time, sleep=clock.sleep, monotonic=time.monotonic, strftime=time.strftime, gmtime=time.gmtime
    )
    for module in (operator_module, _waiting):
        monkeypatch.setattr(module, "time", fake)
    monkeypatch.setattr(trigger_module, "time", fake)
    monkeypatch.setattr(
        trigger_module,
        "asyncio",
        types.SimpleNamespace(sleep=clock.asleep, wait_for=asyncio.wait_for, TimeoutError=asyncio.TimeoutError),
    )
    RENDER_TIMES.clear()
    yield sim
    RENDER_TIMES.clear()


def _deferred_run(sim: Any) -> tuple[str, int]:
    """One deferred task, start to end: its job id and the GETs its trigger made (the resume's apart)."""
    context = make_context()
    operator = EmpirioLabsGenerateVideoOperator(task_id="generate", prompt=PROMPT, duration=3, deferrable=True)
    with pytest.raises(TaskDeferred) as caught:
        operator.execute(context)
    job_id = context["ti"].xcoms["job_id"]
    assert job_id not in sim.stats()["gets_per_job"]  # deferred straight from the accepted POST
    event = asyncio.run(afirst_event(caught.value.trigger, limit_seconds=120))
    gets = sim.stats()["gets_per_job"][job_id]
    summary = operator.execute_complete(context, event)
    assert summary["status"] == "completed" and summary["job_id"] == job_id
    return job_id, gets


@pytest.mark.slow  # a scaled 3x render in real time: make test, not test-quick
def test_a_deferred_task_waits_out_a_slow_stepped_render_with_a_bounded_number_of_gets(scaled: Any) -> None:
    sim = scaled
    # Renders 3x the guess (38 s for 3 s of video: about 114 s), progress in quarters.
    sim.configure(render_time_factor=3.0, progress_mode="stepped", render_jitter=0.0)

    _, cold = _deferred_run(sim)
    _, learned = _deferred_run(sim)

    # A fixed 5 s poller would make 1 + 114 / 5, about 24 GETs, for each. Nothing learned, the
    # planner looks from a quarter of the guess on, in growing steps, and walks the window a
    # reading in quarters leaves (about 10 GETs): at most half the 5 s poller's. Once one job was
    # seen, the step and the render time are known: at most a third (about 7: the 60 s bound
    # and the window of a quarter step keep it above two).
    assert cold <= 12, cold
    assert learned <= 8, learned
    assert sim.stats()["posts"] == 2


def test_the_worker_sleeps_the_planners_first_wait_before_its_first_get(scaled: Any) -> None:
    sim = scaled
    sim.configure(render_time_factor=3.0, progress_mode="linear", render_jitter=0.0)
    operator = EmpirioLabsGenerateVideoOperator(task_id="generate", prompt=PROMPT, duration=3, deferrable=False)

    summary = operator.execute(make_context())

    assert summary["status"] == "completed"
    gets = sim.stats()["gets_per_job"][summary["job_id"]]
    assert gets <= 6, gets  # no GET at acceptance; then a few readings and the end (a 5 s loop: 24)


def test_the_worker_takes_a_404_right_after_acceptance_as_not_known_yet(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    sim.configure(
        render_base_seconds=0.5,
        render_seconds_per_video_second=0.1,
        fail_next_requests=[{"match": "poll", "status": 404, "count": 2}],
    )
    operator = EmpirioLabsGenerateVideoOperator(
        task_id="generate", prompt=PROMPT, duration=3, deferrable=False, poll_interval=0.2
    )

    summary = operator.execute(make_context())

    assert summary["status"] == "completed"
    stats = sim.stats()
    assert stats["responses_by_status"].get("404") == 2
    assert stats["posts"] == 1
