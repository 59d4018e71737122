"""
The account's request budget, shared by every EmpirioLabs call of one process.

EmpirioLabs allows 50 requests per minute per account, shared by all its keys and jobs. A
triggerer waits on hundreds of jobs at once and a worker runs several tasks: left alone, each
would spend the budget as if it were alone and all of them would earn 429s. One budget per
process and account (a sliding 60 s window) keeps the process as a whole under the limit, and a
429 that says ``Retry-After`` pauses every caller, not only the one that got it.

A request holds its place in the window from the moment it is sent until 60 s after its answer
came back: the API counts it somewhere in between, so counting from the answer never lets a
burst that crossed the network slowly overlap the next one in the API's window.

Every wait is bounded in total: a call that has no slot after :data:`MAX_WAIT_SECONDS` (its
queue, pauses and full windows together) fails with :class:`.EmpirioLabsRateLimitError`, unsent.

No library is used: the ones that exist are either async-only or thread-only, and this budget
must serve both a worker's threads and a triggerer's event loop with one count.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRateLimitError

WINDOW_SECONDS = 60.0
#: The longest the whole process is paused by one answer, whatever the server asked for.
MAX_PAUSE_SECONDS = 120.0
#: The longest one call waits for its slot, in all: a pause at its clamp, then two full windows.
MAX_WAIT_SECONDS = 300.0

#: A request's place in the window: the time it leaves the window from (updated by ``done``).
Slot = list[float]


@dataclass
class WaitBound:
    """
    The end of one call's wait for a slot (:data:`MAX_WAIT_SECONDS` from its start, or less).

    :param seconds: the bound's length, for the message.
    :param ends_at: when it ends, on the budget's clock.
    :param clock: the budget's clock.
    """

    seconds: float
    ends_at: float
    clock: Callable[[], float]

    @classmethod
    def starting(cls, clock: Callable[[], float], max_wait: float | None) -> WaitBound:
        seconds = MAX_WAIT_SECONDS if max_wait is None else min(max_wait, MAX_WAIT_SECONDS)
        return cls(seconds, clock() + seconds, clock)

    def left(self) -> float:
        return self.ends_at - self.clock()

    def sleep_for(self, wait: float) -> float:
        """How long to sleep before asking again: ``wait``, cut at the bound; past it, the call fails."""
        left = self.left()
        if left <= 0:
            raise self.spent()
        return min(wait, left)

    def spent(self) -> EmpirioLabsRateLimitError:
        return EmpirioLabsRateLimitError(
            f"the account's request budget gave this request no slot within {self.seconds:g} s (the "
            "account's requests per minute are taken, or it is paused by a 429); nothing was sent"
        )


class RequestBudget:
    """
    A sliding-window budget of requests per minute, paused as a whole by the API's ``Retry-After``.

    :param requests_per_minute: how many requests may start in any 60 s window.
    :param clock: a monotonic clock in seconds (replaceable in tests).
    """

    def __init__(self, requests_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if requests_per_minute < 1:
            raise ValueError(f"requests_per_minute: must be at least 1 (got {requests_per_minute})")
        self.requests_per_minute = requests_per_minute
        self._monotonic = clock
        self._lock = threading.Lock()
        self._started: deque[Slot] = deque()
        self._paused_until = 0.0

    def _reserve(self) -> tuple[float, Slot | None]:
        """Take a slot (and return it with a wait of 0), or return how long to wait before asking again."""
        with self._lock:
            now = self._monotonic()
            while self._started and self._started[0][0] <= now - WINDOW_SECONDS:
                self._started.popleft()
            wait = self._paused_until - now
            if wait <= 0 and len(self._started) >= self.requests_per_minute:
                wait = self._started[0][0] + WINDOW_SECONDS - now
            if wait > 0:
                return wait, None
            slot = [now]
            self._started.append(slot)
            return 0.0, slot

    def acquire(self, max_wait: float | None = None) -> Slot:
        """
        Block the thread until a request may start; pass the slot to :meth:`done` after the answer.

        :param max_wait: the longest to wait in all (at most :data:`MAX_WAIT_SECONDS`, the default);
            then :class:`.EmpirioLabsRateLimitError`, and nothing was sent.
        """
        bound = WaitBound.starting(self._monotonic, max_wait)
        while True:
            wait, slot = self._reserve()
            if slot is not None:
                return slot
            time.sleep(bound.sleep_for(wait))

    async def aacquire(self, max_wait: float | None = None) -> Slot:
        """Wait, without blocking the event loop, until a request may start (bounded as :meth:`acquire`)."""
        bound = WaitBound.starting(self._monotonic, max_wait)
        while True:
            wait, slot = self._reserve()
            if slot is not None:
                return slot
            await asyncio.sleep(bound.sleep_for(wait))

    def done(self, slot: Slot) -> None:
        """The answer came back (or the request failed): the slot's 60 s count from now."""
        with self._lock:
            slot[0] = max(slot[0], self._monotonic())

    def pause(self, seconds: float) -> None:
        """
        Hold every caller for ``seconds`` (the API's ``Retry-After``), at most :data:`MAX_PAUSE_SECONDS`.

        A wait that is not a finite number of seconds above 0 (NaN, infinite, negative) pauses nothing.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            return
        if (isinstance(seconds, float) and not math.isfinite(seconds)) or seconds <= 0:
            return
        seconds = float(seconds) if seconds < MAX_PAUSE_SECONDS else MAX_PAUSE_SECONDS
        with self._lock:
            self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def in_window(self) -> int:
        """Requests started in the last 60 s."""
        with self._lock:
            now = self._monotonic()
            return sum(1 for slot in self._started if slot[0] > now - WINDOW_SECONDS)

    def pause_remaining(self) -> float:
        """
        Seconds left of the pause (0 when none): a caller about to wait anyway (a trigger between
        two polls) can wait this long instead of its interval plus this, or give up early.
        """
        with self._lock:
            return max(self._paused_until - self._monotonic(), 0.0)

    async def apause_remaining(self) -> float:
        """:meth:`pause_remaining` for the event loop (the shared budget asks its backend there)."""
        return self.pause_remaining()


def account_of(base_url: str, api_key: str) -> tuple[str, str]:
    """An account's identity: its base URL and a hash of its key (never the key itself)."""
    return base_url, hashlib.sha256(api_key.encode()).hexdigest()[:16]


_budgets: dict[tuple[str, str], RequestBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(base_url: str, api_key: str, requests_per_minute: int) -> RequestBudget:
    """
    The process's budget for one account (known by its base URL and a hash of its key).

    The latest ``requests_per_minute`` read from the connection wins, so a changed connection
    takes effect without a restart.
    """
    account = account_of(base_url, api_key)
    with _budgets_lock:
        budget = _budgets.get(account)
        if budget is None:
            budget = _budgets[account] = RequestBudget(requests_per_minute)
        else:
            budget.requests_per_minute = requests_per_minute
        return budget
