"""
The hook's retries as tenacity runs them: how long to wait, how often, what to log.

What may be sent again is the provider's outcome policy's to decide
(:func:`airflow_provider_empiriolabs._outcome.retry_request`: reads on transient trouble, the
billed POST only when it provably did not get in); this module applies it to the hook's calls.
"""

from __future__ import annotations

from typing import Any

import tenacity

from airflow_provider_empiriolabs._outcome import retry_request
from airflow_provider_empiriolabs.exceptions import EmpirioLabsError
from airflow_provider_empiriolabs.hooks._responses import MAX_RETRY_WAIT_SECONDS, clamp_wait


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


def retry_policy(*, creates_job: bool, max_attempts: int, log: Any) -> dict[str, Any]:
    """
    Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: the provider's retry policy.

    :param creates_job: the call is the billed POST (see :func:`._outcome.retry_request`).
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
        "retry": tenacity.retry_if_exception(lambda error: retry_request(error, creates_job=creates_job)),
        "wait": wait_retry_after(tenacity.wait_exponential_jitter(initial=1, max=60, jitter=1)),
        "stop": tenacity.stop_after_attempt(max_attempts),
        "before_sleep": say_why,
        "reraise": True,
    }
