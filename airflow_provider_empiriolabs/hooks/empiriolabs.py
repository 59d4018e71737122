"""
The EmpirioLabs hook: the connection and typed calls, retried as the provider's outcome policy says.

Every call is described once (method, path, body, parser: :mod:`._calls`) and run either
synchronously, in a worker, or asynchronously, in the triggerer's event loop (on the clients of
:mod:`._clients`). What may be retried differs for one call only: the POST that creates a job is
billed as soon as the API accepts it, so it is retried only when the request provably did not get in
(:mod:`airflow_provider_empiriolabs._outcome` decides, :mod:`._retry` applies it).

Every request has a total deadline (headers and body, however slowly the server sends them) and
every answer is read through :mod:`._responses` (bounded size, bounded waits, typed errors), so a
call ends, within its deadline, with a result or an :class:`EmpirioLabsError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import IO, Any, TypeVar

import httpx
import tenacity
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_empiriolabs import __version__
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsConnectionNotFoundError,
    EmpirioLabsError,
    EmpirioLabsNotFoundError,
    missing_connection_message,
)
from airflow_provider_empiriolabs.get_provider_info import CONNECTION_TYPE, UI_FIELD_BEHAVIOUR
from airflow_provider_empiriolabs.hooks import _calls, _catalogue, _exchange, _responses, _retry
from airflow_provider_empiriolabs.hooks._clients import shared_async_clients as shared_async_clients
from airflow_provider_empiriolabs.hooks._clients import tls_context
from airflow_provider_empiriolabs.hooks._deadline import Deadline, bound_by_deadline, deadline_scope
from airflow_provider_empiriolabs.hooks._exchange import Call as _Call
from airflow_provider_empiriolabs.hooks._exchange import SendGuard
from airflow_provider_empiriolabs.hooks._retry import retry_policy
from airflow_provider_empiriolabs.hooks._settings import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from airflow_provider_empiriolabs.hooks._settings import TEST_CONNECTION_TIMEOUT_SECONDS
from airflow_provider_empiriolabs.hooks._settings import ApiSettings as ApiSettings
from airflow_provider_empiriolabs.hooks._settings import check_hook_params as check_hook_params
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget
from airflow_provider_empiriolabs.hooks.shared_budget import aaccount_budget, account_budget
from airflow_provider_empiriolabs.models import AccountUsage, Job, UploadedFile, VideoRequest
from airflow_provider_empiriolabs.models import check_job_id as check_job_id  # the job-id rule, re-exported
from airflow_provider_empiriolabs.models.compose_request import ComposeResult
from airflow_provider_empiriolabs.models.image_request import HeldAnswer, ImageRequest
from airflow_provider_empiriolabs.models.spec import ModelSpec
from airflow_provider_empiriolabs.models.templates import TEMPLATE_NOT_FOUND, Template
from airflow_provider_empiriolabs.models.text import shown
from airflow_provider_empiriolabs.redaction import mask_signed_url, redact_log_text

__all__ = ["EmpirioLabsHook"]

T = TypeVar("T")

# Re-exported: the hook module stays the place to import the provider's HTTP names from.
MAX_RETRY_WAIT_SECONDS = _responses.MAX_RETRY_WAIT_SECONDS
EmpirioLabsAnswerTooLargeError = _responses.EmpirioLabsAnswerTooLargeError
EmpirioLabsDeadlineError = _responses.EmpirioLabsDeadlineError
EmpirioLabsNotSentError = _responses.EmpirioLabsNotSentError
EmpirioLabsTransportError = _responses.EmpirioLabsTransportError
wait_retry_after = _retry.wait_retry_after

DEFAULT_MAX_ATTEMPTS = 6


class EmpirioLabsHook(BaseHook):
    """
    Talks to the EmpirioLabs API with the key in the connection's password.

    Synchronous methods serve workers; ``a``-prefixed ones serve the triggerer. Both share the
    request descriptions, the error mapping and the retry policy, so a trigger and an operator
    can never disagree about what a call means.

    :param empiriolabs_conn_id: the Airflow connection (type ``empiriolabs``).
    :param timeout: per-operation timeout in seconds (connect, each read, each write); overrides
        the connection's ``timeout`` extra.
    :param total_timeout: the most seconds one request may take in all, answer included; by default
        :data:`~._settings.TOTAL_TIMEOUT_FACTOR` times the timeout. A billed POST cut off by it is never sent again.
    :param max_attempts: attempts per call, the first included, for calls that may be retried.
    """

    conn_name_attr = "empiriolabs_conn_id"
    default_conn_name = "empiriolabs_default"
    conn_type = CONNECTION_TYPE
    hook_name = "EmpirioLabs"

    def __init__(
        self,
        empiriolabs_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        total_timeout: float | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        super().__init__()
        check_hook_params(
            {"timeout": timeout, "total_timeout": total_timeout, "max_attempts": max_attempts}, field="EmpirioLabsHook"
        )
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_attempts = max_attempts
        self._settings: ApiSettings | None = None
        self._client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._async_gate: asyncio.Semaphore | None = None
        self._names_connection = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(empiriolabs_conn_id={self.empiriolabs_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: the same data the provider info declares."""
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # -- settings and clients -----------------------------------------------------------------

    def _with_overrides(self, settings: ApiSettings) -> ApiSettings:
        if self.timeout is None and self.total_timeout is None:
            return settings
        return ApiSettings(
            settings.base_url,
            settings.api_key,
            settings.timeout if self.timeout is None else self.timeout,
            settings.requests_per_minute,
            settings.total_timeout if self.total_timeout is None else self.total_timeout,
        )

    @property
    def settings(self) -> ApiSettings:
        """The connection's settings, read once (synchronously: not for the triggerer)."""
        if self._settings is None:
            try:
                conn = self.get_connection(self.empiriolabs_conn_id)
            except AirflowNotFoundException:
                raise EmpirioLabsConnectionNotFoundError(missing_connection_message(self.empiriolabs_conn_id)) from None
            self._settings = self._with_overrides(ApiSettings.from_connection(conn))
        return self._settings

    async def asettings(self) -> ApiSettings:
        """The connection's settings, read once without blocking the event loop."""
        if self._settings is None:
            try:
                conn = await self.aget_connection(self.empiriolabs_conn_id)
            except AirflowNotFoundException:
                raise EmpirioLabsConnectionNotFoundError(missing_connection_message(self.empiriolabs_conn_id)) from None
            self._settings = self._with_overrides(ApiSettings.from_connection(conn))
        return self._settings

    @property
    def budget(self) -> RequestBudget:
        """
        The account's request budget: shared through Redis when the connection's extra
        ``budget_conn_id`` names one (:mod:`.shared_budget`), else this process's (:mod:`.rate_budget`).
        """
        return account_budget(self)

    async def abudget(self) -> RequestBudget:
        """:attr:`budget`, reading the connections without blocking the event loop."""
        return await aaccount_budget(self)

    @property
    def base_url(self) -> str:
        """The API's base URL, scheme included (``http`` only for a local simulator)."""
        return self.settings.base_url

    def job_url(self, job_id: str) -> str:
        """Where the job lives in the API: what the task's "EmpirioLabs job" link opens."""
        return f"{self.base_url}/v1/jobs/{job_id}"

    @staticmethod
    def _client_options(settings: ApiSettings) -> dict[str, Any]:
        return {
            "base_url": settings.base_url,
            "headers": {
                "Authorization": f"Bearer {settings.api_key}",
                "User-Agent": user_agent(),
                "Accept": "application/json",
                # Answers are small JSON: unencoded, so that their size is what is read.
                "Accept-Encoding": "identity",
            },
            "timeout": httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
            "follow_redirects": False,
            "verify": tls_context(),  # read once per process, not per client
        }

    def get_conn(self) -> httpx.Client:
        """The synchronous HTTP client, built once per hook."""
        if self._client is None:
            self._client = httpx.Client(**self._client_options(self.settings))
            bound_by_deadline(self._client)
        return self._client

    async def aget_conn(self) -> httpx.AsyncClient:
        """The asynchronous HTTP client: shared by every hook of this account on this event loop."""
        if self._async_client is None:
            settings = await self.asettings()
            self._async_client, self._async_gate = shared_async_clients.acquire(
                settings, lambda: httpx.AsyncClient(**self._client_options(settings))
            )
        return self._async_client

    def close(self) -> None:
        """Close the synchronous client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Let go of the shared asynchronous client (closed when no hook on the loop uses it)."""
        if self._async_client is not None:
            self._async_client = self._async_gate = None
            await shared_async_clients.release(await self.asettings())

    # -- running a call -------------------------------------------------------------------------
    #
    # One attempt (see ._exchange): build the request (a failure there: nothing was sent), take a
    # place in the budget, exchange it for its whole answer within the deadline, read the answer.
    # Every failure after the build is named by _exchange.failure; for the billed POST, whatever
    # may have reached the API becomes EmpirioLabsSubmissionUnknownError, never retried.

    def _retry_policy(self, call: _Call[Any]) -> dict[str, Any]:
        return retry_policy(creates_job=call.creates_job, max_attempts=self.max_attempts, log=self.log)

    @contextlib.contextmanager
    def _naming_the_connection(self) -> Iterator[None]:
        """A call's error says which account's call failed (not for the UI's transient test connection)."""
        try:
            yield
        except EmpirioLabsError as error:
            if self._names_connection:
                error.naming_connection(self.empiriolabs_conn_id)
            raise

    def _run(self, call: _Call[T]) -> T:
        client = self.get_conn()
        settings = self.settings
        budget = self.budget

        def attempt() -> T:
            request = _exchange.build(client, call, settings.api_key)  # a failure: nothing was sent
            slot = budget.acquire(call.budget_wait)
            deadline = Deadline(time.monotonic() + settings.deadline)
            try:
                if call.guard is not None:
                    call.guard.sending()  # after every wait, right before the bytes leave: raise to stop
            except BaseException:
                budget.done(slot)
                raise
            try:
                with deadline_scope(settings.deadline) as deadline:
                    answer = _exchange.exchange(client, request, deadline, call.max_answer_bytes)
                return _exchange.outcome(call, answer, settings.api_key, budget)
            except Exception as error:  # of any type: named here, and never resent if it may have got in
                raise _exchange.failure(
                    call, error, settings.api_key, deadline, settings.deadline, settings.base_url
                ) from None
            finally:
                budget.done(slot)

        with self._naming_the_connection():
            return tenacity.Retrying(**self._retry_policy(call))(attempt)

    async def _arun(self, call: _Call[T]) -> T:
        client = await self.aget_conn()
        gate = self._async_gate or contextlib.nullcontext()  # none on a client the hook did not share
        settings = await self.asettings()
        budget = await self.abudget()

        async def attempt() -> T:
            request = _exchange.build(client, call, settings.api_key)  # a failure: nothing was sent
            async with gate:
                slot = await budget.aacquire(call.budget_wait)
                deadline = Deadline(time.monotonic() + settings.deadline)
                try:
                    try:
                        answer = await asyncio.wait_for(
                            _exchange.aexchange(client, request, call.max_answer_bytes), settings.deadline
                        )
                    except TimeoutError:
                        deadline.hit = True
                        raise
                    return _exchange.outcome(call, answer, settings.api_key, budget)
                except Exception as error:  # of any type: named here, and never resent if it may have got in
                    raise _exchange.failure(
                        call, error, settings.api_key, deadline, settings.deadline, settings.base_url
                    ) from None
                finally:
                    budget.done(slot)

        with self._naming_the_connection():
            return await tenacity.AsyncRetrying(**self._retry_policy(call))(attempt)

    # -- the calls --------------------------------------------------------------------------------

    def submit(self, request: VideoRequest | ImageRequest, *, guard: SendGuard | None = None) -> str:
        """
        Submit a job (to the endpoint of the request's model) and return its id. Billed once accepted.

        :param request: the validated request.
        :param guard: told before each attempt is sent and when the API provably refused one.
        """
        return self._run(_calls.submit(request, guard))

    async def asubmit(self, request: VideoRequest | ImageRequest) -> str:
        """Async :meth:`submit`."""
        return await self._arun(_calls.submit(request))

    def submit_video(self, request: VideoRequest, *, guard: SendGuard | None = None) -> str:
        """Submit a video generation and return the new job's id (:meth:`submit`). Billed once accepted."""
        return self.submit(request, guard=guard)

    async def asubmit_video(self, request: VideoRequest) -> str:
        """Async :meth:`submit_video`."""
        return await self.asubmit(request)

    def submit_held(self, request: ImageRequest, *, guard: SendGuard | None = None) -> HeldAnswer:
        """
        Send a held (``sync``) image request and return its answer: the images, or a job id when
        the API answered with a job after all. Billed once accepted; never resent once it may have got in.

        :param request: the validated request (``sync=True``).
        :param guard: told before each attempt is sent and when the API provably refused one.
        """
        return self._run(_calls.held(request, guard))

    def get_job(self, job_id: str) -> Job:
        """The job's current state, outputs and error; its signed output URLs masked in this task's logs."""
        job = self._run(_calls.job(job_id))
        for url in job.output_urls:
            mask_signed_url(url)
        return job

    async def aget_job(self, job_id: str) -> Job:
        """Async :meth:`get_job`."""
        return await self._arun(_calls.job(job_id))

    def list_models(self) -> list[dict[str, Any]]:
        """The model catalog."""
        return self._run(_calls.models())

    async def alist_models(self) -> list[dict[str, Any]]:
        """Async :meth:`list_models`."""
        return await self._arun(_calls.models())

    def get_model(self, model_id: str) -> dict[str, Any]:
        """One model's parameter schema (``supported_parameters``, ``pricing_rows``)."""
        return self._run(_calls.model(model_id))

    def get_account_usage(self, limit: int = 25, model: str | None = None, since: str | None = None) -> AccountUsage:
        """
        The credit balance and the latest usage events, each with its cost in USD.

        :param limit: how many events.
        :param model: only this model's events.
        :param since: only events from this ISO-8601 time on.
        """
        return self._run(_calls.usage(limit, model, since))

    def upload_file(self, content: bytes | IO[bytes], filename: str, content_type: str) -> UploadedFile:
        """
        Upload an image, audio or video file; its ``path`` can then be used as a request's image.

        :param content: the bytes, or a binary file object (streamed, rewound for a retry).
        :param filename: the name the API stores it under.
        :param content_type: e.g. ``image/png``.
        """
        return self._run(_calls.upload(content, filename, content_type))

    def get_account_usage_once(self, limit: int, model: str | None, seconds: float) -> AccountUsage:
        """
        :meth:`get_account_usage` for a figure that has a fallback: one try, within ``seconds`` in all
        (the wait for a place in the request budget included), never retried.

        :param limit: how many events.
        :param model: only this model's events.
        :param seconds: the longest the call may take.
        """
        once = type(self)(self.empiriolabs_conn_id, timeout=seconds, total_timeout=seconds, max_attempts=1)
        once._settings = once._with_overrides(self.settings)  # the connection, read once already
        try:
            return once._run(replace(_calls.usage(limit, model, None), budget_wait=seconds))
        finally:
            once.close()

    def list_templates(
        self,
        modality: str | None = None,
        model: str | None = None,
        category: str | None = None,
        featured: bool | None = None,
    ) -> list[Template]:
        """
        The templates (``GET /v1/templates``), filtered by the API; items it cannot read are skipped.

        :param modality: ``video`` or ``image``.
        :param model: only templates whose ``supported_models`` holds this model.
        :param category: e.g. ``viral``, ``cinematic``, ``product``.
        :param featured: only featured templates when ``True``.
        """
        filters = {"modality": modality, "model": model, "category": category}
        params = {name: value for name, value in filters.items() if value is not None}
        if featured is not None:
            params["featured"] = "true" if featured else "false"
        return self._run(_calls.templates(params))

    def get_template(self, slug: str) -> Template:
        """
        One template by its slug, found in :meth:`list_templates` (the single-template path is not published).

        :param slug: what ``template=`` takes.
        :raises EmpirioLabsNotFoundError: (code ``template_not_found``) when no template has it.
        """
        for template in self.list_templates():
            if template.slug == slug:
                return template
        raise EmpirioLabsNotFoundError(
            f"{TEMPLATE_NOT_FOUND}: no template {shown(slug)} among the account's templates (GET /v1/templates)",
            status_code=404,
            code=TEMPLATE_NOT_FOUND,
        )

    def test_connection(self) -> tuple[bool, str]:
        """
        One cheap GET that only a valid key gets answered: the account's usage, one event.

        Not the model catalog, although the API's docs suggest it: it answers 200 without any key
        (third-party integrations list it unauthenticated), so it cannot prove one.
        """
        # The UI's Test button runs this under a random, transient connection id: naming it would mislead.
        self._names_connection = False
        # A person is waiting: one try within a few seconds, so an API that is down is said at once.
        cap = TEST_CONNECTION_TIMEOUT_SECONDS
        self.timeout = cap if self.timeout is None else min(self.timeout, cap)
        self.total_timeout = cap if self.total_timeout is None else min(self.total_timeout, cap)
        self.max_attempts, self._settings = 1, None
        try:
            balance = self.get_account_usage(limit=1).balance_usd  # None when its shape is not one we read
        except Exception as error:  # the text shown in the UI: no URL query, header value or key
            return False, redact_log_text(str(error))
        finally:
            self.close()
        shown = "" if balance is None else f" (balance ${balance:,.2f})"
        return True, f"Connected to {self.settings.base_url}: the key was accepted{shown}"

    def list_compose_recipes(self) -> list[dict[str, Any]]:
        """The Compose recipes (``slug``, ``scene_count``, ``aspect_ratios``, ``models``...), as the API lists them."""
        return self._run(_calls.compose_recipes())

    def get_compose_result(self, job_id: str) -> ComposeResult:
        """
        A finished Compose job's storyboard and manifest, wherever its result holds them (signed URLs redacted).

        :param job_id: the Compose job.
        """
        return self._run(_calls.compose_result(job_id))

    def model_spec(self, model_id: str) -> ModelSpec | None:
        """
        The model's shipped spec with the live catalogue's values over them (``GET /v1/models/{id}``).

        ``None`` for a model without a shipped spec, with no request. The catalogue is read once per
        process, base URL and model for ``catalogue_ttl_seconds`` (0: never, the shipped spec as it
        is); each difference it wins is logged, and a catalogue that cannot be read leaves the
        shipped spec with one warning (see :mod:`._catalogue`). Never raises.

        :param model_id: the model's id.
        """
        return _catalogue.model_spec(self, model_id)


def user_agent() -> str:
    """Names the provider and its version, so EmpirioLabs can tell Airflow traffic apart."""
    return f"airflow-provider-empiriolabs/{__version__} httpx/{httpx.__version__}"
