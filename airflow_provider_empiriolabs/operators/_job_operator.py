"""
The job path every EmpirioLabs generate operator shares: validate, submit once, wait, return.

Every accepted request is billed, so the path is built around never submitting twice for one task:
the job id is written to Airflow's task state store the moment the API accepts the request, and
every later try of the task reattaches to that job instead of paying again. The video operator
(:mod:`.empiriolabs`), the image operator (:mod:`.image`) and Compose are thin subclasses of
:class:`JobOperator`; what they differ in is their request model and a few small methods.

What a subclass gives:

* ``request_model``: the pydantic request model. It has the fields of the operator's request
  arguments (each templated), ``endpoint`` (the path the request is POSTed to, as ``to_payload()``),
  ``build(from_templates=..., **fields)``, ``cost_problem(max_cost_usd)``,
  ``estimated_cost_usd()``, ``expected_render_seconds()`` and ``model``.
* ``__init__`` with its explicit signature (the request's arguments, then the job path's own,
  :data:`JOB_ARGUMENTS`, with their defaults), which calls ``super().__init__(arguments=locals(),
  **kwargs)``: the job path reads its arguments and the request's from ``arguments``.

What a subclass may override (each has a default that serves a request with or without ``images``):

* :meth:`JobOperator._post`: the billed POST; by default ``hook.submit(request)``, a job id back
  (or a finished :class:`~airflow_provider_empiriolabs.models.Job`, for an answer that holds the outputs).
* :meth:`JobOperator._summary`: the finished job's summary (before sealing).
* :meth:`JobOperator._render_key`: the kind of job, as the poll planner learns render times.

A request model with a ``template`` field gets the template's rules before sending
(:attr:`JobOperator.priced_request`: the model checked against the template's, its
``default_params`` in the estimate and under ``max_cost_usd``); every finished job's summary gets
its actual cost and ``cost_source`` in :meth:`JobOperator._finish` (``operators/_actual_cost.py``).
An answer that held its outputs (no job to reattach to) is recorded ``done`` there as soon as
:meth:`JobOperator._summary` has put them where a retry finds them, before that usage read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_empiriolabs._outcome import (
    JobVerdict,
    judge_job,
    raise_for_failed_job,
    task_outcome,
)
from airflow_provider_empiriolabs._templating import is_template
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsNotFoundError,
    EmpirioLabsRateLimitError,
    EmpirioLabsRequestError,
    EmpirioLabsSubmissionUnknownError,
    naming_the_task,
    where_defined,
)
from airflow_provider_empiriolabs.hooks._exchange import SendGuard
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook, check_hook_params
from airflow_provider_empiriolabs.links.empiriolabs import EmpirioLabsJobLink
from airflow_provider_empiriolabs.models import Job
from airflow_provider_empiriolabs.models.request import Validation
from airflow_provider_empiriolabs.models.templates import priced_with_template
from airflow_provider_empiriolabs.operators._actual_cost import with_actual_cost
from airflow_provider_empiriolabs.operators._checks import (
    check_cost,
    check_literals,
    check_validation,
    check_wait_settings,
    take_request_arguments,
    templated_arguments,
    unknown_arguments,
)
from airflow_provider_empiriolabs.operators._fingerprint import request_fingerprint
from airflow_provider_empiriolabs.operators._job_record import Announced, generation
from airflow_provider_empiriolabs.operators._job_record import JobRecord as _JobRecord
from airflow_provider_empiriolabs.operators._job_record import Ledger as _Ledger
from airflow_provider_empiriolabs.operators._job_record import Next as _Next
from airflow_provider_empiriolabs.operators._job_record import RecordUnwritable as _RecordUnwritable
from airflow_provider_empiriolabs.operators._reference_images import with_stand_ins, with_uploaded_images
from airflow_provider_empiriolabs.operators._waiting import (
    WaitsOutRateLimits,
    accepted_job,
    expected_done_at,
    log_eta,
    log_finished,
    wait_here,
)
from airflow_provider_empiriolabs.sealing import seal_summary
from airflow_provider_empiriolabs.triggers._events import finished_job
from airflow_provider_empiriolabs.triggers._render_times import RenderKey
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from airflow_provider_empiriolabs.triggers.polling import PollPlanner
from airflow_provider_empiriolabs.ui.request_record import request_record

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["JOB_ARGUMENTS", "JobOperator"]

#: The job path's own arguments (not request fields), which every subclass's signature names.
JOB_ARGUMENTS = (
    "images_conn_id",
    "empiriolabs_conn_id",
    "wait_for_completion",
    "deferrable",
    "poll_interval",
    "timeout",
    "max_cost_usd",
    "hook_params",
    "regenerate",
    "validation",
)


class JobOperator(WaitsOutRateLimits, BaseOperator):
    """
    The job path of a generate operator (private: subclass it, see the module's docstring).

    :param arguments: the subclass's ``__init__`` arguments (its ``locals()``): those named after
        fields of :attr:`request_model` are the request's, those in :data:`JOB_ARGUMENTS` the job
        path's (described below; a keyword argument of the same name wins).
    :param images_conn_id: the Airflow connection for storage URLs in ``images`` that name none
        themselves (a request model without ``images`` ignores it).
    :param empiriolabs_conn_id: the Airflow connection of the account.
    :param wait_for_completion: wait for the job and return its summary; else return the job id.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poll_interval: the longest wait between two polls.
    :param timeout: how long to wait for the job, in seconds or as a timedelta.
    :param max_cost_usd: refuse, before sending, a request whose estimated cost exceeds this.
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook`.
    :param regenerate: pay for a new job even when an earlier run made one for the same request.
    :param validation: how the model's spec is applied: ``strict`` (the default) refuses what the
        spec says the model would refuse, ``warn`` logs each such problem (one warning each) and
        sends the request anyway, ``off`` sends it unchecked by the spec.
    """

    images: Any  # a request field as rendered, when the request model has it
    #: The request's fields, their rules and descriptions: the operator's request arguments are its fields.
    request_model: ClassVar[type[Any]]
    operator_extra_links = (EmpirioLabsJobLink(),)

    #: Where the job record is kept across tries. Renaming it breaks reattachment of tasks in flight.
    external_id_key = "empiriolabs_job_id"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass with its own request model templates that model's fields, unless it says otherwise.
        super().__init_subclass__(**kwargs)
        if "request_model" in cls.__dict__ and "template_fields" not in cls.__dict__:
            cls.template_fields = templated_arguments(cls.request_model, cls.template_fields)

    def __init__(self, *, arguments: Mapping[str, Any], **kwargs: Any) -> None:
        # The job path's own arguments: given as keywords, else taken from the subclass's arguments.
        own: dict[str, Any] = {
            name: kwargs.pop(name) if name in kwargs else arguments.get(name) for name in JOB_ARGUMENTS
        }
        images_conn_id: str | None = own["images_conn_id"]
        empiriolabs_conn_id: str = own["empiriolabs_conn_id"]
        wait_for_completion: bool = own["wait_for_completion"]
        deferrable: bool = own["deferrable"]
        poll_interval: float = own["poll_interval"]
        timeout: float | timedelta = own["timeout"]
        max_cost_usd: float | None = own["max_cost_usd"]
        hook_params: dict[str, Any] | None = own["hook_params"]
        regenerate: bool = own["regenerate"]
        # A subclass that names no validation argument (Compose: no spec) is strict; one it names is checked.
        named = "validation" in arguments or ("validation" in own and own["validation"] is not None)
        validation: Any = own["validation"] if named else "strict"
        given, unknown = take_request_arguments(self.request_model, arguments, kwargs)
        super().__init__(**kwargs)
        if unknown:  # refused once the task (and so the message) has its name
            dag = self.dag if self.has_dag() else None
            where = where_defined(self.task_id, dag.dag_id if dag else None, dag.fileloc if dag else None)
            raise TypeError(f"{where}: {unknown_arguments(unknown, self.request_model, type(self).__init__)}")
        self.regenerate = regenerate
        self._rate_limited_since = time.time()  # replaced by the first deferral's when resumed after one
        for name, value in given.items():
            setattr(self, name, value)
        self._from_templates = frozenset(name for name, value in given.items() if is_template(value))  # read as text
        self.images_conn_id = images_conn_id
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.max_cost_usd = max_cost_usd
        self.hook_params = hook_params or {}
        self._job_id: str | None = None
        with naming_the_task(self):
            self.validation: Validation = check_validation(validation)
            self.timeout = check_wait_settings(poll_interval, seconds, timeout, max_cost_usd)
            check_hook_params(self.hook_params)
            # Refuse now what the literal arguments already get wrong (see _checks).
            check_literals(
                self.request_model,
                self._request_fields(),
                self._from_templates,
                self.max_cost_usd,
                validation=self.validation,
            )

    # -- the request ------------------------------------------------------------------------------

    def _references(self) -> Any:
        """The reference images as rendered (which files, not their stand-ins); ``None`` without any."""
        return getattr(self, "images", None) if "images" in self.request_model.model_fields else None

    def _request_fields(self) -> dict[str, Any]:
        fields = {name: getattr(self, name, None) for name in self.request_model.model_fields}
        if "images" in fields:
            fields["images"] = with_stand_ins(self.images)  # files are checked with stand-ins, uploaded on submit
        return fields

    @cached_property
    def request(self) -> Any:
        """The rendered request, validated; a task fails here, before anything is sent."""
        # An invalid request, or one over max_cost_usd, fails without retries, naming task and file.
        with task_outcome(), naming_the_task(self, running=True):
            options = {"from_templates": self._from_templates, "validation": self.validation}
            request = self.request_model.build(**options, **self._request_fields())
            if hasattr(request, "spec") and (live := self.hook.model_spec(request.model)) != request.spec:
                # The live catalogue's values over the shipped spec (read once the request is known valid).
                request = self.request_model.build(**options, spec=live, **self._request_fields())
            if getattr(request, "template", None) is None:  # a template's defaults are read before sending
                check_cost(request, self.max_cost_usd)
        for problem in getattr(request, "spec_problems", ()):  # validation="warn": sent anyway, each said once
            self.log.warning("Sending although the %s spec says: %s (validation='warn')", request.model, problem)
        return request

    @cached_property
    def priced_request(self) -> Any:
        """
        The request as it will be billed: with a ``template``, its model checked against the
        template's and its ``default_params`` merged (the template read through the hook,
        :func:`.priced_with_template`), then ``max_cost_usd`` checked on that; else :attr:`request`.
        """
        request = self.request
        if getattr(request, "template", None) is None:
            return request
        with task_outcome(), naming_the_task(self, running=True):
            template = self.hook.get_template(request.template)
            priced = priced_with_template(request, template, self.log)
            if template.unreadable_defaults:  # the API applies what could not be read: its cost is unknown
                count = template.unreadable_defaults
                unreadable = f"template {template.slug!r} has {count} default_params the provider cannot read"
                if self.max_cost_usd is not None:
                    raise EmpirioLabsRequestError(
                        f"max_cost_usd: {unreadable} (no parameter name, or not a JSON value); the API applies "
                        "them, so the cost is unknown and a cap cannot hold; nothing was sent"
                    )
                self.log.warning("%s: the estimate leaves them out (the API applies them)", unreadable)
            check_cost(priced, self.max_cost_usd)
        return priced

    def _billed_request(self) -> Any:
        """:attr:`priced_request` when it can be read (to time polls, price a summary), else :attr:`request`."""
        if getattr(self.request, "template", None) is None or "priced_request" in self.__dict__:
            return self.priced_request
        try:
            return self.priced_request
        except Exception as error:  # the job is paid for already: its template no longer matters for it
            self.log.warning("Template %s could not be read again (%s)", self.request.template, type(error).__name__)
            self.__dict__["priced_request"] = self.request  # read once per try
            return self.request

    @cached_property
    def hook(self) -> EmpirioLabsHook:
        return EmpirioLabsHook(self.empiriolabs_conn_id, **self.hook_params)

    # -- what a subclass may override -------------------------------------------------------------

    def _post(self, request: Any, guard: SendGuard, context: Context) -> str | Job:
        """
        Send the one billed POST and return the new job's id (the hook retries only what provably did not get in),
        or, for a request answered with its outputs (a held image request), the finished job itself.

        :param request: the validated request, its file images uploaded.
        :param guard: records ``sending`` right before each attempt leaves.
        :param context: the task's context.
        """
        return self.hook.submit(request, guard=guard)

    def _summary(self, job: Job) -> dict[str, Any]:
        """The finished job's summary, before its signed URLs are sealed."""
        return job.summary()

    def _render_key(self) -> RenderKey:
        """The kind of job the request makes, as far as its render time goes."""
        return RenderKey(self.request.model, getattr(self.request, "effective_resolution", ""), 0.0)

    # -- execution ----------------------------------------------------------------------------------
    #
    # The order of one try, whatever path it takes (see docs/internals.rst):
    #   1. validate the rendered request (nothing sent, nothing stored);
    #   2. read the job record (operators/_job_record.py) and act on it: an earlier try's job is
    #      reattached, a finished one is returned, an unknown outcome fails without sending;
    #   3. otherwise upload file images, record "sending" and POST (the hook records "sending" again
    #      right before every attempt), record "accepted" with the job id before anything else;
    #   4. push the job id to XCom, wait from acceptance (here or in the triggerer), record "done";
    #      an answer holding its outputs skips the wait and is recorded "done" before the usage read.

    def execute(self, context: Context) -> Any:
        _ = self.request  # validate before the task state store or the API is touched
        with task_outcome():  # errors no retry can fix fail the task without retries (see _outcome)
            return self._execute(context, self._ledger(context))

    def _ledger(self, context: Context) -> _Ledger:
        images: Any = self._references()  # the references as rendered: which files, not their stand-ins
        return _Ledger(
            context.get("task_state_store"),
            self.external_id_key,
            request_fingerprint(  # the request, its images' bytes and the account: what reuse compares
                self.request,
                images,
                base_url=self.hook.base_url,
                api_key=self.hook.settings.api_key,
                images_conn_id=self.images_conn_id,
            ),
            self.log,
            generation=generation(context.get("ti"), self.retries),
            ti=context.get("ti"),
        )

    def _execute(self, context: Context, ledger: _Ledger) -> Any:
        decision = ledger.decide(regenerate=self.regenerate)  # the record's decision (see _job_record)
        if decision.next is _Next.UNKNOWN:
            raise EmpirioLabsSubmissionUnknownError(ledger.unknown_outcome(decision))
        if decision.next is _Next.REUSE and decision.record is not None:
            return self._reuse(decision.record, context)
        if decision.next is _Next.REATTACH and decision.record is not None and decision.record.job_id:
            job = self._reattach(decision.record.job_id, context)
            if job is not None:
                return self._wait(job, context, ledger, accepted_at=None)
        elif decision.reason:
            self.log.info("%s", decision.reason)
        job, accepted_at, held = self._submit(context, ledger)
        if held is not None:  # the answer held the outputs: recorded done already, nothing to wait for
            return held
        if not self.wait_for_completion:
            return job.job_id
        # No GET before the first planned poll: the job id is recorded, and the wait starts from acceptance.
        return self._wait(job, context, ledger, accepted_at=accepted_at)

    def _reuse(self, record: _JobRecord, context: Context) -> Any:
        """Return the finished job an earlier run of this task made for the same request."""
        assert record.job_id is not None and record.summary is not None
        self.log.info(
            "Job %s made this for the same request (%s): returning it without paying again; "
            "regenerate=True asks for a new one",
            record.job_id,
            record.updated_at,
        )
        self._job_id = record.job_id
        self._push_job(record.job_id, context)
        return record.summary if self.wait_for_completion else record.job_id

    def _submit(self, context: Context, ledger: _Ledger) -> tuple[Job, float, dict[str, Any] | None]:
        """Send the request once: the job accepted and when, and the summary if the answer held the outputs."""
        _ = self.priced_request  # a template's model rule and defaults, and the cap on them: before anything is sent
        images: Any = self._references()  # a list (or one reference) once templates have rendered
        request = self.request
        if images is not None:
            request = with_uploaded_images(request, images, self.hook, self.images_conn_id, self.log)
        billed = request if getattr(request, "template", None) is None else self.priced_request  # what the log prices
        announced = Announced(ledger, self.log, billed, self.empiriolabs_conn_id)
        announced.submitting()  # no cost here: it is logged with "Sending" only when the request goes out
        try:
            posted = self._post(request, announced, context)
        except EmpirioLabsSubmissionUnknownError:
            raise  # the record stays "sending": no later try sends it again
        except _RecordUnwritable as error:
            raise AirflowException(f"{error}; nothing was sent") from None
        except EmpirioLabsRateLimitError as error:
            self.wait_out_rate_limit(error)
        accepted_at = time.time()
        if isinstance(posted, Job):  # the outputs came in the answer: recorded done as soon as they can be found
            self._job_id = posted.job_id
            summary = self._finish(posted, ledger, answered=True)
            self._push_job(posted.job_id, context)
            return posted, accepted_at, summary
        job = accepted_job(posted, accepted_at)
        job_id = job.job_id
        ledger.save("accepted", job_id=job_id)  # first, before anything else can fail
        self._job_id = job_id
        self.log.info("EmpirioLabs accepted the request: job %s", job_id)
        self._push_job(job_id, context)
        return job, accepted_at, None

    def _reattach(self, job_id: str, context: Context) -> Job | None:
        """The stored job of an earlier try, or ``None`` when it failed unbilled and a new one may be sent."""
        try:
            job = self.hook.get_job(job_id)
        except EmpirioLabsNotFoundError as error:
            raise EmpirioLabsNotFoundError(
                f"EmpirioLabs job {job_id} of an earlier try is gone ({error}; the API keeps jobs 1 hour "
                "after they finish); it was billed, so no new job is submitted. Its outputs may still be listed "
                "in the account's usage history.",
                status_code=error.status_code,
                code=error.code,
            ) from None
        if judge_job(job) is JobVerdict.RESUBMIT:
            assert job.error is not None
            self.log.warning(
                "EmpirioLabs job %s of an earlier try failed (%s) and the API said it was not billed: "
                "submitting a new job",
                job_id,
                job.error.code,
            )
            return None
        self._job_id = job.job_id
        self.log.info("Reattaching to EmpirioLabs job %s of an earlier try (%s)", job.job_id, job.raw_status)
        self._push_job(job.job_id, context)
        return job

    def _push_job(self, job_id: str, context: Context) -> None:
        context["ti"].xcom_push(key="job_id", value=job_id)
        context["ti"].xcom_push(key="job_url", value=self.hook.job_url(job_id))
        # What the EmpirioLabs view shows beside the job's outputs (URLs in it redacted: no signature).
        record = request_record(self.request, self.empiriolabs_conn_id, billed=self._billed_request())
        context["ti"].xcom_push(key="request", value=record)

    def _wait(self, job: Job, context: Context, ledger: _Ledger, *, accepted_at: float | None) -> Any:
        """Wait for the job (here or in the triggerer) and return its summary, or its id without waiting."""
        job_id = job.job_id
        if not self.wait_for_completion:
            return job_id
        end_time = time.time() + self.timeout
        # The worker times its polls like the trigger, and both feed this process's render times.
        billed = self._billed_request()  # a template's duration and resolution time the polls too
        key, expected = self._render_key(), billed.expected_render_seconds()
        planner = PollPlanner(self.poll_interval, expected_done_at(job, billed), key=key, expected_seconds=expected)
        if self.deferrable and not job.status.is_terminal():
            log_eta(self.log, job, expected_done_at(job, billed), end_time, self.poll_interval)
            self.defer(
                trigger=EmpirioLabsJobTrigger(
                    job_id=job_id,
                    empiriolabs_conn_id=self.empiriolabs_conn_id,
                    poll_interval=self.poll_interval,
                    end_time=end_time,
                    hook_params=self.hook_params,
                    expected_done_at=expected_done_at(job, billed),
                    accepted_at=accepted_at,
                    render_key=key.to_kwargs(),
                    expected_seconds=expected,
                ),
                method_name="execute_complete",
                timeout=None,  # the trigger owns the deadline and reports it
            )
        job = wait_here(self.hook, job, planner, end_time, self.timeout, self.log, accepted_at=accepted_at)
        planner.finished(job)
        return self._finish(job, ledger)  # the job this poll saw: no second GET to disagree with it

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: the summary on success, an error naming the job otherwise."""
        with task_outcome():
            job = finished_job(event, self.hook)
            return self._finish(job, self._ledger(context))

    def _finish(self, job: Job, ledger: _Ledger, *, answered: bool = False) -> dict[str, Any]:
        """
        Record the finished job done with its summary (its actual cost read) and return the summary.

        :param answered: the outputs came in the POST's answer (a held request): there is no job to
            reattach to, so the record is saved ``done`` as soon as :meth:`_summary` has put them where
            a retry finds them (URLs at once, bytes once written), before the usage read, and again after.
        """
        raise_for_failed_job(job)
        model = getattr(self._billed_request(), "model", None)
        summary = self._summary(job)
        if answered:  # a retry after this returns them, unpaid, whatever happens to the usage read
            ledger.save("done", job_id=job.job_id, summary=seal_summary(summary, self.hook.settings.api_key))
        summary = with_actual_cost(summary, job, self.hook, model=model, log=self.log)  # before sealing
        summary = seal_summary(summary, self.hook.settings.api_key)
        ledger.save("done", job_id=job.job_id, summary=summary)  # a retry after this returns it, unpaid
        log_finished(self.log, job, summary)
        return summary

    def on_kill(self) -> None:
        # No cancel endpoint is documented: the job keeps running (and is billed). Say which one.
        self.log.warning(
            "Task killed; EmpirioLabs job %s keeps running (the API has no cancel endpoint) and a retry "
            "of this task reattaches to it",
            self._job_id or "(not submitted yet)",
        )
