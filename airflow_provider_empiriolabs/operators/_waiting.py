"""
What the video operator says and computes around its waits, on the worker.

* the estimate is logged right before each POST really leaves (:class:`Announced`), never for a
  request that was not sent;
* an account's rate limit is waited out in the triggerer for a bounded time
  (:func:`rate_limit_deferral`);
* a new job is waited on from its POST's acceptance, without a GET first (:func:`accepted_job`);
* a task that does not defer polls here until the job ends or ``timeout`` passes, a new job's
  first 404 being the API not knowing it yet (:func:`wait_here`);
* the expected end of the render (:func:`expected_done_at`) times the polls, and is logged
  before the task goes quiet in the triggerer (:func:`log_eta`), and the end with its cost
  (:func:`log_finished`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_empiriolabs._outcome import not_found_yet
from airflow_provider_empiriolabs.exceptions import EmpirioLabsNotFoundError, EmpirioLabsRateLimitError
from airflow_provider_empiriolabs.models import Job, JobStatus
from airflow_provider_empiriolabs.models.pricing import DEFAULT_RESOLUTION

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import VideoRequest
    from airflow_provider_empiriolabs.operators._job_record import Ledger
    from airflow_provider_empiriolabs.triggers.polling import PollPlanner

__all__ = [
    "MAX_RATE_LIMIT_DEFERRAL_SECONDS",
    "Announced",
    "accepted_job",
    "expected_done_at",
    "log_eta",
    "log_finished",
    "rate_limit_deferral",
    "wait_here",
]

#: The longest a deferrable task waits out the account's rate limit in the triggerer before sending again.
MAX_RATE_LIMIT_DEFERRAL_SECONDS = 300.0


class Announced:
    """
    The job record's send guard, logging the estimate right before each POST really leaves.

    A try that fails earlier (no connection, a file that will not upload, the rate limit) sends
    nothing and so logs no cost: the log says "Sending ... estimated $X" only for requests sent.

    :param guard: the job record, which records "sending" before each attempt.
    :param log: the task's logger.
    :param request: the request about to be sent (file images already uploaded).
    :param conn_id: the account's connection, named in the log line.
    """

    def __init__(self, guard: Ledger, log: Any, request: VideoRequest, conn_id: str) -> None:
        self._guard = guard
        self._log = log
        self._request = request
        self._conn_id = conn_id
        estimate = request.estimated_cost_usd()
        unpriced = request.unpriced_fields()
        self._estimate = (
            f"${estimate:.2f}"
            if estimate is not None
            else f"cost unknown ({', '.join(unpriced)} not priced)"
            if unpriced
            else "cost unknown (no price for this model)"
        )

    def submitting(self) -> None:
        """Say what is about to be submitted (files not uploaded yet); the cost is said on sending."""
        self._log.info(
            "Submitting %s, %s, %g s of video",
            self._request.model,
            self._request.resolution or DEFAULT_RESOLUTION,
            self._request.billed_seconds,
        )

    def sending(self) -> None:
        self._guard.sending()  # raises, and nothing is sent, when the record cannot be written
        self._log.info(
            "Sending %s, %s, %g s of video to EmpirioLabs (connection %r): estimated %s",
            self._request.model,
            self._request.resolution or DEFAULT_RESOLUTION,
            self._request.billed_seconds,
            self._conn_id,
            self._estimate,
        )

    def not_sent(self) -> None:
        self._guard.not_sent()


def rate_limit_deferral(
    error: EmpirioLabsRateLimitError, log: Any, *, since: float, timeout: float, deferrable: bool
) -> float | None:
    """
    Seconds to wait out the account's rate limit in the triggerer, or ``None`` to fail this try.

    The account's budget is spent for a while: a deferrable task waits for it in the triggerer, not
    in a worker slot, for at most ``timeout`` in all (a quota that never lifts fails the task).

    :param error: the rate limit answer, with its ``Retry-After`` when the API sent one.
    :param log: the task's logger, told how long the wait is.
    :param since: when this try was first rate limited (carried across deferrals).
    :param timeout: the operator's timeout, in seconds.
    :param deferrable: whether the operator may defer at all.
    """
    if not deferrable or time.time() >= since + timeout:
        return None
    wait = min(max(error.retry_after or 60.0, 1.0), MAX_RATE_LIMIT_DEFERRAL_SECONDS)
    log.warning("EmpirioLabs is rate limiting the account (%s): nothing was sent; trying again in %.0f s", error, wait)
    return wait


def accepted_job(job_id: str, accepted_at: float) -> Job:
    """
    The new job as its POST's acceptance tells it: no GET is spent before the first planned poll.

    The POST answers with the job id only; the job was created before its answer arrived, so the
    acceptance time stands for ``created_at`` (the first poll reads the API's own).

    :param job_id: the job just accepted.
    :param accepted_at: when the API accepted it (epoch seconds).
    """
    created = datetime.fromtimestamp(accepted_at, tz=UTC)
    return Job(job_id=job_id, status=JobStatus.RUNNING, raw_status="accepted", created_at=created)


def wait_here(
    hook: EmpirioLabsHook,
    job: Job,
    planner: PollPlanner,
    end_time: float,
    timeout: float,
    log: Any,
    *,
    accepted_at: float | None = None,
) -> Job:
    """
    Poll the job on the worker until it ends, timed by ``planner``; its last state.

    :param hook: the account's hook.
    :param job: the job as last polled, or as its acceptance told it (``accepted_at`` given).
    :param planner: times the polls from the expected render time and the reported progress.
    :param end_time: when waiting gives up (epoch seconds).
    :param timeout: the operator's timeout, for the error message.
    :param log: the task's logger.
    :param accepted_at: when the API accepted the job, if this try submitted it: nothing was polled
        yet (the first wait is the planner's first), and until
        :data:`~airflow_provider_empiriolabs._outcome.NOT_FOUND_GRACE_SECONDS` after it a 404 is
        the API not knowing its new job yet.
    """
    job_id = job.job_id
    wait = planner.first_delay(time.time()) if accepted_at is not None else None
    while not job.status.is_terminal():
        if time.time() >= end_time:
            raise AirflowException(f"timed out after {timeout:g} s waiting for EmpirioLabs job {job_id}")
        log.info("EmpirioLabs job %s: %s", job_id, job.state_text)
        if wait is None:
            wait = planner.delay_after(job, time.time())
        time.sleep(min(wait, max(end_time - time.time(), 0)))
        wait = None
        try:
            job = hook.get_job(job_id)
        except EmpirioLabsNotFoundError:
            if not not_found_yet(accepted_at):
                raise
            log.info("EmpirioLabs job %s: not known yet; polling again", job_id)
            wait = planner.backoff()
    return job


def expected_done_at(job: Job, request: VideoRequest) -> float:
    """
    When the render should end: from the job's creation time if the API's clock is sane, else now.

    :param job: the job as last polled.
    :param request: its request, whose expected render time is added.
    """
    now = time.time()
    created = job.created_at.timestamp() if job.created_at else now
    started = created if now - 3600 <= created <= now else now
    return started + request.expected_render_seconds()


def log_eta(log: Any, job: Job, done_at: float, end_time: float, poll_interval: float) -> None:
    """
    Say, before going quiet in the triggerer, when the video should be ready and when waiting ends.

    :param log: the task's logger.
    :param job: the job as last polled.
    :param done_at: when the render should end (:func:`expected_done_at`).
    :param end_time: when waiting gives up (epoch seconds).
    :param poll_interval: the longest wait between two polls.
    """
    now = time.time()
    eta = max(done_at - now, 0.0)
    log.info(
        "EmpirioLabs job %s (%s): waiting in the triggerer; expected ready in about %.0f s (%s UTC), "
        "polling at most every %g s, giving up after %.0f s (%s UTC)",
        job.job_id,
        job.state_text,
        eta,
        time.strftime("%H:%M:%S", time.gmtime(now + eta)),
        poll_interval,
        max(end_time - now, 0.0),
        time.strftime("%H:%M:%S", time.gmtime(end_time)),
    )


def log_finished(log: Any, job: Job, summary: dict[str, Any]) -> None:
    """
    Say how the job ended: its outputs, seconds of video and cost.

    :param log: the task's logger.
    :param job: the finished job.
    :param summary: its summary, as returned by the task.
    """
    log.info(
        "EmpirioLabs job %s %s: %d output(s), %s s of video, cost %s",
        job.job_id,
        job.raw_status,
        len(job.output_urls),
        summary["video_seconds"],
        "unknown" if summary["cost_usd"] is None else f"${summary['cost_usd']:.2f}",
    )
