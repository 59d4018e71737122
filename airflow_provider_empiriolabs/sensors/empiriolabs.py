"""
The sensor that waits for an EmpirioLabs job submitted elsewhere (for instance a mapped submit task).

It never submits. Deferrable, it pokes once (a finished job needs no triggerer round trip) and
then waits in the triggerer with an absolute deadline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_provider_empiriolabs._outcome import raise_for_failed_job, task_outcome
from airflow_provider_empiriolabs._templating import is_template
from airflow_provider_empiriolabs.exceptions import naming_the_task
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook, check_hook_params, check_job_id
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.sealing import seal_summary
from airflow_provider_empiriolabs.triggers._events import finished_job, timeout_message
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from airflow_provider_empiriolabs.triggers.polling import render_key

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["EmpirioLabsJobSensor"]


class EmpirioLabsJobSensor(BaseSensorOperator):
    """
    Wait until an EmpirioLabs job finishes; return its summary (job id, status, output URLs, cost).

    A failed job fails the task (without retries when a retry could not help); ``timeout`` ends
    the wait as a sensor timeout, which ``soft_fail`` turns into a skip.

    :param job_id: the job to wait for. Templated.
    :param empiriolabs_conn_id: the Airflow connection of the account. Templated.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poke_interval: seconds between pokes (Airflow's sensor argument, default 60); deferred,
        the longest wait between polls, which are then timed from the reported progress. It is the
        sensor's only interval, as in Airflow's own sensors.
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook`.
    :param model: the job's model, when known (with ``resolution`` and ``duration``, as the job was
        asked for): deferred, its polls are then timed from the render times this process learned
        for that kind of job, shared with the operators' triggers, instead of from the job alone.
    :param resolution: the job's resolution (720p when not given), with ``model``.
    :param duration: the job's seconds of video (5 when not given), with ``model``.
    """

    template_fields: Sequence[str] = ("job_id", "empiriolabs_conn_id")
    ui_color = "#f5d0fe"

    def __init__(
        self,
        *,
        job_id: str,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        hook_params: dict[str, Any] | None = None,
        model: str | None = None,
        resolution: str | None = None,
        duration: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.model, self.resolution, self.duration = model, resolution, duration
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.deferrable = deferrable
        self.hook_params = hook_params or {}
        with naming_the_task(self):
            check_hook_params(self.hook_params)
            if isinstance(job_id, str) and not is_template(job_id):
                check_job_id(job_id)  # a literal id is known when the DAG is parsed

    @cached_property
    def hook(self) -> EmpirioLabsHook:
        return EmpirioLabsHook(self.empiriolabs_conn_id, **self.hook_params)

    def poke(self, context: Context) -> PokeReturnValue | bool:
        with task_outcome():  # an error no retry can fix fails the task (soft_fail: skips it)
            job = self.hook.get_job(self.job_id)
        if not job.status.is_terminal():
            self.log.info("EmpirioLabs job %s: %s", job.job_id, job.state_text)
            return False
        raise_for_failed_job(job)
        return PokeReturnValue(is_done=True, xcom_value=seal_summary(job.summary(), self.hook.settings.api_key))

    def _first_poke(self, context: Context) -> PokeReturnValue | bool:
        """
        One poke before deferring, its failures treated as ``BaseSensorOperator.execute`` treats a poke's.

        So ``soft_fail``, ``never_fail`` and ``silent_fail`` mean the same on the first poke as on any other.
        """
        try:
            return self.poke(context)
        except (AirflowSensorTimeout, AirflowFailException) as error:
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(
                    f"Skipping: {'soft_fail' if self.soft_fail else 'never_fail'} is set"
                ) from error
            raise
        except AirflowSkipException:
            raise
        except Exception as error:
            if self.silent_fail:
                self.log.error("Sensor poke failed: %s", error)
                return False
            if self.never_fail:
                raise AirflowSkipException("Skipping: never_fail is set") from error
            raise

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        done = self._first_poke(context)
        if isinstance(done, PokeReturnValue):
            return done.xcom_value
        self.defer(
            trigger=EmpirioLabsJobTrigger(
                job_id=self.job_id,
                empiriolabs_conn_id=self.empiriolabs_conn_id,
                poll_interval=float(self.poke_interval),
                end_time=time.time() + float(self.timeout),
                hook_params=self.hook_params,
                **self._kind(),
            ),
            method_name="execute_complete",
            timeout=None,  # the trigger owns the deadline and reports it
        )

    def _kind(self) -> dict[str, Any]:
        """The trigger's ``render_key`` and guess for the job's kind, when ``model`` says it."""
        if not self.model:
            return {}
        kind = VideoRequest.model_construct(
            model=self.model, resolution=self.resolution, duration=self.duration, extra_params={}
        )
        return {"render_key": render_key(kind).to_kwargs(), "expected_seconds": kind.expected_render_seconds()}

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired; a timeout becomes a sensor timeout (``soft_fail`` honoured)."""
        timed_out = timeout_message(event)
        if timed_out is not None:
            raise AirflowSensorTimeout(timed_out)
        with task_outcome():
            return seal_summary(finished_job(event, self.hook).summary(), self.hook.settings.api_key)
