"""
A long video as a chain of jobs: each link extends the video of the link before it.

A film of 45 s is three links of 15 s: the first starts from a prompt (or extends a stored video
given as ``extend_from``), and every later link is sent with ``extend_from={"job_id": <the
previous link's job>}``. Every link is a :class:`~airflow_provider_empiriolabs.models.VideoRequest`
built by the same rules as the generate operator's request, all of them before anything is sent,
and the whole chain's estimate is held to ``max_cost_usd`` before the first link is sent.

Each link has its own job record (``operators/_job_record.py``), under its own key: a retry after
a crash between link *k* and link *k+1* reuses the finished links 1..*k* (or reattaches to the one
in flight) and never pays for them again.

**How an extension is priced** (:func:`priced_as_generation`, the one place this rule lives):
EmpirioLabs publishes no price for extending a video. The chain prices each link as a generation
of its own seconds, as if ``extend_from`` were absent. This is INFERRED from the documented
per-second prices, not documented. A single :class:`EmpirioLabsGenerateVideoOperator` with
``extend_from`` stays unpriced (refused under ``max_cost_usd``): only the chain, which says so,
takes the inference.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException

from airflow_provider_empiriolabs._outcome import JobVerdict, judge_job, raise_for_failed_job, task_outcome
from airflow_provider_empiriolabs._templating import is_template
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsRateLimitError,
    EmpirioLabsRequestError,
    EmpirioLabsSubmissionUnknownError,
    naming_the_task,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook, check_hook_params
from airflow_provider_empiriolabs.links.empiriolabs import EmpirioLabsJobLink
from airflow_provider_empiriolabs.models import HAPPYHORSE_MODEL, Job, VideoRequest, request_fields
from airflow_provider_empiriolabs.models.text import shown
from airflow_provider_empiriolabs.operators._actual_cost import with_actual_cost
from airflow_provider_empiriolabs.operators._checks import check_wait_settings
from airflow_provider_empiriolabs.operators._fingerprint import request_fingerprint
from airflow_provider_empiriolabs.operators._job_record import Announced, Ledger, Next, RecordUnwritable, generation
from airflow_provider_empiriolabs.operators._waiting import (
    WaitsOutRateLimits,
    accepted_job,
    expected_done_at,
    log_eta,
    log_finished,
    wait_here,
)
from airflow_provider_empiriolabs.sealing import SEALED_KEY, seal_summary
from airflow_provider_empiriolabs.triggers._events import finished_job
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger
from airflow_provider_empiriolabs.triggers.polling import PollPlanner, render_key
from airflow_provider_empiriolabs.ui.request_record import request_record

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

    from airflow_provider_empiriolabs.models.spec import ModelSpec

__all__ = ["EmpirioLabsVideoChainOperator", "chain_cost_problem", "chain_estimate", "priced_as_generation"]

#: The fields the chain sets on every link itself: a shot may not give them.
CHAIN_FIELDS = ("model", "extend_from", "images")
#: Stands for the previous link's job while the chain is checked: its id exists only once accepted.
PREVIOUS_LINK_STAND_IN = "job_previous_link"


def shot_fields() -> tuple[str, ...]:
    """The request fields a shot (or ``shot_defaults``) may give: every field but :data:`CHAIN_FIELDS`."""
    return tuple(name for name in request_fields(VideoRequest) if name not in CHAIN_FIELDS)


def priced_as_generation(link: VideoRequest) -> VideoRequest:
    """
    The request a chain link is priced as: the same request without ``extend_from``.

    INFERRED: EmpirioLabs publishes no price for extending a video; the chain assumes an
    extension costs what a generation of its own seconds costs (see the module's docstring).

    :param link: a link of the chain, validated.
    """
    return link.model_copy(update={"extend_from": None})


def chain_estimate(links: Sequence[VideoRequest]) -> float | None:
    """The whole chain's estimate in USD (the sum of its links'), ``None`` when a link has none."""
    estimates = [priced_as_generation(link).estimated_cost_usd() for link in links]
    return None if any(cost is None for cost in estimates) else round(sum(c for c in estimates if c is not None), 6)


def chain_cost_problem(links: Sequence[VideoRequest], max_cost_usd: float | None) -> str | None:
    """
    Why the chain may not start under the cap, or ``None`` when it may (or there is no cap).

    :param links: every link of the chain, validated.
    :param max_cost_usd: the cap for the whole chain in USD; ``None`` means no cap.
    """
    if max_cost_usd is None:
        return None
    for index, link in enumerate(links):
        priced = priced_as_generation(link)
        if priced.estimated_cost_usd() is None:
            return f"shots[{index}]: {priced.cost_problem(max_cost_usd)}"
    total = chain_estimate(links)
    assert total is not None
    if total > max_cost_usd:
        parts = " + ".join(f"${priced_as_generation(link).estimated_cost_usd():.2f}" for link in links)
        return (
            f"max_cost_usd: the chain's estimated cost ${total:.2f} ({len(links)} links: {parts}; an extension "
            f"priced as a generation of its seconds) exceeds the limit of ${max_cost_usd:.2f}"
        )
    return None


def _shot_problem(index: int, shot: Any, allowed: Sequence[str]) -> str | None:
    where = f"shots[{index}]" if index >= 0 else "shot_defaults"
    if not isinstance(shot, Mapping):
        return (
            f"{where}: must be a mapping of request fields such as {{'prompt': ..., 'duration': 15}}, not {shown(shot)}"
        )
    for key in shot:
        if key in CHAIN_FIELDS:
            return (
                f"{where}.{key}: set by the chain, not by a shot (model and the first link's extend_from are the "
                "operator's arguments; every later link extends the one before; images are not taken in a chain)"
            )
        if key not in allowed:
            return f"{where}.{shown(key)}: not a request field; a shot takes {', '.join(allowed)}"
    return None


class EmpirioLabsVideoChainOperator(WaitsOutRateLimits, BaseOperator):
    """
    Make a long video as a chain of jobs, each link extending the video of the one before.

    Every link is checked (by the generate operator's rules) and the whole chain's estimate held to
    ``max_cost_usd`` before the first link is sent. Links run in order; each is paid once across
    retries, clears and crashes (a job record per link). Returns the chain's summary: every link's
    summary (``links``), the final video's ``job_id`` and URLs (redacted, and sealed as every
    summary's), ``video_seconds`` and ``cost_usd`` over all links, and ``estimated_cost_usd``.

    :param shots: the storyboard, one mapping per link: ``prompt`` and the link's own request fields
        (``duration``, ``resolution``, ``seed``...). Templated (an upstream task's XCom works).
    :param model: the model of every link; ``happyhorse-1-1`` by default.
    :param extend_from: what the FIRST link extends: ``{"video_url": ...}`` (a stored video) or
        ``{"job_id": ...}``; by default the first link starts from its prompt.
    :param shot_defaults: request fields for every shot, which a shot's own value overrides.
    :param empiriolabs_conn_id: the Airflow connection of the account. Templated.
    :param deferrable: wait for each link in the triggerer, freeing the worker slot (and wait out the
        account's rate limit there when it refuses a link, as a single job does).
    :param poll_interval: the longest wait between two polls.
    :param timeout: how long to wait for each link, in seconds or as a timedelta.
    :param max_cost_usd: refuse, before the first link is sent, a chain whose estimate exceeds
        this. An extension link is priced as a generation of its own seconds: INFERRED, since
        EmpirioLabs publishes no extension price.
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook`.
    :param regenerate: after a clear, pay for a new chain even when an earlier run made one for
        the same shots; a retry never pays twice for a link either way.
    """

    template_fields: Sequence[str] = ("shots", "shot_defaults", "model", "extend_from", "empiriolabs_conn_id")
    operator_extra_links = (EmpirioLabsJobLink(),)
    ui_color = "#e9d5ff"

    #: The job record of link ``i`` is kept under ``f"{external_id_key}_{i}"``. Renaming it breaks
    #: reattachment of chains in flight.
    external_id_key = "empiriolabs_chain_link"

    def __init__(
        self,
        *,
        shots: list[dict[str, Any]] | XComArg,
        model: str = HAPPYHORSE_MODEL,
        extend_from: dict[str, str] | str | None = None,
        shot_defaults: dict[str, Any] | None = None,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | timedelta = 3600.0,
        max_cost_usd: float | None = None,
        hook_params: dict[str, Any] | None = None,
        regenerate: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shots = shots
        self.model = model
        self.extend_from = extend_from
        self.shot_defaults = shot_defaults or {}
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_cost_usd = max_cost_usd
        self.hook_params = hook_params or {}
        self.regenerate = regenerate
        self._job_id: str | None = None
        self._resumed: Job | None = None  # the job a trigger waited for, when resumed
        self._rate_limited_since = time.time()  # replaced by the first deferral's when resumed after one
        # Set when resumed: the whole chain was held to max_cost_usd before its first link was sent, and a
        # price read later (a catalogue read failing back to the shipped spec) must not lose a paid link.
        self._admitted = False
        self._live_spec: ModelSpec | None = None  # the live catalogue's spec, where it differs from the shipped one
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        # Which values are templates (their rendered text is read as the field's type), per shot.
        self._templated_defaults = frozenset(k for k, v in self._mapping(self.shot_defaults).items() if is_template(v))
        self._templated_shots = (
            [frozenset(k for k, v in self._mapping(shot).items() if is_template(v)) for shot in shots]
            if isinstance(shots, list)
            else None
        )
        with naming_the_task(self):
            self.timeout = check_wait_settings(poll_interval, seconds, timeout, max_cost_usd)
            check_hook_params(self.hook_params)
            if self._literal():  # refuse now what the literal storyboard already gets wrong
                self._check(self._build_links())
            elif isinstance(shots, list):  # values rendered later: the shots' fields are known now
                for index, shot in enumerate(shots):
                    problem = _shot_problem(index, shot, shot_fields())
                    if problem:
                        raise EmpirioLabsRequestError(problem)

    @staticmethod
    def _mapping(value: Any) -> Mapping[str, Any]:
        return value if isinstance(value, Mapping) else {}

    def _literal(self) -> bool:
        """Whether every argument of the links is known when the DAG is parsed (no template, no XCom)."""
        if not isinstance(self.shots, list) or is_template(self.model) or is_template(self.extend_from):
            return False
        if self._templated_defaults or is_template(self.shot_defaults):
            return False
        return not any(self._templated_shots or ()) and not any(is_template(shot) for shot in self.shots)

    # -- the links ------------------------------------------------------------------------------------

    def _build_links(self, previous: Sequence[str] = (), spec: ModelSpec | None = None) -> list[VideoRequest]:
        """
        Every link as a request, checked; bad input fails naming the shot, the field and the rule.

        :param previous: the job ids of the links already accepted: link ``i`` extends ``previous[i - 1]``
            (a stand-in job id where it is not known yet).
        :param spec: the model's spec with the live catalogue's values (``None``: the shipped spec).
        """
        shots = self.shots
        if not isinstance(shots, list) or not shots:
            raise EmpirioLabsRequestError(f"shots: must be a non-empty list of shots (mappings), not {shown(shots)}")
        allowed = shot_fields()
        problem = _shot_problem(-1, self.shot_defaults, allowed)
        if problem:
            raise EmpirioLabsRequestError(problem)
        templated_shots = self._templated_shots or [frozenset()] * len(shots)
        links = []
        for index, shot in enumerate(shots):
            problem = _shot_problem(index, shot, allowed)
            if problem:
                raise EmpirioLabsRequestError(problem)
            if index == 0:
                source: Any = self.extend_from
            else:
                source = {"job_id": previous[index - 1] if index - 1 < len(previous) else PREVIOUS_LINK_STAND_IN}
            templated = self._templated_defaults - set(shot) | (
                templated_shots[index] if index < len(templated_shots) else frozenset()
            )
            if isinstance(source, str):  # a rendered template's text, read as the field's type
                templated |= {"extend_from"}
            try:
                links.append(
                    VideoRequest.build(
                        from_templates=templated,
                        spec=spec,
                        **{**self.shot_defaults, **shot, "model": self.model, "extend_from": source},
                    )
                )
            except EmpirioLabsRequestError as error:
                raise EmpirioLabsRequestError(f"shots[{index}]: {error}") from None
        return links

    def _check(self, links: list[VideoRequest]) -> None:
        problem = chain_cost_problem(links, self.max_cost_usd)
        if problem:
            raise EmpirioLabsRequestError(f"{problem}; nothing was sent")

    @cached_property
    def links(self) -> list[VideoRequest]:
        """
        The rendered chain, every link checked and the whole estimate held to the cap; nothing sent.

        As a single job's request is: checked by the shipped spec first (bad input is refused before
        the catalogue is read), then by the live catalogue's values, which the estimate and cap use.
        """
        with task_outcome(), naming_the_task(self, running=True):
            links = self._build_links()
            if links[0].spec is not None and (live := self.hook.model_spec(links[0].model)) != links[0].spec:
                self._live_spec = live
                links = self._build_links(spec=live)
            if not self._admitted:  # capped before the first link; a resumed chain is not refused for a later read
                self._check(links)
        return links

    def _link(self, index: int, previous: Sequence[str]) -> VideoRequest:
        """Link ``index`` as it is sent: extending the job of the link before it."""
        _ = self.links  # the chain checked first, and the live spec read, whatever the caller did before
        with task_outcome(), naming_the_task(self, running=True):
            return self._build_links(previous, spec=self._live_spec)[index]

    @cached_property
    def hook(self) -> EmpirioLabsHook:
        return EmpirioLabsHook(self.empiriolabs_conn_id, **self.hook_params)

    def _ledger(self, context: Context, index: int, request: VideoRequest) -> Ledger:
        """Link ``index``'s job record; its fingerprint holds the job it extends (a new previous link, a new link)."""
        return Ledger(
            context.get("task_state_store"),
            f"{self.external_id_key}_{index}",
            request_fingerprint(
                request, [], base_url=self.hook.base_url, api_key=self.hook.settings.api_key, images_conn_id=None
            ),
            self.log,
            generation=generation(context.get("ti"), self.retries),
            ti=context.get("ti"),
        )

    # -- execution ----------------------------------------------------------------------------------
    #
    # One try: check every link and the whole estimate (nothing sent); then, link by link, read its
    # job record and act on it (reuse a finished link, reattach to one in flight, fail on an unknown
    # outcome, else send it), wait for it (here or in the triggerer, resuming with the next link),
    # and record it done before the next link is sent.

    def execute(self, context: Context) -> dict[str, Any]:
        estimate = chain_estimate(self.links)  # checks the chain before the task state store or the API is touched
        self.log.info(
            "Chain of %d links, %g s of video: estimated %s (an extension priced as a generation of its seconds)",
            len(self.links),
            sum(link.billed_seconds for link in self.links),
            "unknown" if estimate is None else f"${estimate:.2f}",
        )
        with task_outcome():
            return self._run(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """
        Resume after a link's trigger fired: record that link done, then go on with the next one.

        Which link finished is read from the job records (the one ``accepted`` with the event's
        job), not from deferral kwargs: ``dag.test()`` drops them, and the records are the truth.
        """
        with task_outcome():
            if context.get("task_state_store") is None:
                raise AirflowException(
                    "a deferred chain resumes from its job records, and this task has no task state store; "
                    "nothing is sent again (set deferrable=False)"
                )
            self._resumed = finished_job(event, self.hook)
            self._admitted = True
            return self._run(context)

    def execute_after_rate_limit(
        self, context: Context, event: Any = None, rate_limited_since: float | None = None
    ) -> Any:
        """Resume after a link waited out the account's rate limit: the chain was capped before its first link."""
        self._admitted = True
        return super().execute_after_rate_limit(context, event, rate_limited_since)

    def _run(self, context: Context) -> dict[str, Any]:
        finished: list[dict[str, Any]] = []
        for index in range(len(self.links)):
            request = self._link(index, [summary["job_id"] for summary in finished])
            finished.append(self._one_link(context, index, request))
        return self._summary(finished)

    def _one_link(self, context: Context, index: int, request: VideoRequest) -> dict[str, Any]:
        """Link ``index``'s finished summary: reused, waited for after reattaching, or sent and waited for."""
        ledger = self._ledger(context, index, request)
        decision = ledger.decide(regenerate=self.regenerate)
        record = decision.record
        if decision.next is Next.UNKNOWN:
            adopted = self._resumed
            if adopted is not None and record is not None and record.state == "sending":
                # The trigger waited for this link's job: its acceptance, unrecorded (a failed write), is known now.
                self._resumed = None
                self._push_job(adopted.job_id, context)
                return self._finish(adopted, request, ledger)
            raise EmpirioLabsSubmissionUnknownError(f"shots[{index}]: {ledger.unknown_outcome(decision)}")
        if decision.next is Next.REUSE and record is not None and record.summary is not None:
            self.log.info(
                "Link %d: job %s made it already (%s); not paying again", index, record.job_id, record.updated_at
            )
            self._push_job(record.summary["job_id"], context)
            return record.summary
        resumed, self._resumed = self._resumed, None
        if decision.next is Next.REATTACH and record is not None and record.job_id:
            if resumed is not None and resumed.job_id == record.job_id:  # the link the trigger waited for
                self._push_job(resumed.job_id, context)
                return self._finish(resumed, request, ledger)
            job = self.hook.get_job(record.job_id)
            if judge_job(job) is not JobVerdict.RESUBMIT:
                self.log.info(
                    "Link %d: reattaching to job %s of an earlier try (%s)", index, job.job_id, job.raw_status
                )
                self._push_job(job.job_id, context)
                return self._wait(job, context, request, ledger, accepted_at=None)
            self.log.warning("Link %d: job %s failed unbilled: sending the link again", index, job.job_id)
        elif decision.reason:
            self.log.info("Link %d: %s", index, decision.reason)
        if resumed is not None:  # the job the trigger waited for is in no record: sending could pay twice
            raise EmpirioLabsSubmissionUnknownError(
                f"shots[{index}]: the trigger waited for job {resumed.job_id}, which no link's job record names "
                "(a record was deleted or edited); nothing is sent. Check the account's usage, then clear the task"
            )
        job_id, accepted_at = self._submit(context, index, request, ledger)
        return self._wait(accepted_job(job_id, accepted_at), context, request, ledger, accepted_at=accepted_at)

    def _submit(self, context: Context, index: int, request: VideoRequest, ledger: Ledger) -> tuple[str, float]:
        announced = Announced(ledger, self.log, priced_as_generation(request), self.empiriolabs_conn_id)
        announced.submitting()
        try:
            job_id = self.hook.submit_video(request, guard=announced)
        except RecordUnwritable as error:
            raise AirflowException(f"shots[{index}]: {error}; nothing was sent") from None
        except EmpirioLabsRateLimitError as error:  # refused, so not sent: the links before it stay paid once
            self.wait_out_rate_limit(error)
        accepted_at = time.time()
        ledger.save("accepted", job_id=job_id)  # first, before anything else can fail
        self.log.info("Link %d of %d: EmpirioLabs accepted job %s", index + 1, len(self.links), job_id)
        self._push_job(job_id, context)
        return job_id, accepted_at

    def _push_job(self, job_id: str, context: Context) -> None:
        self._job_id = job_id
        context["ti"].xcom_push(key="job_id", value=job_id)  # the link in flight: the task's job link opens it
        context["ti"].xcom_push(key="job_url", value=self.hook.job_url(job_id))
        # What the EmpirioLabs view shows beside the film and counts once in the spend: the whole chain.
        context["ti"].xcom_push(key="request", value=self._chain_record())

    def _chain_record(self) -> dict[str, Any]:
        """The last shot's request as the view records a request, with the whole chain's estimate and seconds."""
        links = self.links
        record = request_record(links[-1], self.empiriolabs_conn_id, billed=priced_as_generation(links[-1]))
        record["estimated_cost_usd"] = chain_estimate(links)
        record["billed_seconds"] = sum(link.billed_seconds for link in links)
        record["shots"] = len(links)
        return record

    def _wait(
        self,
        job: Job,
        context: Context,
        request: VideoRequest,
        ledger: Ledger,
        *,
        accepted_at: float | None,
    ) -> dict[str, Any]:
        end_time = time.time() + self.timeout
        key, expected = render_key(request), request.expected_render_seconds()
        done_at = expected_done_at(job, request)
        if self.deferrable and not job.status.is_terminal():
            log_eta(self.log, job, done_at, end_time, self.poll_interval)
            self.defer(
                trigger=EmpirioLabsJobTrigger(
                    job_id=job.job_id,
                    empiriolabs_conn_id=self.empiriolabs_conn_id,
                    poll_interval=self.poll_interval,
                    end_time=end_time,
                    hook_params=self.hook_params,
                    expected_done_at=done_at,
                    accepted_at=accepted_at,
                    render_key=key.to_kwargs(),
                    expected_seconds=expected,
                ),
                method_name="execute_complete",
                timeout=None,  # the trigger owns the deadline and reports it
            )
        planner = PollPlanner(self.poll_interval, done_at, key=key, expected_seconds=expected)
        job = wait_here(self.hook, job, planner, end_time, self.timeout, self.log, accepted_at=accepted_at)
        planner.finished(job)
        return self._finish(job, request, ledger)

    def _finish(self, job: Job, request: VideoRequest, ledger: Ledger) -> dict[str, Any]:
        raise_for_failed_job(job)
        summary = job.summary(seconds=request.billed_seconds, price=priced_as_generation(request).estimated_cost_usd)
        summary = with_actual_cost(summary, job, self.hook, model=request.model, log=self.log)  # before sealing
        summary = seal_summary(summary, self.hook.settings.api_key)
        ledger.save("done", job_id=job.job_id, summary=summary)  # a retry after this reuses it, unpaid
        log_finished(self.log, job, summary)
        return summary

    def _summary(self, finished: list[dict[str, Any]]) -> dict[str, Any]:
        """The chain's summary: the final video's URLs (redacted and sealed) and every link's summary."""
        last = finished[-1]
        seconds: list[Any] = [summary.get("video_seconds") for summary in finished]
        costs: list[Any] = [summary.get("cost_usd") for summary in finished]
        # The chain's cost is only as sure as its least sure link's (an estimate, else the job's figure).
        sources = {summary.get("cost_source") for summary in finished}
        source = next((kind for kind in ("estimate", "job", "usage") if kind in sources), "estimate")
        return {
            "job_id": last["job_id"],
            "status": last["status"],
            "output_urls": last["output_urls"],
            SEALED_KEY: last[SEALED_KEY],
            "job_ids": [summary["job_id"] for summary in finished],
            "links": finished,
            "video_seconds": None if None in seconds else sum(seconds),
            "cost_usd": None if None in costs else round(sum(costs), 6),
            "cost_source": source,
            "estimated_cost_usd": chain_estimate(self.links),
        }

    def on_kill(self) -> None:
        self.log.warning(
            "Task killed; EmpirioLabs job %s keeps running (the API has no cancel endpoint) and a retry of this "
            "task reattaches to it, reusing the links already made",
            self._job_id or "(no link sent yet)",
        )
