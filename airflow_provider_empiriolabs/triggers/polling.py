"""
When to poll a job next, from what the API has said about it so far.

Polls are not free: the account's 50 requests per minute are shared by every job. A fixed 5 s
poll spends ten requests on a 50 s render; a fixed 60 s poll leaves a finished video waiting up
to a minute. This planner polls once around the expected end of the render, then from the
reported ``progress`` estimates the completion time and polls near it, backing off while nothing
moves. ``poll_interval`` stays the user's bound: never more than that between two polls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The shortest wait between polls, as a share of ``poll_interval`` (60 s -> 2 s).
MIN_INTERVAL_SHARE = 1 / 30
#: Poll this much after the estimated completion, so that the poll usually finds it done.
ETA_MARGIN = 1.05


@dataclass
class PollPlanner:
    """
    Decides the wait before each poll of one job.

    :param poll_interval: the longest wait between two polls, in seconds.
    :param expected_done_at: when the job is expected to finish (Unix time), if known.
    """

    poll_interval: float
    expected_done_at: float | None = None
    _sample: tuple[float, float] | None = field(default=None, repr=False)
    _last_delay: float | None = field(default=None, repr=False)

    @property
    def min_interval(self) -> float:
        return self.poll_interval * MIN_INTERVAL_SHARE

    def _bounded(self, delay: float) -> float:
        delay = min(max(delay, self.min_interval), self.poll_interval)
        self._last_delay = delay
        return delay

    def first_delay(self, now: float) -> float:
        """The wait before the first poll: until the expected end of the render, if known."""
        if self.expected_done_at is None:
            return self.min_interval  # whoever deferred has just polled
        return min(max(self.expected_done_at - now, 0.0), self.poll_interval)

    def next_delay(self, now: float, progress: float | None) -> float:
        """
        The wait before the next poll, given the progress the last poll reported.

        :param now: the time of that poll (Unix time).
        :param progress: the job's progress, 0 to 1, or ``None`` when the API gave none.
        """
        previous = self._sample
        if progress is not None and progress > 0:
            if previous is None or progress > previous[1]:
                self._sample = (now, progress)
            if previous is not None and progress > previous[1] and now > previous[0]:
                rate = (progress - previous[1]) / (now - previous[0])
                return self._bounded((1.0 - progress) / rate * ETA_MARGIN)
        moved = previous is None and progress
        if not moved and self._last_delay is not None:
            return self._bounded(self._last_delay * 2)  # nothing new: back off
        if self.expected_done_at is not None and self.expected_done_at > now:
            return self._bounded(self.expected_done_at - now)
        return self._bounded(self.min_interval if self._last_delay is None else self._last_delay * 2)

    def backoff(self) -> float:
        """The wait after a failed poll: twice the last wait, within the bounds."""
        return self._bounded(2 * (self._last_delay or self.min_interval))
