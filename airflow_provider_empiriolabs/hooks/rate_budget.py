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

WINDOW_SECONDS = 60.0
#: The longest the whole process is paused by one answer, whatever the server asked for.
MAX_PAUSE_SECONDS = 120.0

#: A request's place in the window: the time it leaves the window from (updated by ``done``).
Slot = list[float]


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

    def acquire(self) -> Slot:
        """Block the thread until a request may start; pass the slot to :meth:`done` after the answer."""
        while True:
            wait, slot = self._reserve()
            if slot is not None:
                return slot
            time.sleep(wait)

    async def aacquire(self) -> Slot:
        """Wait, without blocking the event loop, until a request may start."""
        while True:
            wait, slot = self._reserve()
            if slot is not None:
                return slot
            await asyncio.sleep(wait)

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
