"""
How long renders take, learned from the jobs this process has seen finish.

The built-in render-time guess (:meth:`~airflow_provider_empiriolabs.models.VideoRequest.expected_render_seconds`)
is only a prior: real render times move with the model, the platform's load and the queue. Every
poller of this process (the triggers of one triggerer, the poll loops of one worker) records each
job it saw finish in one shared :data:`RENDER_TIMES`, so the next job of the same kind is timed
from evidence. Three things are learned, all on the API's own clock (``created_at`` to
``completed_at``, so no clock skew enters):

* the total time of a job as a ratio to the guess, per model, resolution and duration (pooled
  per model and resolution, then per model, while one kind has few samples);
* the share of that time a job spends queued, from where its progress readings put the render's
  start (a single reading with ``created_at`` then gives the end);
* how far such single-reading estimates were off (stepped or stalling progress makes them wide),
  whether the model reports progress at all, and in which steps (:func:`progress_step`: a model
  that reports quarters says 0.25 while anywhere in [0.25, 0.5), so its readings are intervals).
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["RENDER_TIMES", "RenderKey", "RenderTimes", "estimate_total", "progress_step"]

#: Samples kept per kind: recent enough to follow a change of the platform's load.
KEEP = 64
#: The range of samples is widened by this share over the square root of their number (one sample:
#: +-30 %; four: +-15 %), and at least by :data:`WIDEN`.
SPREAD_OF_ONE = 0.3
WIDEN = 0.02
#: Before any evidence: single-reading estimates are trusted to this range (estimate x factor). A
#: reading is an upper bound when the queue share is right; before it is learned (0 is assumed) the
#: total may be well below (a 10 % queue and a reading of 0.3 put it at 0.8 of the estimate).
PRIOR_CALIBRATION = (0.7, 1.03)
#: Readings below this progress say little about the end (when the render started weighs too much).
MIN_USEFUL_PROGRESS = 0.2
#: The steps progress may come in, coarsest first (quarters, fifths, eighths, tenths).
STEPS = (0.25, 0.2, 0.125, 0.1)
#: Progress values (above 0) needed before a step is believed: two quarters in a row can be chance.
STEP_EVIDENCE = 3


def progress_step(values: list[float], evidence: int = STEP_EVIDENCE) -> float | None:
    """
    The step progress comes in, from values seen: 0.0 when it is continuous, ``None`` when too few.

    A value that is no multiple of a step rules it out; the coarsest step every value is a multiple
    of is the model's. Linear progress (``0.4137``) rules every step out at its first reading.

    :param values: progress values seen while rendering, in [0, 1).
    :param evidence: values above 0 needed to believe a step.
    """
    seen = [v for v in values if 0 < v < 1]
    fits = [step for step in STEPS if all(abs(v / step - round(v / step)) < 1e-6 for v in seen)]
    if not fits:
        return 0.0
    return fits[0] if len(seen) >= evidence else None


@dataclass(frozen=True)
class RenderKey:
    """
    The kind of a job, as far as its render time goes.

    :param model: the model id.
    :param resolution: the output resolution (``720p``...).
    :param duration: seconds of video asked for.
    """

    model: str
    resolution: str
    duration: float

    @classmethod
    def from_kwargs(cls, value: Any) -> RenderKey | None:
        """Read a key back from trigger kwargs; ``None`` for anything unreadable (only timing is lost)."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(str(value["model"]), str(value["resolution"]), float(value["duration"]))
        except (KeyError, TypeError, ValueError):
            return None

    def to_kwargs(self) -> dict[str, Any]:
        return {"model": self.model, "resolution": self.resolution, "duration": self.duration}


def estimate_total(elapsed: float, progress: float, queue_share: float) -> float:
    """
    A job's total time (queue plus render) from one progress reading and its age.

    If a share ``q`` of the total ``T`` is queue and the render progresses linearly after it,
    ``elapsed = q T + progress (1 - q) T``.

    :param elapsed: seconds since ``created_at`` at the reading.
    :param progress: the reading, in (0, 1).
    :param queue_share: the share of the total spent queued.
    """
    return elapsed / (queue_share + progress * (1.0 - queue_share))


def _spread(samples: list[float]) -> tuple[float, float]:
    """The range of the samples, widened the more the fewer they are (one sample says little)."""
    widen = max(WIDEN, SPREAD_OF_ONE / len(samples) ** 0.5)
    return min(samples) * (1 - widen), max(samples) * (1 + widen)


def _levels(key: RenderKey) -> tuple[tuple[Any, ...], ...]:
    """Where a kind's times are kept: its own, then pooled per model and resolution, then per model."""
    return (key.model, key.resolution, key.duration), (key.model, key.resolution), (key.model,)


