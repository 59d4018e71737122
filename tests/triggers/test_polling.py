"""The poll planner: when it polls, from which evidence, and what it learns for the next job.

Jobs here are scripted (a function of time), so the planner is exercised on worlds that do not
follow the provider's guess; each test has its own store of learned render times.
"""

from __future__ import annotations

import http.server
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.testing import connection_json
from airflow_provider_empiriolabs.triggers._render_times import RenderTimes, progress_step
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from airflow_provider_empiriolabs.triggers.polling import LAG_FLOOR, RENDER_TIMES, PollPlanner, RenderKey
from tests.support import afirst_event, make_context

KEY = RenderKey("happyhorse-1-1", "720p", 5.0)
GUESS = 50.0  # what the provider guesses for KEY: 20 s + 6 s x 5


@dataclass
class World:
    """A job: queued until ``start``, rendering until ``end`` (seconds after creation at 0)."""

    start: float
    end: float
    progress: str = "linear"  # linear, stepped (quarters), absent

    def reading(self, t: float) -> tuple[str, float | None]:
        if t < self.start:
            return "queued", 0.0
        if t >= self.end:
            return "completed", 1.0
        share = (t - self.start) / (self.end - self.start)
        if self.progress == "stepped":
            share = math.floor(share * 4) / 4
        return "processing", None if self.progress == "absent" else share


def wait(world: World, planner: PollPlanner, *, limit: int = 500) -> list[float]:
    """Poll ``world`` as a trigger would; return the poll times (the last one saw it finished)."""
    now = planner.first_delay(0.0)
    polls = []
    for _ in range(limit):
        polls.append(now)
        status, progress = world.reading(now)
        if status == "completed":
            return polls
        now += planner.next_delay(now, progress, status=status, created_at=0.0)
    raise AssertionError("the planner never saw the job finish")


def planner(store: RenderTimes, poll_interval: float = 600.0) -> PollPlanner:
    return PollPlanner(poll_interval, expected_done_at=GUESS, key=KEY, expected_seconds=GUESS, store=store)


def teach(store: RenderTimes, worlds: list[World]) -> None:
    """Let the store see these jobs finish, polled the way the planner polls them."""
    for world in worlds:
        job_planner = planner(store)
        wait(world, job_planner)
        readings = [(t, p) for t, p in job_planner._readings]
        store.record(KEY, GUESS, world.end, readings, reports_progress=world.progress != "absent")


def lag_allowed(world: World) -> float:
    return max(0.1 * world.end, 3.0)


def varied(factor: float, queue: float = 0.1, progress: str = "linear", count: int = 12) -> list[World]:
    """``count`` renders around ``factor`` x the guess (+-20 %), as the simulator's jitter makes them."""
    ends = [GUESS * factor * (0.8 + 0.4 * i / (count - 1)) for i in range(count)]
    return [World(queue * end, end, progress) for end in ends]


# -- the evidence of one job -------------------------------------------------------------------


def test_one_progress_reading_with_the_job_age_times_the_end() -> None:
    store = RenderTimes()
    teach(store, varied(1.6))  # the queue share and the readings' accuracy are learned
    p = planner(store)
    # A reading at half the render, 40 s into a job created at 0 (queued 10 % of its 80 s).
    delay = p.next_delay(40.0, (40.0 - 8.0) / 72.0, status="processing", created_at=0.0)
    # The next poll is the last: at the end, late by no more than the lag allowed.
    assert 80.0 <= 40.0 + delay <= 80.0 + max(0.1 * 80.0, LAG_FLOOR)


def test_before_anything_is_learned_a_second_reading_times_the_end() -> None:
    p = planner(RenderTimes())
    # Nothing learned (queue share, how far readings are off): one reading leaves a wide window...
    first = 40.0 + p.next_delay(40.0, 0.5, status="processing", created_at=0.0)
    assert first < 80.0  # ...so it reads again before the earliest end that reading allows,
    second = first + p.next_delay(first, first / 80.0, status="processing", created_at=0.0)
    assert 80.0 <= second <= 80.0 + max(0.1 * 80.0, LAG_FLOOR)  # and two readings give the rate


def test_queued_with_progress_0_is_not_a_rendering_reading() -> None:
    store = RenderTimes()
    p = planner(store)
    p.next_delay(10.0, 0.0, status="queued", created_at=0.0)
    assert p._readings == []
    p.next_delay(20.0, 0.3, status="processing", created_at=0.0)
    assert p._readings == [(20.0, 0.3)]


def test_without_anything_learned_the_first_poll_catches_a_render_3x_faster_than_the_guess() -> None:
    world = World(1.5, 15.0)  # 0.3x the guess of 50 s
    polls = wait(world, planner(RenderTimes()))
    assert polls[0] < world.end  # it saw the render running: its progress timed the rest
    assert polls[-1] - world.end <= lag_allowed(world)


