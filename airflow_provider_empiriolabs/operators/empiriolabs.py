"""
The operator that generates a video: validate, estimate, submit once, then (optionally) wait.

Every accepted request is billed, so this operator is built around never submitting twice for
one task: the job id is written to Airflow's task state store the moment the API accepts the
request, and every later try of the task reattaches to that job instead of paying again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, conf
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
    EmpirioLabsSubmissionUnknownError,
    naming_the_task,
    where_defined,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook, check_hook_params
from airflow_provider_empiriolabs.links.empiriolabs import EmpirioLabsJobLink
from airflow_provider_empiriolabs.models import HAPPYHORSE_MODEL, Job, VideoRequest
from airflow_provider_empiriolabs.models.request import Validation
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
    accepted_job,
    expected_done_at,
    log_eta,
    log_finished,
    rate_limit_deferral,
    wait_here,
)
from airflow_provider_empiriolabs.sealing import seal_summary
from airflow_provider_empiriolabs.triggers._events import finished_job
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from airflow_provider_empiriolabs.triggers.polling import PollPlanner, render_key
from airflow_provider_empiriolabs.ui.request_record import request_record

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

__all__ = ["EmpirioLabsGenerateVideoOperator"]


class EmpirioLabsGenerateVideoOperator(BaseOperator):
    """
    Generate a video with an EmpirioLabs model (HappyHorse 1.1 by default).

    Literal arguments are validated when the DAG is parsed, rendered ones before anything is sent:
    a request the API would reject is never sent, and one whose estimate exceeds ``max_cost_usd``
    is refused. The job id is pushed to XCom (key ``job_id``) before any waiting.

    The request's arguments (``prompt`` to ``extra_params``) are the fields of :attr:`request_model`,
    described as there, and all templated: rendered text (``duration="{{ params.duration }}"``
    gives ``"8"``) is read as the field's type, then checked by the same rules before sending.

    :param prompt: what to film, 1 to 2,500 characters with at least one visible character and no
        control character other than tabs and line breaks.
    :param model: model id; ``happyhorse-1-1`` by default. Other video models get a passthrough
        (see ``extra_params``).
    :param mode: ``auto`` (inferred from the images), ``t2v``, ``i2v`` or ``r2v``; another model's
        modes as its spec lists them (``videoedit``...).
    :param images: image URLs or uploaded paths: none for t2v, exactly 1 for i2v, 1 to 9 for r2v
        (referred to in the prompt as character1 ... character9). Storage URLs (``s3://``, ``gs://``,
        ``abfs://``, ``file://``) and absolute local paths are uploaded on submission.
    :param aspect_ratio: 16:9, 9:16, 1:1, 4:3 or 3:4 (t2v and r2v; i2v follows its image).
    :param resolution: 720p or 1080p.
    :param duration: seconds of video, 3 to 15; billed in whole seconds (5.5 is billed as 6).
    :param seed: 0 to 2147483647, for repeatable results.
    :param watermark: whether the video carries a watermark.
    :param generate_audio: whether the model adds native audio (the API's default is yes).
    :param template: a template slug.
    :param extend_from: ``{"job_id": ...}`` or ``{"video_url": ...}`` to continue a video.
    :param extra_params: further body fields, sent as they are (the passthrough for other models' own
        parameters).
    :param images_conn_id: the Airflow connection for storage URLs in ``images`` that name none
        themselves (``s3://my_conn@bucket/key`` does). Templated.
    :param empiriolabs_conn_id: the Airflow connection of the account. Templated.
    :param wait_for_completion: wait for the video and return its summary; else return the job id.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poll_interval: the longest wait between two polls; polls are timed from the expected
        render time and the reported progress, so most jobs need two or three.
    :param timeout: how long to wait for the job, in seconds or as a timedelta.
    :param max_cost_usd: refuse, before sending, a request whose estimated cost exceeds this.
    :param validation: how the model's spec is applied: ``strict`` (the default) refuses what the
        spec says the model would refuse, ``warn`` logs each such problem (one warning each) and
        sends the request anyway, ``off`` sends it unchecked by the spec.
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook` (for instance ``timeout``).
    :param regenerate: pay for a new video even when an earlier run of this task (cleared since)
        made one for the same request whose URLs still live. A changed request (prompt, seed...)
        always gets a new video; a retry of a failed try never pays twice either way.
    """

    images: Any  # a request field as rendered (each is set from request_model's fields)
    #: The request's fields, their rules and descriptions: the operator's request arguments are its fields.
    request_model: ClassVar[type[VideoRequest]] = VideoRequest
    template_fields: Sequence[str] = templated_arguments(VideoRequest, ())
    operator_extra_links = (EmpirioLabsJobLink(),)
    ui_color = "#f5d0fe"

    #: Where the job record is kept across tries. Renaming it breaks reattachment of tasks in flight.
    external_id_key = "empiriolabs_job_id"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass with its own request model templates that model's fields, unless it says otherwise.
        super().__init_subclass__(**kwargs)
        if "request_model" in cls.__dict__ and "template_fields" not in cls.__dict__:
            cls.template_fields = templated_arguments(cls.request_model, cls.template_fields)

    def __init__(
        self,
        *,
        prompt: str,
        model: str = HAPPYHORSE_MODEL,
        mode: str | None = None,
        images: list[str] | str | XComArg | None = None,
        images_conn_id: str | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        duration: float | str | None = None,
        seed: int | str | None = None,
        watermark: bool | str | None = None,
        generate_audio: bool | str | None = None,
        template: str | None = None,
        extend_from: dict[str, str] | str | None = None,
        extra_params: dict[str, Any] | str | None = None,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | timedelta = 3600.0,
        max_cost_usd: float | None = None,
        hook_params: dict[str, Any] | None = None,
        regenerate: bool = False,
        validation: Validation = "strict",
        **kwargs: Any,
    ) -> None:
        # The request's arguments: the model's fields (the signature tied by tests/operators/test_request_fields.py).
        given, unknown = take_request_arguments(self.request_model, locals(), kwargs)
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

    def _request_fields(self) -> dict[str, Any]:
        fields = {name: getattr(self, name, None) for name in self.request_model.model_fields}
        fields["images"] = with_stand_ins(self.images)  # files are checked with stand-ins, uploaded on submit
        return fields

    @cached_property
    def request(self) -> VideoRequest:
        """The rendered request, validated; a task fails here, before anything is sent."""
        # An invalid request, or one over max_cost_usd, fails without retries, naming task and file.
        with task_outcome(), naming_the_task(self, running=True):
            request = self.request_model.build(
                from_templates=self._from_templates, validation=self.validation, **self._request_fields()
            )
            check_cost(request, self.max_cost_usd)
        for problem in request.spec_problems:  # validation="warn": sent anyway, each problem said once
            self.log.warning("Sending although the %s spec says: %s (validation='warn')", request.model, problem)
        return request

    @cached_property
    def hook(self) -> EmpirioLabsHook:
        return EmpirioLabsHook(self.empiriolabs_conn_id, **self.hook_params)

    # -- execution ----------------------------------------------------------------------------------
    #
    # The order of one try, whatever path it takes (see docs/internals.rst):
    #   1. validate the rendered request (nothing sent, nothing stored);
    #   2. read the job record (operators/_job_record.py) and act on it: an earlier try's job is
    #      reattached, a finished one is returned, an unknown outcome fails without sending;
    #   3. otherwise upload file images, record "sending" and POST (the hook records "sending" again
    #      right before every attempt), record "accepted" with the job id before anything else;
    #   4. push the job id to XCom, wait from acceptance (here or in the triggerer), record "done".

    def execute(self, context: Context) -> Any:
        _ = self.request  # validate before the task state store or the API is touched
        with task_outcome():  # errors no retry can fix fail the task without retries (see _outcome)
            return self._execute(context, self._ledger(context))

    def _ledger(self, context: Context) -> _Ledger:
        images: Any = self.images  # the references as rendered: which files, not their stand-ins
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
        job_id, accepted_at = self._submit(context, ledger)
        if not self.wait_for_completion:
            return job_id
        # No GET before the first planned poll: the job id is recorded, and the wait starts from acceptance.
        return self._wait(accepted_job(job_id, accepted_at), context, ledger, accepted_at=accepted_at)

    def _reuse(self, record: _JobRecord, context: Context) -> Any:
        """Return the finished video an earlier run of this task made for the same request."""
        assert record.job_id is not None and record.summary is not None
        self.log.info(
            "Job %s made this video for the same request (%s): returning it without paying again; "
            "regenerate=True asks for a new one",
            record.job_id,
            record.updated_at,
        )
        self._job_id = record.job_id
        self._push_job(record.job_id, context)
        return record.summary if self.wait_for_completion else record.job_id

    def _submit(self, context: Context, ledger: _Ledger) -> tuple[str, float]:
        images: Any = self.images  # a list (or one reference) once templates have rendered
        request = with_uploaded_images(self.request, images, self.hook, self.images_conn_id, self.log)
        announced = Announced(ledger, self.log, request, self.empiriolabs_conn_id)
        announced.submitting()  # no cost here: it is logged with "Sending" only when the request goes out
        try:
            job_id = self.hook.submit_video(request, guard=announced)
        except EmpirioLabsSubmissionUnknownError:
            raise  # the record stays "sending": no later try sends it again
        except _RecordUnwritable as error:
            raise AirflowException(f"{error}; nothing was sent") from None
        except EmpirioLabsRateLimitError as error:
            since, timeout = self._rate_limited_since, self.timeout
            wait = rate_limit_deferral(error, self.log, since=since, timeout=timeout, deferrable=self.deferrable)
            if wait is None:
                raise
            from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger  # only when rate limited

            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds=wait)),
                method_name="execute_after_rate_limit",
                kwargs={"rate_limited_since": self._rate_limited_since},
            )
        accepted_at = time.time()
        ledger.save("accepted", job_id=job_id)  # first, before anything else can fail
        self._job_id = job_id
        self.log.info("EmpirioLabs accepted the request: job %s", job_id)
        self._push_job(job_id, context)
        return job_id, accepted_at

    def execute_after_rate_limit(
        self, context: Context, event: Any = None, rate_limited_since: float | None = None
    ) -> Any:
        """Resume after waiting out the account's rate limit in the triggerer: the try starts over."""
        if rate_limited_since is not None:
            self._rate_limited_since = rate_limited_since
        return self.execute(context)

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
        # What the EmpirioLabs view shows beside the video (URLs in it redacted: no signature).
        context["ti"].xcom_push(key="request", value=request_record(self.request, self.empiriolabs_conn_id))

    def _wait(self, job: Job, context: Context, ledger: _Ledger, *, accepted_at: float | None) -> Any:
        """Wait for the job (here or in the triggerer) and return its summary, or its id without waiting."""
        job_id = job.job_id
        if not self.wait_for_completion:
            return job_id
        end_time = time.time() + self.timeout
        # The worker times its polls like the trigger, and both feed this process's render times.
        key, expected = render_key(self.request), self.request.expected_render_seconds()
        planner = PollPlanner(
            self.poll_interval, expected_done_at(job, self.request), key=key, expected_seconds=expected
        )
        if self.deferrable and not job.status.is_terminal():
            log_eta(self.log, job, expected_done_at(job, self.request), end_time, self.poll_interval)
            self.defer(
                trigger=EmpirioLabsJobTrigger(
                    job_id=job_id,
                    empiriolabs_conn_id=self.empiriolabs_conn_id,
                    poll_interval=self.poll_interval,
                    end_time=end_time,
                    hook_params=self.hook_params,
                    expected_done_at=expected_done_at(job, self.request),
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

    def _finish(self, job: Job, ledger: _Ledger) -> dict[str, Any]:
        raise_for_failed_job(job)
        summary = seal_summary(
            job.summary(seconds=self.request.billed_seconds, price=self.request.estimated_cost_usd),
            self.hook.settings.api_key,
        )
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
