"""
The one outcome and retry policy of the provider: can this cost twice, can retrying help, is it transient.

Every path (the hook's HTTP retries, the trigger's poll loop, the generate operator on a worker or
resumed from the triggerer, the sensor in all its modes, the transfer) asks this module, so they
all fail fast on the same errors and retry the same ones:

- :func:`error_class` says which error an HTTP status becomes, beside :data:`TRANSIENT_STATUSES`.
- :func:`kind_of` names what an error means (:class:`ErrorKind`); the kind travels in trigger
  events (:mod:`.triggers._events`), so a resumed task decides as the worker would have.
- :data:`FINAL_KINDS` are the kinds a task retry cannot fix; :func:`task_outcome` (an error) and
  :func:`task_failure` (a kind) turn them into ``AirflowFailException`` (fail without retries).
- :func:`retry_request` says whether one HTTP request may be sent again: a read on transient
  trouble, the billed POST only when :func:`provably_not_sent`.
- :func:`judge_job` says what a job's own state means (running, done, failed and resubmittable...).

It decides and does no I/O: the hook, the trigger, the operators and the transfer apply it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from enum import Enum, StrEnum
from typing import Literal

import httpx
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAnswerTooLargeError,
    EmpirioLabsAuthenticationError,
    EmpirioLabsConnectionNotFoundError,
    EmpirioLabsDeadlineError,
    EmpirioLabsDestinationConflictError,
    EmpirioLabsDownloadError,
    EmpirioLabsDownloadTimeoutError,
    EmpirioLabsError,
    EmpirioLabsInsufficientCreditsError,
    EmpirioLabsNotFoundError,
    EmpirioLabsNotSentError,
    EmpirioLabsOutputExpiredError,
    EmpirioLabsOutputTooLargeError,
    EmpirioLabsRateLimitError,
    EmpirioLabsRequestError,
    EmpirioLabsServerError,
    EmpirioLabsSubmissionUnknownError,
    EmpirioLabsTransferError,
    EmpirioLabsTransportError,
    EmpirioLabsUnexpectedContentTypeError,
    EmpirioLabsUnrecognizedContainerError,
    EmpirioLabsUnsafeUrlError,
    EmpirioLabsUnsupportedEncodingError,
    EmpirioLabsValidationError,
)
from airflow_provider_empiriolabs.models.jobs import TRANSIENT_JOB_ERROR_CODES, Job, JobStatus

__all__ = [
    "EXPIRED_URL_STATUSES",
    "FINAL_KINDS",
    "KIND_BY_CLASS",
    "NOT_FOUND_GRACE_SECONDS",
    "TRANSIENT_STATUSES",
    "ErrorKind",
    "JobVerdict",
    "download_step",
    "error_class",
    "judge_job",
    "kind_of",
    "may_have_been_accepted",
    "never_left",
    "not_found_yet",
    "provably_not_sent",
    "raise_for_failed_job",
    "retry_request",
    "task_failure",
    "task_outcome",
    "task_retry_helps",
]


class ErrorKind(StrEnum):
    """What an error means for whoever decides what to do next (values travel in trigger events: never rename one)."""

    TRANSIENT = "transient"  # 408, 425, 429, 5xx, network, a deadline, an unreadable or oversized answer
    NOT_FOUND = "not_found"  # 404 (past the new-job grace): the job is unknown or past retention
    AUTH = "auth"  # 401/403, a missing or malformed key
    CREDITS = "credits"  # 402
    INVALID = "invalid"  # 400/409/422, or refused locally before sending
    SUBMISSION_UNKNOWN = "submission_unknown"  # the billed POST may have been accepted: never resent
    OUTPUT_GONE = "output_gone"  # an output URL is dead and no fresh one can be had
    OUTPUT_REFUSED = "output_refused"  # an output that may not be stored (unsafe, too large, not a video...)
    OTHER = "other"  # anything else (3xx, an interrupted download, storage trouble): a task retry may help


#: The kinds a task retry cannot fix: the task fails without retries (``AirflowFailException``).
FINAL_KINDS = frozenset(
    {
        ErrorKind.NOT_FOUND,
        ErrorKind.AUTH,
        ErrorKind.CREDITS,
        ErrorKind.INVALID,
        ErrorKind.SUBMISSION_UNKNOWN,
        ErrorKind.OUTPUT_GONE,
        ErrorKind.OUTPUT_REFUSED,
    }
)

#: HTTP statuses worth the same request again, after a wait: for the API's answers and output downloads alike.
TRANSIENT_STATUSES = frozenset({408, 425, 429, *range(500, 600)})
#: HTTP statuses of a dead signed output URL: the job may hold a fresh one.
EXPIRED_URL_STATUSES = frozenset({403, 404, 410})

#: The error of each HTTP status that says what was wrong with the request (or the account)...
_FINAL_ERRORS_BY_STATUS: dict[int, type[EmpirioLabsError]] = {
    400: EmpirioLabsValidationError,
    401: EmpirioLabsAuthenticationError,
    402: EmpirioLabsInsufficientCreditsError,
    403: EmpirioLabsAuthenticationError,
    404: EmpirioLabsNotFoundError,
    409: EmpirioLabsValidationError,
    422: EmpirioLabsValidationError,
}
#: ...and of each status worth a retry that has its own (any other is the API's trouble: a server error).
_TRANSIENT_ERRORS_BY_STATUS: dict[int, type[EmpirioLabsError]] = {429: EmpirioLabsRateLimitError}

#: How long after the API accepted a job a 404 for it means "not known yet" rather than "gone".
NOT_FOUND_GRACE_SECONDS = 60.0

# One entry per exception class, most specific first (the first match wins).
_KINDS: tuple[tuple[type[BaseException], ErrorKind], ...] = (
    (EmpirioLabsSubmissionUnknownError, ErrorKind.SUBMISSION_UNKNOWN),
    (EmpirioLabsRequestError, ErrorKind.INVALID),
    (EmpirioLabsValidationError, ErrorKind.INVALID),
    (EmpirioLabsConnectionNotFoundError, ErrorKind.AUTH),  # nothing sent; no retry helps until it is added
    (EmpirioLabsAuthenticationError, ErrorKind.AUTH),
    (EmpirioLabsInsufficientCreditsError, ErrorKind.CREDITS),
    (EmpirioLabsNotFoundError, ErrorKind.NOT_FOUND),
    (EmpirioLabsRateLimitError, ErrorKind.TRANSIENT),
    (EmpirioLabsNotSentError, ErrorKind.TRANSIENT),
    (EmpirioLabsDeadlineError, ErrorKind.TRANSIENT),
    (EmpirioLabsTransportError, ErrorKind.TRANSIENT),
    (EmpirioLabsAnswerTooLargeError, ErrorKind.TRANSIENT),
    (EmpirioLabsServerError, ErrorKind.TRANSIENT),
    (httpx.TransportError, ErrorKind.TRANSIENT),
    (EmpirioLabsOutputExpiredError, ErrorKind.OUTPUT_GONE),
    (EmpirioLabsUnsafeUrlError, ErrorKind.OUTPUT_REFUSED),
    (EmpirioLabsOutputTooLargeError, ErrorKind.OUTPUT_REFUSED),
    (EmpirioLabsUnrecognizedContainerError, ErrorKind.OUTPUT_REFUSED),
    (EmpirioLabsUnexpectedContentTypeError, ErrorKind.OUTPUT_REFUSED),
    (EmpirioLabsUnsupportedEncodingError, ErrorKind.OUTPUT_REFUSED),
    (EmpirioLabsDestinationConflictError, ErrorKind.OUTPUT_REFUSED),
    (EmpirioLabsDownloadTimeoutError, ErrorKind.OTHER),
    (EmpirioLabsDownloadError, ErrorKind.OTHER),
    (EmpirioLabsTransferError, ErrorKind.OTHER),
    (EmpirioLabsError, ErrorKind.OTHER),
)

#: The kinds as a map, for the test that every exception class has one (see :func:`kind_of`).
KIND_BY_CLASS: dict[type[BaseException], ErrorKind] = dict(_KINDS)


def error_class(status: int) -> type[EmpirioLabsError]:
    """
    The error an API answer with ``status`` (not 2xx) becomes: its kind follows (see :func:`kind_of`).

    A status in :data:`TRANSIENT_STATUSES` is transient whatever else it may mean, so adding one
    there retries it on every path: the API's calls (through this class) and downloads (through
    :func:`download_step`).

    :param status: the answer's HTTP status.
    """
    if status in TRANSIENT_STATUSES:
        return _TRANSIENT_ERRORS_BY_STATUS.get(status, EmpirioLabsServerError)
    return _FINAL_ERRORS_BY_STATUS.get(status, EmpirioLabsError)


def kind_of(error: BaseException) -> ErrorKind:
    """
    What ``error`` means: the one classification every path uses.

    :param error: whatever a call raised; anything the provider does not name is :attr:`ErrorKind.OTHER`.
    """
    for cls, kind in _KINDS:
        if isinstance(error, cls):
            return kind
    return ErrorKind.OTHER


def task_retry_helps(error: BaseException) -> bool:
    """Whether running the task again may succeed where this try failed with ``error``."""
    return kind_of(error) not in FINAL_KINDS


def task_failure(kind: str | None, message: str) -> AirflowException:
    """
    The failure a task raises for an error of ``kind``: without retries when no retry can fix it.

    :param kind: an :class:`ErrorKind` value (as a trigger event carries it); an unknown or missing
        one (an event of a provider version without kinds) is :attr:`ErrorKind.OTHER`: retried.
    :param message: the failure's message.
    """
    try:
        known = ErrorKind(str(kind))
    except ValueError:
        known = ErrorKind.OTHER
    return (AirflowFailException if known in FINAL_KINDS else AirflowException)(message)


@contextlib.contextmanager
def task_outcome() -> Iterator[None]:
    """
    Run a task's body: an error of a final kind fails the task without retries, the rest are raised as they are.

    The message is the error's own (the hook already keeps the key out of it); the error stays
    attached as the cause, so its class (and traceback) still says what failed.
    """
    try:
        yield
    except AirflowException:
        raise
    except Exception as error:
        if task_retry_helps(error):
            raise
        raise AirflowFailException(str(error)) from error


# -- one HTTP request ----------------------------------------------------------------------------

#: Failures of httpx that prove a request never left: no connection, or a URL that cannot be sent to.
_NEVER_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def never_left(error: BaseException) -> bool:
    """Whether an httpx failure proves the request never reached the server (the hook then names it "not sent")."""
    return isinstance(error, _NEVER_LEFT)


def provably_not_sent(error: BaseException) -> bool:
    """
    Whether a job submission provably did not get in, so that sending it again cannot bill twice.

    True only when no connection was made (:class:`EmpirioLabsNotSentError`, or the httpx
    failure it names), or the API answered 429, or its own 503 (its error envelope, or a
    ``Retry-After``): a bare 503 may be a proxy's after the origin created the job. A read
    timeout, a deadline or a 500 leaves the outcome unknown.

    :param error: what the attempt raised.
    """
    if isinstance(error, EmpirioLabsNotSentError) or never_left(error):
        return True
    if isinstance(error, EmpirioLabsRateLimitError):
        return True
    return (
        isinstance(error, EmpirioLabsServerError)
        and error.status_code == 503
        and (error.code is not None or error.retry_after is not None)
    )


def retry_request(error: BaseException, *, creates_job: bool) -> bool:
    """
    Whether one API request may be sent again after ``error`` (the hook's tenacity predicate).

    :param error: what the attempt raised.
    :param creates_job: the request is the billed POST: repeated only when :func:`provably_not_sent`.
    """
    if creates_job:
        return provably_not_sent(error)
    return kind_of(error) is ErrorKind.TRANSIENT


def may_have_been_accepted(error: BaseException) -> bool:
    """
    Whether a failed job submission may have created (and billed) a job.

    Not when it provably did not get in, nor when the API rejected it with a 4xx (it answered, and
    said no). Anything else after the request may have been sent leaves the outcome unknown.

    :param error: the submission's failure, named by the hook.
    """
    status = getattr(error, "status_code", None)
    rejected = isinstance(status, int) and 400 <= status < 500
    return not (rejected or provably_not_sent(error))


def download_step(status: int) -> Literal["ok", "refresh", "retry", "final"]:
    """
    What an output download does after an answer with ``status``.

    :param status: the HTTP status of the output URL's answer.
    :returns: ``ok`` (read the body), ``refresh`` (the signed URL is dead: ask the job for a fresh
        one), ``retry`` (the same URL again, after a wait) or ``final`` (give up).
    """
    if status in (200, 206):
        return "ok"
    if status in EXPIRED_URL_STATUSES:
        return "refresh"
    if status in TRANSIENT_STATUSES:
        return "retry"
    return "final"


def not_found_yet(accepted_at: float | None, now: float | None = None) -> bool:
    """
    Whether a 404 for a job may be the API not knowing its new job yet (so: poll again).

    :param accepted_at: when the API accepted the job (Unix time); ``None`` when unknown.
    :param now: the current Unix time (for tests).
    """
    if accepted_at is None:
        return False
    return (time.time() if now is None else now) - accepted_at < NOT_FOUND_GRACE_SECONDS


# -- a job's own state ---------------------------------------------------------------------------


class JobVerdict(Enum):
    """What a job's state means for the task waiting on it."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    RESUBMIT = "resubmit"  # failed by the service and the API said it was not billed: a new job may be sent
    BILLING_UNKNOWN = "billing_unknown"  # failed by the service, billing unknown: never resubmitted
    FINAL = "final"  # failed by the request (content policy, validation, credits): a new job fails the same


def judge_job(job: Job) -> JobVerdict:
    """
    The one reading of a job's state (the trigger's events, the sensor, and a reattaching operator use it).

    :param job: the job as the API reported it.
    """
    if not job.status.is_terminal():
        return JobVerdict.RUNNING
    if job.status.is_success():
        return JobVerdict.SUCCEEDED
    error = job.error
    if error is not None and error.is_transient():
        return JobVerdict.RESUBMIT
    if error is not None and error.code in TRANSIENT_JOB_ERROR_CODES and error.billed is None:
        return JobVerdict.BILLING_UNKNOWN
    return JobVerdict.FINAL


def raise_for_failed_job(job: Job) -> None:
    """
    Raise for a job that failed: without retries when a new job would fail the same way or could pay twice.

    :param job: the job as the API reported it; nothing happens unless it failed.
    """
    if job.status is not JobStatus.FAILED:
        return
    error = job.error
    text = f"EmpirioLabs job {job.job_id} {job.raw_status}" + (
        f": {error.code + ': ' if error.code else ''}{error.message}" if error else ""
    )
    verdict = judge_job(job)
    if verdict is JobVerdict.RESUBMIT:
        raise AirflowException(text + " (transient, and the API said it was not billed: a retry submits a new job)")
    if verdict is JobVerdict.BILLING_UNKNOWN:
        raise AirflowFailException(
            text + " (a service failure, but the API did not say whether it was billed: no new job is submitted, "
            "that could pay twice; check the account's usage, then clear the task with regenerate=True)"
        )
    raise AirflowFailException(text)
