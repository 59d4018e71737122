"""
When to poll a job next, from the evidence about it: its age, its progress, and finished jobs.

Polls are not free: the account's 50 requests per minute are shared by every job. A fixed 5 s
poll spends ten requests on a 50 s render; a fixed 60 s poll leaves a finished video waiting up
to a minute. The physical limit is one GET that lands just after the render ends. This planner
gets near it from evidence, not from a guess:

* **one progress reading is enough**: the job's own ``created_at`` gives its age, and with the
  share of time jobs spend queued (learned) a single reading gives the total time
  (:func:`~._render_times.estimate_total`); two readings give the rate, which times a linear render
  whatever its queue, and the next GET is placed just after that end; a job still ``queued`` with
  progress 0 says only that its render has not started, and the last poll that saw it queued
  bounds when the render began;
* **render times learned per kind** (:mod:`._render_times`, shared by every trigger and worker
  poll loop of the process): the built-in guess is only the prior, and until a job of the model
  finishes, the ends that other jobs' rates predict stand in. With them, the first poll comes one
  lag step after the earliest likely end: a job done by then is seen within the lag allowed, one
  still rendering shows progress near its end, which puts the next poll on the end;
* **progress in steps** (the step is learned per model from the values seen, or read from the
  job's own): a reading p says progress is in [p, p + step), so with the render's start between
  the last queued poll and the first rendering one, each reading bounds the end from both sides;
  those bounds are hard and the learned render times only cap the window's end;
* **no progress, stalling progress**: the learned spread of the estimates' errors and of the
  render times gives a window, walked in steps no longer than the lag allowed (:data:`LAG_SHARE`
  of the job's age);
* **nothing known yet**: the first poll comes after :data:`FIRST_POLL_SHARE` of the guess, early
  enough to catch a render three times faster than guessed still running, then at growing ages.

``poll_interval`` stays the user's bound: never more than that between two polls, never less
than :data:`MIN_INTERVAL_SHARE` of it (and at most :data:`MIN_INTERVAL_SECONDS`). Times are the
local clock's; ``created_at`` is the API's and is trusted only within :data:`MAX_AGE` of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_empiriolabs.triggers._render_times import (
    MIN_USEFUL_PROGRESS,
    PRIOR_CALIBRATION,
    RENDER_TIMES,
    RenderKey,
    RenderTimes,
    estimate_total,
    progress_step,
)

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.models import Job, VideoRequest

__all__ = ["RENDER_TIMES", "PollPlanner", "RenderKey", "render_key"]

#: The shortest wait between polls, as a share of ``poll_interval`` (60 s -> 2 s)...
MIN_INTERVAL_SHARE = 1 / 30
#: ...and at most this many seconds (a long bound must not make the planner slow to look).
MIN_INTERVAL_SECONDS = 2.0
#: The lag aimed at: a finished job is seen within this share of its age (the goal is 10 % at p95)...
LAG_SHARE = 0.095
#: ...or within this many seconds, whichever is larger: a shorter lag is not worth a request.
LAG_FLOOR = 2.8
#: With nothing learned, the first poll comes after this share of the guess.
FIRST_POLL_SHARE = 0.25
#: When one more reading is needed, it is taken this far (share) from now to the earliest likely end.
READING_SHARE = 0.5
#: Until the model's estimates are calibrated, the end from two readings' rate is trusted to this share.
RATE_SPREAD = 0.04
#: A stepped window's far end is pushed out by this share (the queue share learned is a median).
STEP_MARGIN = 0.03
#: A window of the end wider than this many lag steps is narrowed by one more reading first.
WIDE_WINDOW_STEPS = 3
#: With no evidence left (past every estimate, nothing learned), the next poll at age x this.
GROWTH = 1.3
#: ...and while the job is still queued (its render has not started: nothing to catch yet).
QUEUED_GROWTH = 1.5
#: Statuses of a job that waits for its render to start.
QUEUED_STATUSES = frozenset({"queued", "pending", "waiting", "submitted", "accepted"})
#: A ``created_at`` further than this from the local clock is not trusted (clock skew): age from first sight.
MAX_AGE = 24 * 3600.0


def render_key(request: VideoRequest) -> RenderKey:
    """The kind of the job a request makes, as far as its render time goes (what times are learned by)."""
    return RenderKey(request.model, request.effective_resolution, float(request.billed_seconds))


@dataclass
class PollPlanner:
    """
    Decides the wait before each poll of one job.

    :param poll_interval: the longest wait between two polls, in seconds.
    :param expected_done_at: when the guess expects the job to finish (Unix time), if known.
    :param key: the job's kind (model, resolution, duration), to use and feed the learned render times.
    :param expected_seconds: the guessed total time of the job (the prior the learned times scale).
    :param created_at: the job's ``created_at`` (Unix time); otherwise taken from the first reading.
    :param store: the learned render times (the process-wide one unless a test gives its own).
    """

    poll_interval: float
    expected_done_at: float | None = None
    key: RenderKey | None = None
    expected_seconds: float | None = None
    created_at: float | None = None
    store: RenderTimes = field(default=RENDER_TIMES, repr=False)
    _readings: list[tuple[float, float]] = field(default_factory=list, repr=False)
    _polls: int = field(default=0, repr=False)
    _reports_progress: bool | None = field(default=None, repr=False)
    _last_delay: float | None = field(default=None, repr=False)
    _predicted: float | None = field(default=None, repr=False)
    _last_queued: float | None = field(default=None, repr=False)
    _queued_now: bool = field(default=False, repr=False)
    _told: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.expected_seconds is None and self.expected_done_at is not None and self.created_at is not None:
            self.expected_seconds = self.expected_done_at - self.created_at
        if self.created_at is None and self.expected_done_at is not None and self.expected_seconds is not None:
            self.created_at = self.expected_done_at - self.expected_seconds

    @property
    def min_interval(self) -> float:
        return min(self.poll_interval * MIN_INTERVAL_SHARE, MIN_INTERVAL_SECONDS)

    def _bounded(self, delay: float) -> float:
        delay = min(max(delay, self.min_interval), self.poll_interval)
        self._last_delay = delay
        return delay

    def _set_created(self, now: float, created_at: float | None) -> None:
        if created_at is not None and now - MAX_AGE <= created_at <= now + 1.0:
            self.created_at = min(created_at, now)
        elif self.created_at is None:
            self.created_at = now
        if self.expected_seconds is None and self.expected_done_at is not None:
            self.expected_seconds = max(self.expected_done_at - self.created_at, 0.0)

    # -- evidence ------------------------------------------------------------------------------

    def observe(
        self, now: float, progress: float | None, *, status: str | None = None, created_at: float | None = None
    ) -> None:
        """
        Take in what one poll said of the job, still running.

        :param now: the time of that poll (Unix time).
        :param progress: its progress, 0 to 1, or ``None`` when the API gave none.
        :param status: its status as the API said it (``queued`` with progress 0 is not rendering yet).
        :param created_at: its ``created_at`` (Unix time), if given.
        """
        self._set_created(now, created_at)
        self._polls += 1
        queued = (status or "").strip().lower() in QUEUED_STATUSES and not progress
        self._queued_now = queued
        if queued and not self._readings:
            self._last_queued = now
        if not queued:
            self._reports_progress = bool(self._reports_progress) or bool(progress)
        if not queued and progress is not None and 0 <= progress < 1:
            self._readings.append((now, progress))

    @staticmethod
    def _window(interval: tuple[float, float], other: tuple[float, float] | None) -> tuple[float, float]:
        """Two windows of the end, intersected; the first alone when they do not overlap."""
        if other is None:
            return interval
        low, high = max(interval[0], other[0]), min(interval[1], other[1])
        return (low, high) if low < high else interval

    def _step(self) -> float:
        """The step this job's progress comes in: the model's, learned, else what its own readings say."""
        model = self.key.model if self.key else ""
        learned = self.store.step(model)
        if learned is not None:
            return learned
        return progress_step([p for _, p in self._readings], evidence=1) or 0.0

    def _from_steps(self, step: float) -> tuple[float, float] | None:
        """
        The window of the end from progress in steps: a reading p says progress is in [p, p + step).

        The render started after the last poll that saw the job queued (or its creation) and by
        the first that saw it rendering; with that, each reading bounds the end from both sides (a
        0 while rendering from below only), whatever the queue. The bounds of every reading are
        intersected: they are hard, for a render that progresses evenly between its steps.
        """
        assert self.created_at is not None
        earliest_start = self._last_queued if self._last_queued is not None else self.created_at
        latest_start = self._readings[0][0]
        lows, highs = [], []
        for t, p in self._readings:
            lows.append(latest_start + (t - latest_start) / min(p + step, 1.0))
            if p > 0:
                highs.append(earliest_start + (t - earliest_start) / p)
        if not highs:
            return None
        low, high = max(lows), min(highs)
        return min(low, high), max(low, high) + STEP_MARGIN * (max(low, high) - self.created_at)

    def _from_progress(self) -> tuple[float, float] | None:
        """
        The window of the end from the progress readings.

        Each reading, with the learned queue share, is an upper bound of the total time (progress
        shown late only lowers it); how far below the end lies was learned per model. Until it is,
        two readings give the rate, which times a linear render whatever its queue. Progress in
        steps is read as intervals (:meth:`_from_steps`).
        """
        if not self._readings or self.created_at is None:
            return None
        step = self._step()
        if step > 0:
            return self._from_steps(step)
        model = self.key.model if self.key else ""
        share = self.store.queue_share(model)
        rendering = [(t, p) for t, p in self._readings if p > 0]
        useful = [(t, p) for t, p in rendering if p >= MIN_USEFUL_PROGRESS]
        calibration = self.store.calibration(model)
        window = None
        if useful:
            total = min(estimate_total(t - self.created_at, p, share) for t, p in useful)
            low, high = calibration or PRIOR_CALIBRATION
            window = self.created_at + total * low, self.created_at + total * high
        if rendering and self._last_queued is not None:
            window = self._window(self._from_start(rendering[-1]), window)
        if len(rendering) >= 2:
            (t1, p1), (t2, p2) = rendering[0], rendering[-1]
            if p2 > p1:
                end = t2 + (1 - p2) * (t2 - t1) / (p2 - p1)
                spread = RATE_SPREAD * (end - self.created_at)
                rate = end - spread, end + spread
                window = self._window(rate, window)  # the rate, where a single reading disagrees
                self._predicted = end
        return window

    def _from_start(self, reading: tuple[float, float]) -> tuple[float, float]:
        """
        The window of the end from when the render started: after the last poll that saw the job
        queued, by the first that saw it rendering. With one reading, progress then times the render.

        :param reading: the last reading (time, progress above 0).
        """
        assert self._last_queued is not None
        t, p = reading
        earliest = t + (1 - p) * (t - self._readings[0][0]) / p
        latest = t + (1 - p) * (t - self._last_queued) / p
        spread = RATE_SPREAD * (latest - (self.created_at or 0.0))
        return earliest - spread, latest + spread

    def _from_history(self) -> tuple[float, float] | None:
        """The window of the end from the render times learned for this kind of job."""
        if self.key is None or not self.expected_seconds or self.created_at is None:
            return None
        ratios = self.store.ratios(self.key)
        if ratios is None:
            return None
        return self.created_at + ratios[0] * self.expected_seconds, self.created_at + ratios[1] * self.expected_seconds

    # -- plans ---------------------------------------------------------------------------------

    def _tolerance(self, end: float) -> float:
        assert self.created_at is not None
        return max(LAG_SHARE * (end - self.created_at), LAG_FLOOR)

    def _walk(self, now: float, window: tuple[float, float]) -> float:
        """The next poll inside a window of the end: at its end if short enough, else one lag step in."""
        low, high = max(window[0], now), window[1]
        step = self._tolerance(low)
        return high if high - low <= step else low + step

    def _target(self, now: float) -> float:
        created = self.created_at if self.created_at is not None else now
        history = self._from_history()
        progress = self._from_progress()
        if progress is not None and progress[1] > now:
            if self._step() > 0:  # the steps' bounds are hard, the history's are not: it only caps the end
                cap = history[1] if history is not None and history[1] > progress[0] else progress[1]
                window = progress[0], min(progress[1], cap)
            else:
                window = self._window(progress, history)
            low, high = window
            low = max(low, now)
            step = self._tolerance(low)
            if len(self._readings) < 2 and high - low > WIDE_WINDOW_STEPS * step and low - now > 2 * step:
                return now + READING_SHARE * (low - now)  # one more reading narrows it
            return self._walk(now, window)
        if history is not None and history[1] > now:
            return self._walk(now, history)
        if progress is not None or history is not None:
            return now + self._tolerance(now)  # past every estimate: it is late, look often
        if self.expected_seconds and now - created < FIRST_POLL_SHARE * self.expected_seconds:
            return created + FIRST_POLL_SHARE * self.expected_seconds
        if self.expected_seconds or self._polls:
            return created + max(now - created, self.min_interval) * (QUEUED_GROWTH if self._queued_now else GROWTH)
        return now + self.min_interval

    # -- the planner's answers -----------------------------------------------------------------

    def first_delay(self, now: float) -> float:
        """The wait before the first poll (whoever made this planner has just polled, or not at all)."""
        self._set_created(now, None)
        return self._bounded(self._target(now) - now)

    def next_delay(
        self, now: float, progress: float | None, *, status: str | None = None, created_at: float | None = None
    ) -> float:
        """
        The wait before the next poll, given what the last poll said (see :meth:`observe`).

        :param now: the time of that poll (Unix time).
        :param progress: the job's progress, 0 to 1, or ``None`` when the API gave none.
        :param status: its status as the API said it.
        :param created_at: its ``created_at`` (Unix time), if given.
        """
        self.observe(now, progress, status=status, created_at=created_at)
        delay = self._bounded(self._target(now) - now)
        known = self.key is not None and self.expected_seconds and self.created_at is not None
        if known and self._predicted is not None and not self._told:
            # The rate timed this job's end: until a job of its kind finishes, that is the best evidence.
            self._told = True
            assert self.key is not None and self.expected_seconds and self.created_at is not None
            self.store.predict(self.key, self.expected_seconds, self._predicted - self.created_at)
        return delay

    def delay_after(self, job: Job, now: float | None = None) -> float:
        """:meth:`next_delay` for a job as the API reported it."""
        created = job.created_at.timestamp() if job.created_at else None
        return self.next_delay(
            time.time() if now is None else now, job.progress, status=job.raw_status, created_at=created
        )

    def finished(self, job: Job) -> None:
        """Learn from a job seen finished: its total time, and how its readings would have timed it."""
        if not job.status.is_success() or self.key is None or not self.expected_seconds:
            return
        if job.created_at is None or job.completed_at is None:
            return
        created = job.created_at.timestamp()
        readings = [(t - created, p) for t, p in self._readings] if self.created_at == created else []
        total = job.completed_at.timestamp() - created
        self.store.record(self.key, self.expected_seconds, total, readings, reports_progress=self._reports_progress)

    def backoff(self) -> float:
        """The wait after a failed poll: twice the last wait, within the bounds."""
        return self._bounded(2 * (self._last_delay or self.min_interval))
