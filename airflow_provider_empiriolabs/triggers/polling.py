"""
When to poll a job next, from what the API has said about it so far.

Polls are not free: the account's 50 requests per minute are shared by every job. A fixed 5 s
poll spends ten requests on a 50 s render; a fixed 60 s poll leaves a finished video waiting up
to a minute. This planner polls a little before the expected end of the render (renders vary:
polling at the expected end would find every faster job long finished), reads the progress again
shortly after, estimates the completion time from the two readings and polls near it, backing off
while nothing moves. ``poll_interval`` stays the user's bound: never more than that between two
polls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The shortest wait between polls, as a share of ``poll_interval`` (60 s -> 2 s).
MIN_INTERVAL_SHARE = 1 / 30
#: Poll this much after the estimated completion, so that the poll usually finds it done.
ETA_MARGIN = 1.05
#: The first poll comes after this share of the expected render time left: early enough to find a
#: job that renders faster than expected still running, so that its progress can time the rest.
FIRST_POLL_SHARE = 0.75
#: After a first progress reading, read again after this share of the expected time left (at least
#: the minimum interval): two readings give the render's rate, hence its end.
SECOND_POLL_SHARE = 0.25


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
        """The wait before the first poll: most of the expected render time left, if known."""
        if self.expected_done_at is None:
            return self.min_interval  # whoever deferred has just polled
        return min(max((self.expected_done_at - now) * FIRST_POLL_SHARE, 0.0), self.poll_interval)

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
            if previous is None and self.expected_done_at is not None:
                # One reading gives no rate: read again soon rather than at the expected end.
                return self._bounded(max(self.expected_done_at - now, 0.0) * SECOND_POLL_SHARE)
        moved = previous is None and progress
        if not moved and self._last_delay is not None:
            return self._bounded(self._last_delay * 2)  # nothing new: back off
        if self.expected_done_at is not None and self.expected_done_at > now:
            return self._bounded(self.expected_done_at - now)
        return self._bounded(self.min_interval if self._last_delay is None else self._last_delay * 2)

    def backoff(self) -> float:
        """The wait after a failed poll: twice the last wait, within the bounds."""
        return self._bounded(2 * (self._last_delay or self.min_interval))
