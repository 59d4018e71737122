"""
The trigger that waits for an EmpirioLabs job in the triggerer, holding no worker slot.

It only reads (never submits: a trigger can be rebuilt and re-run after a triggerer restart), its
kwargs carry no secret and an absolute deadline, so a restart neither duplicates a job nor extends
the wait. Its events are built and read back in :mod:`._events` (shared by the operator and the
sensor); an error's kind travels in them, so both treat every outcome as a worker would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_empiriolabs._outcome import ErrorKind, kind_of, not_found_yet
from airflow_provider_empiriolabs.exceptions import EmpirioLabsError
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.triggers._events import error_event, job_event, timeout_event
from airflow_provider_empiriolabs.triggers.polling import PollPlanner, RenderKey

__all__ = ["EmpirioLabsJobTrigger"]


class EmpirioLabsJobTrigger(BaseTrigger):
    """
    Poll one job until it is terminal or the deadline passes, then fire one event.

    Polls are timed by :class:`~.polling.PollPlanner` (from the job's age and progress and the render
    times this process has seen). Transient trouble (429, 5xx, network) keeps it polling until the deadline,
    waiting as long as the API's ``Retry-After`` asks; anything else ends it with an ``error`` event.

    :param job_id: the job to wait for.
    :param empiriolabs_conn_id: the Airflow connection of the account.
    :param poll_interval: the longest wait between two polls, in seconds.
    :param end_time: the deadline as a Unix timestamp (absolute, so a restarted trigger keeps it).
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook` (for instance ``timeout``).
    :param expected_done_at: when the job is expected to finish (Unix time), to time the first poll.
    :param accepted_at: when the API accepted the job (Unix time): until
        :data:`~airflow_provider_empiriolabs._outcome.NOT_FOUND_GRACE_SECONDS` after it, a 404 is the
        API not knowing its new job yet.
    :param render_key: the job's kind (``model``, ``resolution``, ``duration``): render times are
        learned per kind, in this process, by every trigger and worker poll loop.
    :param expected_seconds: the guessed total time of the job, the prior the learned times replace.
    """

    def __init__(
        self,
        job_id: str,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        poll_interval: float = 15.0,
        end_time: float | None = None,
        hook_params: dict[str, Any] | None = None,
        expected_done_at: float | None = None,
        accepted_at: float | None = None,
        render_key: dict[str, Any] | None = None,
        expected_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.poll_interval = poll_interval
        self.end_time = end_time
        self.hook_params = hook_params or {}
        self.expected_done_at = expected_done_at
        self.accepted_at = accepted_at
        self.render_key = render_key
        self.expected_seconds = expected_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "empiriolabs_conn_id": self.empiriolabs_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "hook_params": self.hook_params,
                "expected_done_at": self.expected_done_at,
                "accepted_at": self.accepted_at,
                "render_key": self.render_key,
                "expected_seconds": self.expected_seconds,
            },
        )

    def _seconds_left(self) -> float:
        return float("inf") if self.end_time is None else self.end_time - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # One attempt per poll: this loop is the retry (it knows the deadline; the hook does not).
        # The user's max_attempts is for the worker's calls: inside a poll, the hook's own retries would
        # sleep past the deadline this loop enforces, so here it is always 1.
        hook = EmpirioLabsHook(self.empiriolabs_conn_id, **{**self.hook_params, "max_attempts": 1})
        planner = PollPlanner(
            self.poll_interval,
            self.expected_done_at,
            key=RenderKey.from_kwargs(self.render_key),
            expected_seconds=self.expected_seconds,
        )
        wait = planner.first_delay(time.time())
        try:
            while True:
                await asyncio.sleep(max(min(wait, self._seconds_left()), 0.0))
                if self._seconds_left() <= 0:
                    yield TriggerEvent(timeout_event(self.job_id))
                    return
                try:
                    # The deadline holds while a poll is in flight too: a server that drips its
                    # answer cannot hold the trigger past end_time.
                    job = await asyncio.wait_for(hook.aget_job(self.job_id), timeout=max(self._seconds_left(), 0.001))
                except TimeoutError:
                    yield TriggerEvent(timeout_event(self.job_id))
                    return
                except (EmpirioLabsError, httpx.TransportError) as error:
                    kind = kind_of(error)
                    if kind is ErrorKind.TRANSIENT:
                        wait = max(planner.backoff(), getattr(error, "retry_after", None) or 0.0)
                        self.log.warning("EmpirioLabs job %s: poll failed (%s); still waiting", self.job_id, error)
                        continue
                    if kind is ErrorKind.NOT_FOUND and not_found_yet(self.accepted_at):
                        wait = planner.backoff()
                        self.log.info("EmpirioLabs job %s: not known yet (%s); still waiting", self.job_id, error)
                        continue
                    yield TriggerEvent(error_event(self.job_id, f"EmpirioLabs job {self.job_id}: {error}", error))
                    return
                if job.status.is_terminal():
                    planner.finished(job)
                    yield TriggerEvent(job_event(self.job_id, job))
                    return
                wait = planner.delay_after(job, time.time())
                self.log.info("EmpirioLabs job %s: %s; next poll in %.1f s", self.job_id, job.state_text, wait)
        finally:
            await hook.aclose()
