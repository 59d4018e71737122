"""
The one retry policy of the provider: what may be sent again, and how long to wait before.

Reads (GETs) are repeated on network trouble, 429 and 5xx. The POST that creates a job is billed
as soon as the API accepts it, so it is repeated only when it provably did not get in.
"""

from __future__ import annotations

from typing import Any

import httpx
import tenacity

from airflow_provider_empiriolabs.exceptions import EmpirioLabsError, EmpirioLabsRateLimitError, EmpirioLabsServerError
from airflow_provider_empiriolabs.hooks._responses import MAX_RETRY_WAIT_SECONDS, EmpirioLabsNotSentError, clamp_wait


class wait_retry_after(tenacity.wait.wait_base):
    """
    Wait as long as the API's ``Retry-After`` asked, else fall back to exponential backoff with jitter.

    :param fallback: the wait used when the API said nothing.
    :param cap: never wait longer than this many seconds for one retry.
    """

    def __init__(self, fallback: tenacity.wait.wait_base, cap: float = MAX_RETRY_WAIT_SECONDS) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        asked = clamp_wait(error.retry_after, self.cap) if isinstance(error, EmpirioLabsError) else None
        if asked is not None:
            return asked
        return clamp_wait(self.fallback(retry_state), self.cap) or 0.0


def is_transient(error: BaseException) -> bool:
    """Whether a read (GET) may simply be repeated: network trouble, a deadline, 429, 5xx or an unreadable answer."""
    return isinstance(error, (httpx.TransportError, EmpirioLabsRateLimitError, EmpirioLabsServerError))


def was_not_accepted(error: BaseException) -> bool:
    """
    Whether a job submission provably did not get in, so that sending it again cannot bill twice.

    True only when no connection was made (refused, DNS, connect timeout, no free pooled
    connection: :class:`EmpirioLabsNotSentError`) or the API answered 429 or 503 before accepting
    anything. A read timeout, a deadline or a 500 leaves the outcome unknown: never retried.
    """
    if isinstance(error, (EmpirioLabsNotSentError, httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return True
    if isinstance(error, EmpirioLabsRateLimitError):
        return True
    # A bare 503 may be a proxy's (Envoy: "reset before headers") after the origin created the job:
    # only the API's own 503 (its error envelope, or a Retry-After) proves nothing got in.
    return (
        isinstance(error, EmpirioLabsServerError)
        and error.status_code == 503
        and (error.code is not None or error.retry_after is not None)
    )


def retry_policy(*, creates_job: bool, max_attempts: int, log: Any) -> dict[str, Any]:
    """
    Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: the provider's retry policy.

    :param creates_job: the call is the billed POST (see :func:`was_not_accepted`).
    :param max_attempts: attempts in all, the first included.
    :param log: where to say that a retry is coming, and why.
    """

    def say_why(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "EmpirioLabs request failed (%s); retrying in %.1f s (attempt %d of %d)",
            error,
            wait,
            state.attempt_number + 1,
            max_attempts,
        )

    return {
        "retry": tenacity.retry_if_exception(was_not_accepted if creates_job else is_transient),
        "wait": wait_retry_after(tenacity.wait_exponential_jitter(initial=1, max=60, jitter=1)),
        "stop": tenacity.stop_after_attempt(max_attempts),
        "before_sleep": say_why,
        "reraise": True,
    }