@pytest.mark.parametrize("factor", [0.3, 1.0, 3.0, 5.0])
@pytest.mark.parametrize("progress", ["linear", "stepped", "absent"])
def test_after_learning_every_job_is_seen_within_the_lag_allowed(factor: float, progress: str) -> None:
    store = RenderTimes()
    teach(store, varied(factor, progress=progress))
    for world in varied(factor, progress=progress, count=7):
        polls = wait(world, planner(store))
        assert polls[-1] - world.end <= lag_allowed(world) + 1e-9, (world, polls)


@pytest.mark.parametrize("factor", [0.3, 1.0, 3.0, 5.0])
def test_with_linear_progress_a_learned_kind_takes_two_polls(factor: float) -> None:
    store = RenderTimes()
    teach(store, varied(factor))
    counts = [len(wait(world, planner(store))) for world in varied(factor, count=9)]
    assert sum(counts) / len(counts) <= 2.5, counts  # a reading, then the end


def test_a_long_queue_is_told_apart_from_the_render() -> None:
    store = RenderTimes()
    teach(store, varied(1.0, queue=0.5))
    assert store.queue_share(KEY.model) == pytest.approx(0.5, abs=0.02)
    for world in varied(1.0, queue=0.5, count=5):
        polls = wait(world, planner(store))
        assert polls[-1] - world.end <= lag_allowed(world) + 1e-9


def test_a_model_without_progress_is_learned_and_walked_in_lag_sized_steps() -> None:
    store = RenderTimes()
    teach(store, varied(2.0, progress="absent"))
    assert store.reports_progress(KEY.model) is False
    world = World(10.0, 100.0, "absent")
    polls = wait(world, planner(store))
    # No reading to take: it starts near the earliest learned end, not at the guess's quarter.
    assert polls[0] > 0.5 * 0.8 * 2 * GUESS
    assert polls[-1] - world.end <= lag_allowed(world)


def test_the_learned_store_is_shared_per_kind_and_scaled_by_the_guess() -> None:
    store = RenderTimes()
    store.record(KEY, GUESS, 3 * GUESS, [])
    other = RenderKey(KEY.model, KEY.resolution, 10.0)  # same model and resolution: the ratio carries over
    store.record(other, 80.0, 240.0, [])
    store.record(other, 80.0, 240.0, [])
    low, high = store.ratios(KEY) or (0.0, 0.0)
    assert low <= 3.0 <= high
    assert store.ratios(RenderKey("another-model", "720p", 5.0)) is None


@given(st.lists(st.floats(min_value=0.5, max_value=2.0), min_size=40, max_size=64), st.floats(0.2, 6.0))
@settings(max_examples=40, deadline=None)
def test_learned_ratios_converge_on_what_the_world_does(noise: list[float], factor: float) -> None:
    store = RenderTimes()
    jitter = [factor * (0.9 + 0.2 * (n - 0.5) / 1.5) for n in noise]  # within +-10 % of factor
    for ratio in jitter:
        store.record(KEY, GUESS, ratio * GUESS, [])
    low, high = store.ratios(KEY) or (0.0, 0.0)
    assert low <= min(jitter) and high >= max(jitter)  # covers what was seen
    assert low >= 0.8 * factor and high <= 1.2 * factor  # and little more than that (the guess is gone)


# -- invariants on any progress sequence -------------------------------------------------------

progress_steps = st.lists(
    st.one_of(st.none(), st.floats(0.0, 0.999, allow_nan=False), st.just(-1.0)),  # -1.0: "queued"
    min_size=1,
    max_size=40,
)


@given(
    readings=progress_steps,
    poll_interval=st.floats(0.05, 900.0),
    created=st.floats(-5000.0, 0.0),
    learned=st.lists(st.floats(0.1, 8.0), max_size=10),
    guess=st.one_of(st.none(), st.floats(1.0, 500.0)),
)
@settings(max_examples=300, deadline=None)
def test_every_wait_stays_within_the_bounds(
    readings: list[float | None], poll_interval: float, created: float, learned: list[float], guess: float | None
) -> None:
    store = RenderTimes()
    for ratio in learned:
        store.record(KEY, 50.0, ratio * 50.0, [(ratio * 20.0, 0.4)])
    p = PollPlanner(
        poll_interval,
        expected_done_at=None if guess is None else created + guess,
        key=KEY,
        expected_seconds=guess,
        store=store,
    )
    delays = [p.first_delay(0.0)]
    now = delays[0]
    high = 0.0
    for value in readings:
        status = "queued" if value == -1.0 else "processing"
        progress = 0.0 if value == -1.0 else value
        if progress is not None:  # progress never goes back
            progress = high = max(high, progress)
        delay = p.next_delay(now, progress, status=status, created_at=created)
        delays.append(delay)
        now += delay
    delays.append(p.backoff())
    for delay in delays:
        assert p.min_interval - 1e-9 <= delay <= poll_interval + 1e-9


