"""The account's side of the API: uploaded files and the usage history, parsed tolerantly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_provider_empiriolabs.models.parsing import number, safe_text, urls_in
from airflow_provider_empiriolabs.models.text import is_http_url, is_job_id, is_uploaded_path, shown


class UploadedFile(BaseModel):
    """A file stored by ``POST /v1/files/upload``: its ``path`` is what generation requests accept."""

    model_config = ConfigDict(extra="allow")

    path: str

    @field_validator("path")
    @classmethod
    def _a_reference(cls, value: str) -> str:
        # The path goes into requests as an image: the same rule as a user's image reference.
        if not (is_uploaded_path(value) or is_http_url(value)):
            raise ValueError(f"path: {shown(value)} is not a bunny:// path or an http(s) URL")
        return value


#: Where a finished job's ``cost_usd`` comes from: its usage event (what the account was debited),
#: the job's own report, or the estimate made before sending (see ``operators/_actual_cost.py``).
CostSource = Literal["usage", "job", "estimate"]
COST_SOURCES: tuple[str, ...] = get_args(CostSource)


class UsageEvent(BaseModel):
    """One billed request in the account's usage history."""

    model_config = ConfigDict(extra="allow")

    job_id: str | None = None
    model: str | None = None
    status: str | None = None
    cost_usd: float | None = None
    output_urls: list[str] = Field(default_factory=list)


def _debited(event: Mapping[str, Any]) -> float | None:
    """An event's debited USD: ``cost.amount`` (DOC), else a bare number ``cost`` or ``cost_usd``."""
    cost = event.get("cost")
    amount = number(cost.get("amount") if isinstance(cost, Mapping) else cost)
    return amount if amount is not None else number(event.get("cost_usd"))


class AccountUsage(BaseModel):
    """The account's credit balance and its latest usage events."""

    balance_usd: float | None = None
    events: list[UsageEvent] = Field(default_factory=list)

    @classmethod
    def from_api(cls, payload: Any) -> AccountUsage:
        """
        Read the balance and the events; an event's unreadable field is left unset, and a job id
        that is not a safe one (see :func:`.text.check_job_id`) is dropped. An event's cost is
        ``cost.amount`` (what was debited), its ``output_urls`` the ``http(s)`` URLs found there
        (strings or objects with a ``url``): they tie it to a job, since the API gives no job id.

        :param payload: the decoded JSON answer of ``GET /v1/account/usage``.
        """
        if not isinstance(payload, Mapping):
            raise ValueError("expected a JSON object for account usage")
        balance = payload.get("balance_usd", payload.get("balance"))
        if isinstance(balance, Mapping):
            balance = balance.get("amount")
        raw_events = payload.get("data") or payload.get("events") or payload.get("usage") or []
        events = []
        for raw in raw_events if isinstance(raw_events, list) else []:
            if not isinstance(raw, Mapping):
                continue
            raw_id = raw.get("job_id") or raw.get("id")
            job_id = safe_text(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else raw_id
            events.append(
                UsageEvent(
                    job_id=job_id if isinstance(job_id, str) and is_job_id(job_id) else None,
                    model=safe_text(raw.get("model")),
                    status=safe_text(raw.get("status")),
                    cost_usd=_debited(raw),
                    output_urls=list(urls_in(raw.get("output_urls") or [])),
                )
            )
        return cls(balance_usd=number(balance), events=events)
