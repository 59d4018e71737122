"""
What a finished job actually cost: the account's usage event for it, else the estimate, labelled.

The API's usage events (``GET /v1/account/usage``) carry ``cost.amount``, "the single source of
truth for what was charged", and ``output_urls``, but no job id (``empiriolabs-catalogue.md``
section 6): an event is the job's when it lists one of the job's output URLs. A signed URL may be
signed again for each answer, so URLs are compared as given first and, only when none is equal,
without their query. No URL is ever logged.

The lookup is one bounded call (a few events of the job's model, one try, a short deadline); an
answer that cannot be read, an error, or no matching event never fails the task: the summary then
keeps the job's own figure or the estimate, and says which (``cost_source``).

Every operator's finish step calls :func:`with_actual_cost` once its job succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_empiriolabs.models.account import CostSource, UsageEvent
from airflow_provider_empiriolabs.redaction import redact_log_text

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import Job

__all__ = ["USAGE_EVENTS_READ", "USAGE_READ_SECONDS", "usage_event_for", "with_actual_cost"]

#: How many of the model's latest usage events are read: the job just finished, so it is among them.
USAGE_EVENTS_READ = 10
#: The longest the usage call may take, waiting for the request budget included.
USAGE_READ_SECONDS = 10.0


def _without_query(url: str) -> str | None:
    """The URL without its query and fragment; ``None`` for one ``urlsplit`` cannot read (IPv6 brackets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


def usage_event_for(output_urls: Sequence[str], events: Iterable[UsageEvent]) -> UsageEvent | None:
    """
    The usage event of the job whose outputs are ``output_urls``: the first (newest) event with a
    cost that lists one of them, compared as given, else without their query; ``None`` if none does.

    :param output_urls: the job's output URLs, as the job reported them.
    :param events: the account's usage events, newest first.
    """
    priced = [event for event in events if event.cost_usd is not None and event.output_urls]
    wanted = set(output_urls)
    for event in priced:
        if wanted.intersection(event.output_urls):
            return event
    bare = {_without_query(url) for url in output_urls} - {None}
    for event in priced:
        if bare.intersection(_without_query(url) for url in event.output_urls):
            return event
    return None


def _debited(job: Job, hook: EmpirioLabsHook, model: str | None, log: Any) -> float | None:
    """The cost of the job's usage event, or ``None`` (said in the log) when none can be read or matched."""
    if not job.output_urls:
        log.info("Job %s reported no output URL: its usage event cannot be matched", job.job_id)
        return None
    try:
        usage = hook.get_account_usage_once(USAGE_EVENTS_READ, model, USAGE_READ_SECONDS)
    except Exception as error:  # any failure: the figure has a fallback, and the video is made
        log.warning(
            "Could not read the account's usage for job %s (%s: %s); the cost shown is not the debited one",
            job.job_id,
            type(error).__name__,
            redact_log_text(str(error))[:300],
        )
        return None
    event = usage_event_for(job.output_urls, usage.events)
    if event is None:
        log.info(
            "No usage event among the account's latest %d lists an output of job %s; the cost shown is not the "
            "debited one",
            len(usage.events),
            job.job_id,
        )
        return None
    return event.cost_usd


def with_actual_cost(
    summary: Mapping[str, Any], job: Job, hook: EmpirioLabsHook, *, model: str | None, log: Any
) -> dict[str, Any]:
    """
    The summary of a finished job with ``cost_usd`` the debited cost and ``cost_source`` saying
    where it comes from: ``usage`` (the account's usage event), ``job`` (the job's own report), or
    ``estimate`` (the summary's estimate, ``None`` when unpriced).

    :param summary: the job's summary (:meth:`.Job.summary`), its ``cost_usd`` the job's figure or the estimate.
    :param job: the finished job, its output URLs as reported (never logged).
    :param hook: the hook of the job's account.
    :param model: the model the job ran, to read only its events.
    :param log: where to say which figure was used.
    """
    debited = _debited(job, hook, model, log) if job.status.is_success() else None
    source: CostSource
    cost: float | None
    if debited is not None:
        cost, source = debited, "usage"
    elif job.cost_usd is not None:
        cost, source = job.cost_usd, "job"
    else:
        cost, source = summary.get("cost_usd"), "estimate"
    if debited is not None:
        log.info("Job %s cost $%.4f, as debited from the account (its usage event)", job.job_id, debited)
    return {**summary, "cost_usd": cost, "cost_source": source}