class RenderTimes:
    """
    The render-time evidence of one process, safe to share between threads and event loops.

    :param keep: samples kept per kind.
    """

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._ratios: dict[tuple[Any, ...], deque[float]] = {}
        self._queue_shares: dict[str, deque[float]] = {}
        self._calibration: dict[str, deque[float]] = {}
        self._reports_progress: dict[str, deque[bool]] = {}
        self._values: dict[str, deque[float]] = {}
        self._predicted: dict[tuple[Any, ...], deque[float]] = {}

    def _add(self, table: dict[Any, deque[Any]], key: Any, value: Any) -> None:
        table.setdefault(key, deque(maxlen=self._keep)).append(value)

    def clear(self) -> None:
        """Forget everything (tests, benchmarks)."""
        with self._lock:
            tables: tuple[dict[Any, Any], ...] = (self._ratios, self._queue_shares, self._calibration)
            for table in (*tables, self._reports_progress, self._values, self._predicted):
                table.clear()

    def record(
        self,
        key: RenderKey,
        expected_seconds: float,
        total_seconds: float,
        readings: list[tuple[float, float]],
        *,
        reports_progress: bool | None = None,
    ) -> None:
        """
        Learn from one finished job.

        :param key: its kind.
        :param expected_seconds: the guess it was planned with (the ratio to it is what is kept).
        :param total_seconds: ``completed_at`` minus ``created_at``, on the API's clock.
        :param readings: its progress readings while rendering, as (seconds since created, progress).
        :param reports_progress: whether its polls while rendering showed progress; ``None`` when no
            poll saw it rendering (that says nothing about whether the model reports progress).
        """
        if expected_seconds <= 0 or total_seconds <= 0:
            return
        ratio = total_seconds / expected_seconds
        with self._lock:
            for _, progress in readings:
                if 0 < progress < 1:
                    self._add(self._values, key.model, progress)
            stepped = bool(progress_step(list(self._values.get(key.model, ()))))
        # A stepped reading p says only that progress is in [p, p + step): polls made near the end
        # read the last step far below the truth, so such readings would teach a queue share that
        # is not (the planner reads them as intervals, with the queue share of 0 that bounds them).
        useful = (
            [] if stepped else [(e, p) for e, p in readings if MIN_USEFUL_PROGRESS <= p < 1 and 0 < e < total_seconds]
        )
        with self._lock:
            for level in _levels(key):
                self._add(self._ratios, level, ratio)
            if reports_progress is not None:
                self._add(self._reports_progress, key.model, reports_progress)
            for elapsed, progress in useful:
                share = (elapsed / total_seconds - progress) / (1 - progress)
                self._add(self._queue_shares, key.model, min(max(share, 0.0), 0.95))
            queue_share = self._queue_share(key.model)
            for elapsed, progress in useful:
                estimate = estimate_total(elapsed, progress, queue_share)
                self._add(self._calibration, key.model, total_seconds / estimate)

    def predict(self, key: RenderKey, expected_seconds: float, total_seconds: float) -> None:
        """
        Learn from a job still running whose rate timed its end: used only until a job of the model finishes.

        :param key: its kind.
        :param expected_seconds: the guess it was planned with.
        :param total_seconds: the total time its readings' rate predicts.
        """
        if expected_seconds <= 0 or total_seconds <= 0:
            return
        with self._lock:
            for level in _levels(key):
                self._add(self._predicted, level, total_seconds / expected_seconds)

    def ratios(self, key: RenderKey) -> tuple[float, float] | None:
        """The range of total time / guess for this kind (the most specific level with evidence)."""
        with self._lock:
            for table in (self._ratios, self._predicted):  # predictions only while nothing finished
                for level, enough in zip(_levels(key), (10, 3, 1), strict=True):
                    samples = table.get(level)
                    if samples and len(samples) >= enough:
                        return _spread(list(samples))
        return None

    def _queue_share(self, model: str) -> float:
        samples = self._queue_shares.get(model)
        return statistics.median(samples) if samples else 0.0

    def queue_share(self, model: str) -> float:
        """The usual share of a job's time spent queued (0 before any evidence)."""
        with self._lock:
            return self._queue_share(model)

    def calibration(self, model: str) -> tuple[float, float] | None:
        """How far single-reading estimates of this model were off (true total / estimate, low and high)."""
        with self._lock:
            samples = self._calibration.get(model)
            return _spread(list(samples)) if samples else None

    def step(self, model: str) -> float | None:
        """The step the model's progress comes in (0.0: continuous); ``None`` before enough evidence."""
        with self._lock:
            return progress_step(list(self._values.get(model, ())))

    def reports_progress(self, model: str) -> bool | None:
        """Whether recent jobs of the model reported usable progress; ``None`` before any evidence."""
        with self._lock:
            seen = self._reports_progress.get(model)
            return None if not seen else sum(seen) * 2 >= len(seen)


#: The one store of this process, shared by every trigger and every worker poll loop.
RENDER_TIMES = RenderTimes()
