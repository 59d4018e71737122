"""
One request, start to end: build it, send it, read its whole answer, and name whatever went wrong.

The hook runs these once per attempt, synchronously (a worker) or asynchronously (the
triggerer). A failure while building means nothing was sent. Every failure after that goes
through :func:`failure`, which turns it into a named :class:`EmpirioLabsError`; for the billed
POST, whatever may have reached the API becomes :class:`EmpirioLabsSubmissionUnknownError`, which
is never retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

import httpx

from airflow_provider_empiriolabs._outcome import may_have_been_accepted, never_left
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsDeadlineError,
    EmpirioLabsError,
    EmpirioLabsNotSentError,
    EmpirioLabsRateLimitError,
    EmpirioLabsRequestError,
    EmpirioLabsServerError,
    EmpirioLabsSubmissionUnknownError,
    EmpirioLabsTransportError,
)
from airflow_provider_empiriolabs.hooks._responses import MAX_ANSWER_BYTES, BoundedBody, describe, error_for, parse_json
from airflow_provider_empiriolabs.redaction import redact_url

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.hooks._deadline import Deadline
    from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget

T = TypeVar("T")


class SendGuard(Protocol):
    """
    Told right before each attempt to send the billed POST, and when the API provably refused one.

    The generate operator records both in the task state store: a runner that cannot record
    (its supervisor is gone) raises from :meth:`sending` and so never sends.
    """

    def sending(self) -> None:
        """The POST is about to leave; raise to stop it."""

    def not_sent(self) -> None:
        """The API provably did not take the attempt (no connection, or a 429, 503 or other 4xx)."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call, described once and run by the sync or the async path."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    files: Callable[[], Mapping[str, Any]] | None = None
    creates_job: bool = False
    guard: SendGuard | None = None
    #: The most bytes of the answer read (a held image request answers with the images' bytes).
    max_answer_bytes: int = MAX_ANSWER_BYTES
    #: The longest wait for a place in the request budget (``None``: the budget's own bound).
    budget_wait: float | None = None


class Answer(NamedTuple):
    """A whole answer: what is left of it once read."""

    status_code: int
    reason: str
    headers: httpx.Headers
    body: bytes | None


def build(client: httpx.Client | httpx.AsyncClient, call: Call[Any], secret: str) -> httpx.Request:
    """
    The one request builder (both clients build requests the same, synchronous, way).

    :raises EmpirioLabsRequestError: the request could not be built; nothing was sent.
    """
    try:
        files = call.files() if call.files else None
        return client.build_request(call.method, call.path, json=call.json, params=call.params, files=files)
    except Exception as error:
        raise EmpirioLabsRequestError(
            f"{call.method} {call.path}: the request could not be built ({describe(error, secret)}); it was not sent"
        ) from None


def exchange(client: httpx.Client, request: httpx.Request, deadline: Deadline, limit: int = MAX_ANSWER_BYTES) -> Answer:
    """
    Send, and read the whole answer (bounded); the client's sockets end at the deadline.

    :param client: a client made by the hook (see :func:`._deadline.bound_by_deadline`).
    :param request: what :func:`build` made.
    :param deadline: the request's deadline (also checked between chunks, for any transport).
    """
    response = client.send(request, stream=True)
    try:
        body = BoundedBody(response.headers, strict=response.is_success, limit=limit)
        for chunk in response.iter_raw():
            body.add(chunk)
            if body.dropped:
                break
            if deadline.left() <= 0:
                deadline.hit = True
                raise httpx.ReadTimeout("the request's total deadline passed", request=request)
        return Answer(response.status_code, response.reason_phrase, response.headers, body.content())
    finally:
        response.close()


async def aexchange(client: httpx.AsyncClient, request: httpx.Request, limit: int = MAX_ANSWER_BYTES) -> Answer:
    """:func:`exchange` for the event loop; the caller bounds it with ``asyncio.wait_for``."""
    response = await client.send(request, stream=True)
    try:
        body = BoundedBody(response.headers, strict=response.is_success, limit=limit)
        async for chunk in response.aiter_raw():
            body.add(chunk)
            if body.dropped:
                break
        return Answer(response.status_code, response.reason_phrase, response.headers, body.content())
    finally:
        await response.aclose()


def outcome(call: Call[T], answer: Answer, secret: str, budget: RequestBudget) -> T:
    """
    What a whole answer means: the parsed value, or the typed error (a 429 pauses the budget).

    :param call: the call answered.
    :param answer: its whole answer.
    :param secret: the API key, kept out of every message.
    :param budget: the account's budget, paused by a 429's (bounded) wait.
    """
    if not 200 <= answer.status_code < 300:
        error = error_for(answer.status_code, answer.reason, answer.headers, answer.body, secret)
        if isinstance(error, EmpirioLabsRateLimitError) and error.retry_after:
            budget.pause(error.retry_after)
        raise error
    try:
        return call.parse(parse_json(answer.body or b""))
    except Exception as error:
        raise EmpirioLabsServerError(
            f"unreadable answer to {call.method} {call.path}: {describe(error, secret)}",
            status_code=answer.status_code,
        ) from None


def failure(
    call: Call[Any], error: Exception, secret: str, deadline: Deadline, seconds: float, base_url: str = ""
) -> EmpirioLabsError:
    """
    Name what went wrong after the build; for the billed POST, decide whether it may have got in.

    Whether it may have is :func:`._outcome.may_have_been_accepted`: not when no connection was
    made, the API answered 429 or its own 503, or rejected it with another 4xx. Anything else, of
    any type, after the request may have been sent leaves the outcome unknown.

    :param call: the call that failed.
    :param error: what was raised.
    :param secret: the API key, kept out of every message.
    :param deadline: the attempt's deadline (``hit`` when it cut the request off).
    :param seconds: the deadline's length, for the message.
    :param base_url: the API's base URL the call went to, named in the message (never a key or query).
    """
    named: EmpirioLabsError
    where = f"{call.method} {redact_url(base_url + call.path)}"
    if isinstance(error, EmpirioLabsError):
        named = error
    elif never_left(error):
        named = EmpirioLabsNotSentError(f"{where}: the API could not be reached ({describe(error, secret)})")
    elif deadline.hit and isinstance(error, (httpx.TimeoutException, asyncio.TimeoutError)):
        named = EmpirioLabsDeadlineError(
            f"{where}: no whole answer within the request's total deadline ({seconds:g} s)"
        )
    elif isinstance(error, httpx.TransportError):
        named = EmpirioLabsTransportError(f"{where}: no complete answer ({describe(error, secret)})")
    else:
        named = EmpirioLabsServerError(f"{where}: the answer could not be read ({describe(error, secret)})")
    if not call.creates_job:
        return named
    if not may_have_been_accepted(named):
        if call.guard is not None:
            call.guard.not_sent()
        return named
    what = (
        f"the API answered the job submission but {named}"
        if named.status_code is not None
        else f"the job submission was sent but no usable answer came back ({type(named).__name__}: {named})"
    )
    return EmpirioLabsSubmissionUnknownError(
        f"{what}; whether a job was created is unknown, so it is not sent again (that could pay twice): "
        "check the account's usage",
        status_code=named.status_code,
        code=named.code,
    )
