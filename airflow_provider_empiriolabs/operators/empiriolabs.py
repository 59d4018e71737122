"""
The operator that generates a video: validate, estimate, submit once, then (optionally) wait.

Every accepted request is billed, so this operator is built around never submitting twice for
one task: the job id is written to Airflow's task state store the moment the API accepts the
request, and every later try of the task reattaches to that job instead of paying again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException

from airflow_provider_empiriolabs._outcome import (
    JobVerdict,
    finished_job,
    judge_job,
    not_found_yet,
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
)
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook, check_hook_params
from airflow_provider_empiriolabs.links.empiriolabs import EmpirioLabsJobLink
from airflow_provider_empiriolabs.models import HAPPYHORSE_MODEL, MAX_REFERENCE_IMAGES, Job, VideoRequest
from airflow_provider_empiriolabs.models.pricing import DEFAULT_RESOLUTION
from airflow_provider_empiriolabs.operators._job_record import JobRecord as _JobRecord
from airflow_provider_empiriolabs.operators._job_record import Ledger as _Ledger
from airflow_provider_empiriolabs.operators._job_record import RecordUnwritable as _RecordUnwritable
from airflow_provider_empiriolabs.operators._job_record import fingerprint
from airflow_provider_empiriolabs.operators.uploads import ReferenceImageUploader, needs_upload, with_stand_ins
from airflow_provider_empiriolabs.sealing import seal_summary
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from airflow_provider_empiriolabs.triggers.polling import PollPlanner, render_key
from airflow_provider_empiriolabs.ui.request_record import request_record

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

__all__ = ["EmpirioLabsGenerateVideoOperator"]

#: The longest a deferrable task waits out the account's rate limit in the triggerer before sending again.
MAX_RATE_LIMIT_DEFERRAL_SECONDS = 300.0

#: Stand-ins for templated values when a DAG is parsed, chosen so that only the literal values
#: can make validation fail.
_PARSE_TIME_STAND_INS: dict[str, Any] = {"prompt": "a stand-in prompt", "seed": None, "extra_params": None}


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Announced:
    """
    The job record's send guard, logging the estimate right before each POST really leaves.

    A try that fails earlier (no connection, a file that will not upload, the rate limit) sends
    nothing and so logs no cost: the log says "Sending ... estimated $X" only for requests sent.
    """

    def __init__(self, guard: _Ledger, announce: Callable[[], None]) -> None:
        self._guard = guard
        self._announce = announce

    def sending(self) -> None:
        self._guard.sending()  # raises, and nothing is sent, when the record cannot be written
        self._announce()

    def not_sent(self) -> None:
        self._guard.not_sent()


class EmpirioLabsGenerateVideoOperator(BaseOperator):
    """
    Generate a video with an EmpirioLabs model (HappyHorse 1.1 by default).

    Literal arguments are validated when the DAG is parsed, rendered ones before anything is sent:
    a request the API would reject is never sent, and one whose estimate exceeds ``max_cost_usd``
    is refused. The job id is pushed to XCom (key ``job_id``) before any waiting.

    :param prompt: what to film, 1 to 2,500 characters. Templated.
    :param model: model id. Templated. Other video models get a passthrough (see ``extra_params``).
    :param mode: ``auto``, ``t2v``, ``i2v`` or ``r2v``. Templated.
    :param images: the images (1 for i2v, 1 to 9 for r2v): https URLs and ``bunny://`` paths are sent
        as they are; storage URLs (``s3://``, ``gs://``, ``abfs://``, ``file://``) and absolute local
        paths are uploaded first (``POST /v1/files/upload``), only when a job is submitted, so that
        reference images can stay where they already are. Templated.
    :param images_conn_id: the Airflow connection for storage URLs in ``images`` that name none
        themselves (``s3://my_conn@bucket/key`` does). Templated.
    :param aspect_ratio: 16:9, 9:16, 1:1, 4:3 or 3:4.
    :param resolution: 720p or 1080p.
    :param duration: seconds of video, 3 to 15.
    :param seed: 0 to 2147483647. Templated.
    :param watermark: whether the video carries a watermark.
    :param generate_audio: whether the model adds native audio.
    :param template: a template slug.
    :param extend_from: ``{"job_id": ...}`` or ``{"video_url": ...}``.
    :param extra_params: further body fields, for other models' own parameters. Templated.
    :param empiriolabs_conn_id: the Airflow connection of the account. Templated.
    :param wait_for_completion: wait for the video and return its summary; else return the job id.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poll_interval: the longest wait between two polls; polls are timed from the expected
        render time and the reported progress, so most jobs need two or three.
    :param timeout: how long to wait for the job, in seconds or as a timedelta.
    :param max_cost_usd: refuse, before sending, a request whose estimated cost exceeds this.
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook` (for instance ``timeout``).
    :param regenerate: pay for a new video even when an earlier run of this task (cleared since)
        made one for the same request whose URLs still live. A changed request (prompt, seed...)
        always gets a new video; a retry of a failed try never pays twice either way.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "images",
        "images_conn_id",
        "seed",
        "model",
        "mode",
        "empiriolabs_conn_id",
        "extra_params",
    )
    operator_extra_links = (EmpirioLabsJobLink(),)
    ui_color = "#f5d0fe"

    #: Where the job record is kept across tries. Renaming it breaks reattachment of tasks in flight.
    external_id_key = "empiriolabs_job_id"

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
        duration: float | None = None,
        seed: int | str | None = None,
        watermark: bool | None = None,
        generate_audio: bool | None = None,
        template: str | None = None,
        extend_from: dict[str, str] | None = None,
        extra_params: dict[str, Any] | None = None,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | timedelta = 3600.0,
        max_cost_usd: float | None = None,
        hook_params: dict[str, Any] | None = None,
        regenerate: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.regenerate = regenerate
        self._rate_limited_since = time.time()  # replaced by the first deferral's when resumed after one
        self.prompt = prompt
        self.model = model
        self.mode = mode
        self.images = images
        self.images_conn_id = images_conn_id
        self.aspect_ratio = aspect_ratio
        self.resolution = resolution
        self.duration = duration
        self.seed = seed
        self.watermark = watermark
        self.generate_audio = generate_audio
        self.template = template
        self.extend_from = extend_from
        self.extra_params = extra_params
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.max_cost_usd = max_cost_usd
        self.hook_params = hook_params or {}
        self._job_id: str | None = None
        with naming_the_task(self):
            # A string, NaN or infinity here would fail (or never end) the task at run time: refuse it now.
            if not _is_finite_number(poll_interval) or poll_interval <= 0:
                raise ValueError(f"poll_interval: must be a number of seconds more than 0 (got {poll_interval!r})")
            if not _is_finite_number(seconds) or seconds <= 0:
                raise ValueError(f"timeout: must be more than 0 seconds, a number or a timedelta (got {timeout!r})")
            self.timeout = float(seconds)
            if max_cost_usd is not None and (not _is_finite_number(max_cost_usd) or max_cost_usd < 0):
                raise ValueError(f"max_cost_usd: must be a number of USD, 0 or more (got {max_cost_usd!r})")
            check_hook_params(self.hook_params)
            self._check_literals()

    # -- the request ------------------------------------------------------------------------------

    def _request_fields(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "model": self.model,
            "mode": self.mode,
            "images": with_stand_ins(self.images),  # files are checked with stand-ins, uploaded on submit
            "aspect_ratio": self.aspect_ratio,
            "resolution": self.resolution,
            "duration": self.duration,
            "seed": self.seed,
            "watermark": self.watermark,
            "generate_audio": self.generate_audio,
            "template": self.template,
            "extend_from": self.extend_from,
            "extra_params": self.extra_params,
        }

    def _check_literals(self) -> None:
        """
        Refuse, when the DAG is parsed, what the literal arguments already get wrong.

        A templated field is only known at run time: it gets a stand-in chosen so that it cannot
        fail a rule by itself, and a templated ``mode`` passes if any mode it could render to does.
        """
        fields = self._request_fields()
        templated = {name for name in self.template_fields if name in fields and is_template(fields[name])}
        if "model" in templated:
            return  # which rules apply depends on the model
        for name in templated - {"images", "mode"}:
            fields[name] = _PARSE_TIME_STAND_INS.get(name)
        modes = ["auto", "t2v", "i2v", "r2v"] if "mode" in templated else [fields["mode"]]
        first_error: EmpirioLabsRequestError | None = None
        for mode in modes:
            candidate = {**fields, "mode": mode}
            if "images" in templated:
                # The count is unknown: assume one the mode allows, so only other rules can fail.
                count = {"i2v": 1, "r2v": MAX_REFERENCE_IMAGES}.get(mode if isinstance(mode, str) else "", 0)
                candidate["images"] = [f"https://stand-in.invalid/{n}.png" for n in range(count)]
            try:
                request = self._build_request(candidate)
            except EmpirioLabsRequestError as error:
                first_error = first_error or error
                continue
            self._check_cost(request)  # model, resolution and duration are never templated here
            return
        assert first_error is not None
        raise first_error

    def _check_cost(self, request: VideoRequest) -> None:
        """Refuse a request whose estimate exceeds ``max_cost_usd`` (or cannot be estimated under a cap)."""
        problem = request.cost_problem(self.max_cost_usd)
        if problem:
            raise EmpirioLabsRequestError(f"{problem}; nothing was sent")

    @staticmethod
    def _build_request(fields: dict[str, Any]) -> VideoRequest:
        return VideoRequest.build(**fields)

    @cached_property
    def request(self) -> VideoRequest:
        """The rendered request, validated; a task fails here, before anything is sent."""
        with task_outcome():  # an invalid request, or one over max_cost_usd, fails without retries
            request = self._build_request(self._request_fields())
            self._check_cost(request)
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
    #   4. push the job id to XCom, wait (here or in the triggerer), record "done" with the summary.

    def execute(self, context: Context) -> Any:
        _ = self.request  # validate before the task state store or the API is touched
        with task_outcome():  # errors no retry can fix fail the task without retries (see _outcome)
            return self._execute(context, self._ledger(context))

    def _ledger(self, context: Context) -> _Ledger:
        images: Any = self.images  # the references as rendered: which files, not their stand-ins
        return _Ledger(
            context.get("task_state_store"),
            self.external_id_key,
            fingerprint(self.request, images),
            self.log,
            generation=self._generation(context),
        )

    def _generation(self, context: Context) -> int | None:
        """
        The first try number since the task was last cleared (Airflow's own formula), or ``None``.

        Tries of one generation are retries of one request: they share its job whatever their
        templates render to. Only a clear starts a generation that may ask for a new video.
        """
        max_tries = getattr(context.get("ti"), "max_tries", None)
        if not isinstance(max_tries, int) or isinstance(max_tries, bool):
            return None
        return max_tries - (self.retries or 0) + 1

    def _execute(self, context: Context, ledger: _Ledger) -> Any:
        record = ledger.load()
        # Cleared since the record was written: a changed request, or regenerate=True, asks for a new
        # video; the same request gets its job (or its finished video) back.
        cleared = record is not None and not ledger.same_generation(record)
        if record is not None and cleared and (self.regenerate or not record.is_for(ledger.fingerprint)):
            reason = "regenerate=True" if self.regenerate else "the request changed"
            self.log.info("Submitting a new job (%s since job %s of an earlier run)", reason, record.job_id)
            record = None
        if record is not None and record.state == "sending":
            raise EmpirioLabsSubmissionUnknownError(
                f"an earlier try of this task sent the request (at {record.updated_at}) and stopped before it "
                "could record the answer, so whether a job was created (and billed) is unknown; it is not sent "
                "again: check the account's usage, then clear the task with regenerate=True to pay for a new job"
            )
        if record is not None and record.state == "done" and record.summary:
            if record.urls_alive():
                return self._reuse(record, context)
            self.log.info("The video of job %s is past its URLs' 7 days: submitting a new job", record.job_id)
        elif record is not None and record.state == "accepted" and record.job_id:
            job = self._reattach(record.job_id, context)
            if job is not None:
                return self._wait(job, context, ledger, accepted_at=None)
        job_id, accepted_at = self._submit(context, ledger)
        if not self.wait_for_completion:
            return job_id
        return self._wait(self._first_poll(job_id, accepted_at), context, ledger, accepted_at=accepted_at)

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
        request = self._with_uploaded_images(self.request)
        estimate = request.estimated_cost_usd()
        unpriced = request.unpriced_fields()
        self.log.info(  # no cost here: it is logged with "Sending" only when the request goes out
            "Submitting %s, %s, %g s of video",
            request.model,
            request.resolution or DEFAULT_RESOLUTION,
            request.billed_seconds,
        )
        announced = _Announced(
            ledger,
            lambda: self.log.info(
                "Sending %s, %s, %g s of video to EmpirioLabs (connection %r): estimated %s",
                request.model,
                request.resolution or DEFAULT_RESOLUTION,
                request.billed_seconds,
                self.empiriolabs_conn_id,
                f"${estimate:.2f}"
                if estimate is not None
                else f"cost unknown ({', '.join(unpriced)} not priced)"
                if unpriced
                else "cost unknown (no price for this model)",
            ),
        )
        try:
            job_id = self.hook.submit_video(request, guard=announced)
        except EmpirioLabsSubmissionUnknownError:
            raise  # the record stays "sending": no later try sends it again
        except _RecordUnwritable as error:
            raise AirflowException(f"{error}; nothing was sent") from None
        except EmpirioLabsRateLimitError as error:
            give_up_at = self._rate_limited_since + self.timeout
            if not self.deferrable or time.time() >= give_up_at:
                raise
            # The account's budget is spent for a while: wait for it in the triggerer, not in a worker
            # slot, for at most ``timeout`` in all (a quota that never lifts fails the task).
            wait = min(max(error.retry_after or 60.0, 1.0), MAX_RATE_LIMIT_DEFERRAL_SECONDS)
            self.log.warning(
                "EmpirioLabs is rate limiting the account (%s): nothing was sent; trying again in %.0f s", error, wait
            )
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

    def _with_uploaded_images(self, request: VideoRequest) -> VideoRequest:
        """The request with its file images uploaded: only on submission, never on a reattaching retry."""
        rendered: Any = self.images  # a list (or one reference) once templates have rendered
        images = [rendered] if isinstance(rendered, str) else list(rendered or [])
        if not any(needs_upload(ref) for ref in images):
            return request
        uploader = ReferenceImageUploader(self.hook, conn_id=self.images_conn_id, log=self.log)
        # Validated again: the paths the API gave back are answers from the network.
        return VideoRequest.model_validate({**request.model_dump(), "images": uploader.resolve(images)})

    def _push_job(self, job_id: str, context: Context) -> None:
        context["ti"].xcom_push(key="job_id", value=job_id)
        context["ti"].xcom_push(key="job_url", value=self.hook.job_url(job_id))
        # What the EmpirioLabs view shows beside the video (URLs in it redacted: no signature).
        context["ti"].xcom_push(key="request", value=request_record(self.request, self.empiriolabs_conn_id))

    def _first_poll(self, job_id: str, accepted_at: float) -> Job:
        """The new job's first state; a 404 right after acceptance is the API not knowing it yet."""
        while True:
            try:
                return self.hook.get_job(job_id)
            except EmpirioLabsNotFoundError:
                if not not_found_yet(accepted_at):
                    raise
                self.log.info("EmpirioLabs job %s: not known yet; polling again", job_id)
                time.sleep(min(self.poll_interval, 2.0))

    def _wait(self, job: Job, context: Context, ledger: _Ledger, *, accepted_at: float | None) -> Any:
        """Wait for the job (here or in the triggerer) and return its summary, or its id without waiting."""
        job_id = job.job_id
        if not self.wait_for_completion:
            return job_id
        end_time = time.time() + self.timeout
        # The worker times its polls like the trigger, and both feed this process's render times.
        key, expected = render_key(self.request), self.request.expected_render_seconds()
        planner = PollPlanner(self.poll_interval, self._expected_done_at(job), key=key, expected_seconds=expected)
        while not job.status.is_terminal():
            if self.deferrable:
                self._log_eta(job, end_time)
                self.defer(
                    trigger=EmpirioLabsJobTrigger(
                        job_id=job_id,
                        empiriolabs_conn_id=self.empiriolabs_conn_id,
                        poll_interval=self.poll_interval,
                        end_time=end_time,
                        hook_params=self.hook_params,
                        expected_done_at=self._expected_done_at(job),
                        accepted_at=accepted_at,
                        render_key=key.to_kwargs(),
                        expected_seconds=expected,
                    ),
                    method_name="execute_complete",
                    timeout=None,  # the trigger owns the deadline and reports it
                )
            if time.time() >= end_time:
                raise AirflowException(f"timed out after {self.timeout:g} s waiting for EmpirioLabs job {job_id}")
            self.log.info("EmpirioLabs job %s: %s", job_id, job.state_text)
            time.sleep(min(planner.delay_after(job), max(end_time - time.time(), 0)))
            job = self.hook.get_job(job_id)
        planner.finished(job)
        return self._finish(job, ledger)  # the job this poll saw: no second GET to disagree with it

    def _log_eta(self, job: Job, end_time: float) -> None:
        """Say, before going quiet in the triggerer, when the video should be ready and when waiting ends."""
        now = time.time()
        eta = max(self._expected_done_at(job) - now, 0.0)
        self.log.info(
            "EmpirioLabs job %s (%s): waiting in the triggerer; expected ready in about %.0f s (%s UTC), "
            "polling at most every %g s, giving up after %.0f s (%s UTC)",
            job.job_id,
            job.state_text,
            eta,
            time.strftime("%H:%M:%S", time.gmtime(now + eta)),
            self.poll_interval,
            max(end_time - now, 0.0),
            time.strftime("%H:%M:%S", time.gmtime(end_time)),
        )

    def _expected_done_at(self, job: Job) -> float:
        """When the render should end: from the job's creation time if the API's clock is sane, else now."""
        now = time.time()
        created = job.created_at.timestamp() if job.created_at else now
        started = created if now - 3600 <= created <= now else now
        return started + self.request.expected_render_seconds()

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: the summary on success, an error naming the job otherwise."""
        with task_outcome():
            job = finished_job(event, self.hook)
            return self._finish(job, self._ledger(context))

    def _finish(self, job: Job, ledger: _Ledger) -> dict[str, Any]:
        raise_for_failed_job(job)
        summary = seal_summary(
            job.summary(model=self.model, resolution=self.resolution, seconds=self.request.billed_seconds),
            self.hook.settings.api_key,
        )
        ledger.save("done", job_id=job.job_id, summary=summary)  # a retry after this returns it, unpaid
        self.log.info(
            "EmpirioLabs job %s %s: %d output(s), %s s of video, cost %s",
            job.job_id,
            job.raw_status,
            len(job.output_urls),
            summary["video_seconds"],
            "unknown" if summary["cost_usd"] is None else f"${summary['cost_usd']:.2f}",
        )
        return summary

    def on_kill(self) -> None:
        # No cancel endpoint is documented: the job keeps running (and is billed). Say which one.
        self.log.warning(
            "Task killed; EmpirioLabs job %s keeps running (the API has no cancel endpoint) and a retry "
            "of this task reattaches to it",
            self._job_id or "(not submitted yet)",
        )
