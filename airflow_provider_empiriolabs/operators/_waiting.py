"""
What the video operator says and computes around its waits, on the worker.

* an account's rate limit is waited out in the triggerer for a bounded time, the try starting
  over after it (:class:`WaitsOutRateLimits`, :func:`rate_limit_deferral`);
* a new job is waited on from its POST's acceptance, without a GET first (:func:`accepted_job`);
* a task that does not defer polls here until the job ends or ``timeout`` passes, a new job's
  first 404 being the API not knowing it yet (:func:`wait_here`);
* the expected end of the render (:func:`expected_done_at`) times the polls, and is logged
  before the task goes quiet in the triggerer (:func:`log_eta`), and the end with its cost
  (:func:`log_finished`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowException

from airflow_provider_empiriolabs._outcome import not_found_yet
from airflow_provider_empiriolabs.exceptions import EmpirioLabsNotFoundError, EmpirioLabsRateLimitError
from airflow_provider_empiriolabs.models import Job, JobStatus

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import VideoRequest
    from airflow_provider_empiriolabs.triggers.polling import PollPlanner

__all__ = [
    "MAX_RATE_LIMIT_DEFERRAL_SECONDS",
    "WaitsOutRateLimits",
    "accepted_job",
    "expected_done_at",
    "log_eta",
    "log_finished",
    "rate_limit_deferral",
    "wait_here",
]

#: The longest a deferrable task waits out the account's rate limit in the triggerer before sending again.
MAX_RATE_LIMIT_DEFERRAL_SECONDS = 300.0


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


class WaitsOutRateLimits:
    """
    What the generate operators share when the account's rate limit refuses their POST: a deferrable
    one waits it out in the triggerer (:func:`rate_limit_deferral`), then its try starts over, its
    job records keeping what was already paid; otherwise the error fails the try.

    The operator sets ``_rate_limited_since`` when it is built (a deferral carries it on).
    """

    _rate_limited_since: float

    def wait_out_rate_limit(self, error: EmpirioLabsRateLimitError) -> NoReturn:
        """Defer until the rate limit should have lifted, resuming in :meth:`execute_after_rate_limit`; or raise."""
        operator: Any = self
        since = self._rate_limited_since
        wait = rate_limit_deferral(
            error, operator.log, since=since, timeout=operator.timeout, deferrable=operator.deferrable
        )
        if wait is None:
            raise error
        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger  # only when rate limited

        operator.defer(
            trigger=TimeDeltaTrigger(timedelta(seconds=wait)),
            method_name="execute_after_rate_limit",
            kwargs={"rate_limited_since": since},
        )
        raise AssertionError("defer() returned")  # it raises TaskDeferred

    def execute_after_rate_limit(
        self, context: Context, event: Any = None, rate_limited_since: float | None = None
    ) -> Any:
        """Resume after waiting out the account's rate limit in the triggerer: the try starts over."""
        if rate_limited_since is not None:
            self._rate_limited_since = rate_limited_since
        operator: Any = self
        return operator.execute(context)


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
    made = (
        f"{summary['video_seconds']} s of video"
        if "video_seconds" in summary
        else f"{summary.get('image_count')} image(s)"
    )
    log.info(
        "EmpirioLabs job %s %s: %d output(s), %s, cost %s",
        job.job_id,
        job.raw_status,
        len(job.output_urls),
        made,
        "unknown" if summary["cost_usd"] is None else f"${summary['cost_usd']:.2f}",
    )