WorldFactory = Callable[[float, float], World]


@given(
    start=st.floats(0.0, 300.0),
    render=st.floats(0.5, 1000.0),
    progress=st.sampled_from(["linear", "stepped", "absent"]),
    poll_interval=st.floats(5.0, 900.0),
    learned=st.lists(st.floats(0.1, 8.0), max_size=6),
)
@settings(max_examples=200, deadline=None)
def test_every_job_is_seen_finished_within_one_poll_interval(
    start: float, render: float, progress: str, poll_interval: float, learned: list[float]
) -> None:
    store = RenderTimes()
    for ratio in learned:
        store.record(KEY, GUESS, ratio * GUESS, [(ratio * GUESS / 2, 0.45)])
    world = World(start, start + render, progress)
    polls = wait(world, planner(store, poll_interval), limit=100_000)
    assert polls[-1] - world.end <= poll_interval + 1e-6  # the bound holds whatever the evidence said


def test_a_failed_poll_backs_off_within_the_bounds() -> None:
    p = PollPlanner(poll_interval=60)
    waits = [p.backoff() for _ in range(8)]
    assert waits[0] == pytest.approx(4.0)
    assert max(waits) == 60


# -- real HTTP: a stand-in API that guesses nothing like the provider, and the worker's loop ---


class StandIn(http.server.BaseHTTPRequestHandler):
    """An API written apart from the simulator: ``pending``, then ``running`` in tenths, ``succeeded``."""

    created: float = 0.0
    queue_seconds = 0.3
    render_seconds = 2.0  # 20x faster than the guess's 50 s: the learned ratio must say so
    gets = 0

    @classmethod
    def total(cls) -> float:
        return cls.queue_seconds + cls.render_seconds

    def do_GET(self) -> None:
        type(self).gets += 1
        age = time.time() - self.created
        done = age >= self.total()
        share = max(age - self.queue_seconds, 0.0) / self.render_seconds
        body = {
            "id": self.path.rsplit("/", 1)[-1],
            "status": "succeeded" if done else ("pending" if age < self.queue_seconds else "running"),
            "progress": 1.0 if done else math.floor(share * 10) / 10,
            "created_at": datetime.fromtimestamp(self.created, UTC).isoformat(),
            "completed_at": (
                datetime.fromtimestamp(self.created + self.queue_seconds + self.render_seconds, UTC).isoformat()
                if done
                else None
            ),
            "result": {"video_url": "https://cdn.example/v.mp4"} if done else None,
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[StandIn]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", connection_json(url, "sk-empiriolabs-stand-in"))
    RENDER_TIMES.clear()
    try:
        yield StandIn
    finally:
        RENDER_TIMES.clear()
        server.shutdown()
        server.server_close()


async def test_the_trigger_learns_a_world_that_does_not_follow_the_guess(stand_in: type[StandIn]) -> None:
    for _ in range(2):
        stand_in.created, stand_in.gets = time.time(), 0
        trigger = EmpirioLabsJobTrigger(
            job_id="job_standin",
            poll_interval=0.8,  # the bound: the first poll (a quarter of the guess) comes before it
            end_time=time.time() + 60,
            expected_done_at=stand_in.created + GUESS,
            render_key=KEY.to_kwargs(),
            expected_seconds=GUESS,
        )
        event = await afirst_event(trigger)
        assert event["status"] == "success"
        assert stand_in.gets >= 1
    # Both jobs were learned, as what they are (2.3 s against a guess of 50 s), not as the guess.
    low, high = RENDER_TIMES.ratios(KEY) or (0.0, 1.0)
    assert low <= stand_in.total() / GUESS <= high < 0.1
    assert RENDER_TIMES.reports_progress(KEY.model) is True


def test_the_worker_loop_uses_the_planner_and_feeds_the_same_store(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    RENDER_TIMES.clear()
    try:
        operator = EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt="A horse grazing in a misty field",
            duration=3,
            poll_interval=0.05,
            deferrable=False,
        )
        summary = operator.execute(make_context())
        assert summary["status"] == "completed"
        key = RenderKey("happyhorse-1-1", "720p", 3.0)
        assert RENDER_TIMES.ratios(key) is not None  # what every trigger of this process now plans with
        assert sim.stats()["posts"] == 1
    finally:
        RENDER_TIMES.clear()


# -- stepped progress, two readings of a linear render, the render's start -------------------------


def stepped_store(learned: list[float]) -> RenderTimes:
    """A store that has seen the model report quarters, and finished jobs of ``learned`` x the guess."""
    store = RenderTimes()
    store.record(KEY, GUESS, GUESS, [(10.0, 0.25), (20.0, 0.5), (30.0, 0.75)])
    for ratio in learned:
        store.record(KEY, GUESS, ratio * GUESS, [(ratio * GUESS / 2, 0.25)])
    return store


def test_the_step_of_progress_is_learned_from_the_values_seen() -> None:
    assert progress_step([0.25, 0.5, 0.75]) == 0.25
    assert progress_step([0.3, 0.6, 0.1]) == 0.1
    assert progress_step([0.25, 0.4137]) == 0.0  # one value off every step: continuous
    assert progress_step([0.25, 0.5]) is None  # two quarters in a row can be chance
    assert stepped_store([]).step(KEY.model) == 0.25
    linear = RenderTimes()
    linear.record(KEY, GUESS, GUESS, [(20.0, 0.3333)])
    assert linear.step(KEY.model) == 0.0


@given(
    start=st.floats(0.0, 200.0),
    render=st.floats(3.0, 2000.0),
    poll_interval=st.floats(5.0, 900.0),
    learned=st.lists(st.floats(0.1, 8.0), max_size=6),
)
@settings(max_examples=300, deadline=None)
def test_after_a_stepped_reading_no_poll_lands_later_than_the_lag_allowed(
    start: float, render: float, poll_interval: float, learned: list[float]
) -> None:
    # A reading p of a model in quarters says progress is in [p, p + 0.25): those bounds are hard,
    # so whatever the learned render times say (here: anything), the poll after a reading is never
    # later than the lag allowed after the end.
    world = World(start, start + render, "stepped")
    p = planner(stepped_store(learned), poll_interval)
    polls = wait(world, p, limit=100_000)
    if len(polls) >= 2 and world.reading(polls[-2])[1]:
        assert polls[-1] - world.end <= max(0.1 * world.end, LAG_FLOOR) + 1e-6, polls[-3:]


@given(
    queue=st.floats(0.0, 0.6),
    total=st.floats(5.0, 3000.0),
    first=st.floats(0.02, 0.9),
    second=st.floats(0.02, 0.9),
    poll_interval=st.floats(60.0, 3600.0),
)
@settings(max_examples=300, deadline=None)
def test_two_readings_of_a_linear_render_put_the_next_poll_just_after_its_end(
    queue: float, total: float, first: float, second: float, poll_interval: float
) -> None:
    # Two readings give the rate whatever the queue: the next GET lands on the end, within the lag
    # allowed (or at the user's bound when the end is further than that).
    world = World(queue * total, total)
    t1, t2 = sorted(world.start + share * (total - world.start) for share in (first, second))
    if t2 - t1 < 0.01 * total:
        return  # the same reading twice says nothing of the rate
    # Values that are all multiples of a step (0.25 then 0.5) may be a stepped model's: planned as such.
    assume(progress_step([world.reading(t)[1] or 0.0 for t in (t1, t2)], evidence=1) == 0.0)
    p = planner(RenderTimes(), poll_interval)
    for t in (t1, t2):
        status, progress = world.reading(t)
        delay = p.next_delay(t, progress, status=status, created_at=0.0)
    if delay < poll_interval:
        assert total <= t2 + delay <= total + max(0.1 * total, LAG_FLOOR) + 1e-6


def test_the_last_queued_poll_bounds_the_render_and_one_reading_times_it() -> None:
    # Nothing learned: queued at 30 s, then 10 % done at 40 s: the render started between 30 s and
    # 40 s, so it ends between 40 s and 130 s whatever the queue; without that, 10 % at 40 s allows
    # up to 400 s.
    p = planner(RenderTimes())
    p.next_delay(30.0, 0.0, status="queued", created_at=0.0)
    p.next_delay(40.0, 0.1, status="processing", created_at=0.0)
    window = p._from_progress()
    assert window is not None and window[1] <= 130.0 * 1.1


def test_a_rate_seen_in_flight_times_other_jobs_until_one_finishes() -> None:
    store = RenderTimes()
    p = planner(store)
    p.next_delay(20.0, 0.13, status="processing", created_at=0.0)
    p.next_delay(30.0, 0.23, status="processing", created_at=0.0)  # ends at 107 s: 2.14 x the guess
    low, high = store.ratios(KEY) or (0.0, 0.0)
    assert low <= 2.14 <= high
    store.record(KEY, GUESS, GUESS, [])  # a job of the model finished: its time wins
    low, high = store.ratios(KEY) or (0.0, 0.0)
    assert low <= 1.0 <= high < 2.14
