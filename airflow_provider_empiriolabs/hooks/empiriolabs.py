"""
The EmpirioLabs hook: the connection, typed calls, and the one retry policy of the provider.

Every call is described once (method, path, body, parser) and run either synchronously, in a
worker, or asynchronously, in the triggerer's event loop. What may be retried differs for one
call only: the POST that creates a job is billed as soon as the API accepts it, so it is retried
only when the request provably did not get in.

Every request has a total deadline (headers and body, however slowly the server sends them) and
every answer is read through :mod:`._responses` (bounded size, bounded waits, typed errors), so a
call ends, within its deadline, with a result or an :class:`EmpirioLabsError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
import tenacity
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_empiriolabs import __version__
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
    EmpirioLabsConnectionNotFoundError,
    EmpirioLabsError,
    EmpirioLabsRequestError,
    missing_connection_message,
)
from airflow_provider_empiriolabs.get_provider_info import CONNECTION_TYPE, UI_FIELD_BEHAVIOUR
from airflow_provider_empiriolabs.hooks import _exchange, _responses, _retry
from airflow_provider_empiriolabs.hooks._deadline import Deadline, bound_by_deadline, deadline_scope
from airflow_provider_empiriolabs.hooks._exchange import Call as _Call
from airflow_provider_empiriolabs.hooks._exchange import SendGuard
from airflow_provider_empiriolabs.hooks._retry import retry_policy
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget
from airflow_provider_empiriolabs.hooks.shared_budget import aaccount_budget, account_budget
from airflow_provider_empiriolabs.models import AccountUsage, Job, SubmittedJob, UploadedFile, VideoRequest
from airflow_provider_empiriolabs.models import check_job_id as check_job_id  # the job-id rule, re-exported
from airflow_provider_empiriolabs.redaction import api_key_problem, mask_signed_url, redact_log_text, register_secret

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = ["EmpirioLabsHook"]

T = TypeVar("T")

# Re-exported: the hook module stays the place to import the provider's HTTP names from.
MAX_ANSWER_BYTES = _responses.MAX_ANSWER_BYTES
MAX_RETRY_WAIT_SECONDS = _responses.MAX_RETRY_WAIT_SECONDS
EmpirioLabsAnswerTooLargeError = _responses.EmpirioLabsAnswerTooLargeError
EmpirioLabsDeadlineError = _responses.EmpirioLabsDeadlineError
EmpirioLabsNotSentError = _responses.EmpirioLabsNotSentError
EmpirioLabsTransportError = _responses.EmpirioLabsTransportError
server_wait = _responses.server_wait
wait_retry_after = _retry.wait_retry_after


DEFAULT_BASE_URL = "https://api.empiriolabs.ai"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_REQUESTS_PER_MINUTE = 50
DEFAULT_MAX_ATTEMPTS = 6
#: Requests in flight at once on one shared async client, below httpx's pool size (100).
MAX_REQUESTS_IN_FLIGHT = 32
#: Without a ``total_timeout``, a request's total deadline is this many times its per-read ``timeout``.
TOTAL_TIMEOUT_FACTOR = 4.0
#: The longest job id accepted from the API (real ones are ``job_`` and a few dozen characters).
MAX_JOB_ID_CHARS = 256

# ---------------------------------------------------------------------------------------------
# The hook.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSettings:
    """
    What the hook needs from the connection. The key is kept out of ``repr``.

    ``timeout`` bounds each network operation (connect, each read, each write); ``total_timeout``
    bounds a whole request, answer included, and defaults to :data:`TOTAL_TIMEOUT_FACTOR` times
    ``timeout`` (see :attr:`deadline`).
    """

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    total_timeout: float | None = None

    @property
    def deadline(self) -> float:
        """Seconds one request may take in all, from sending it to the last byte of its answer."""
        return self.total_timeout if self.total_timeout is not None else TOTAL_TIMEOUT_FACTOR * self.timeout

    @classmethod
    def from_connection(cls, conn: Connection) -> ApiSettings:
        extra = conn.extra_dejson

        def option(name: str) -> Any:
            return extra.get(name)

        host = (conn.host or "").strip().rstrip("/")
        if host and "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        if host and conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        if not conn.password:
            raise EmpirioLabsAuthenticationError(
                f"connection {conn.conn_id!r} has no API key: put it in the connection's password"
            )
        problem = api_key_problem(conn.password)
        if problem:  # refused before any request: httpx would put it in an error, or not send it
            raise EmpirioLabsAuthenticationError(f"connection {conn.conn_id!r}: {problem}")
        register_secret(conn.password)

        def number(name: str, default: float, kind: type[float] | type[int]) -> Any:
            value = option(name)
            if value in (None, ""):
                return kind(default)
            try:
                parsed = kind(value)
            except (TypeError, ValueError):
                parsed = 0
            if parsed <= 0:
                raise ValueError(
                    f"connection {conn.conn_id!r}: extra {name} must be a positive {kind.__name__} (got {value!r})"
                )
            return parsed

        return cls(
            base_url=host or DEFAULT_BASE_URL,
            api_key=conn.password,
            timeout=number("timeout", DEFAULT_TIMEOUT_SECONDS, float),
            requests_per_minute=number("requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE, int),
        )


class _SharedAsyncClients:
    """
    One ``httpx.AsyncClient`` per event loop and account, shared by every hook on that loop.

    A triggerer runs all its triggers in one loop: sharing the client shares its connection pool
    (no TLS handshake per poll, a bounded number of sockets) however many jobs are waited on. It
    is built on first use and closed when the last hook using it lets go.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ApiSettings, list[Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def acquire(
        self, settings: ApiSettings, build: Callable[[], httpx.AsyncClient]
    ) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """
        The loop's client for these settings, with its limit on requests in flight.

        httpcore's pool slows down quadratically with the requests queued in it
        (encode/httpcore#1035): 2,000 triggers polling together stalled a triggerer's loop for
        seconds (``bench/triggerer.py``), so at most :data:`MAX_REQUESTS_IN_FLIGHT` go in at once.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            clients = self._by_loop.setdefault(loop, {})
            entry = clients.get(settings)
            if entry is None or entry[0].is_closed:
                entry = clients[settings] = [build(), 0, asyncio.Semaphore(MAX_REQUESTS_IN_FLIGHT)]
            entry[1] += 1
            return entry[0], entry[2]

    async def release(self, settings: ApiSettings) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            clients = self._by_loop.get(loop, {})
            entry = clients.get(settings)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del clients[settings]
        await entry[0].aclose()

    def open_clients(self) -> int:
        """How many shared clients are open on the running loop (for tests and benchmarks)."""
        with self._lock:
            return len(self._by_loop.get(asyncio.get_running_loop(), {}))


shared_async_clients = _SharedAsyncClients()


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
        :data:`TOTAL_TIMEOUT_FACTOR` times the timeout. A billed POST cut off by it is never sent again.
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

    def _run(self, call: _Call[T]) -> T:
        client = self.get_conn()
        settings = self.settings
        budget = self.budget

        def attempt() -> T:
            request = _exchange.build(client, call, settings.api_key)  # a failure: nothing was sent
            slot = budget.acquire()
            deadline = Deadline(time.monotonic() + settings.deadline)
            try:
                if call.guard is not None:
                    call.guard.sending()  # after every wait, right before the bytes leave: raise to stop
            except BaseException:
                budget.done(slot)
                raise
            try:
                with deadline_scope(settings.deadline) as deadline:
                    answer = _exchange.exchange(client, request, deadline)
                return _exchange.outcome(call, answer, settings.api_key, budget)
            except Exception as error:  # of any type: named here, and never resent if it may have got in
                raise _exchange.failure(call, error, settings.api_key, deadline, settings.deadline) from None
            finally:
                budget.done(slot)

        policy = retry_policy(creates_job=call.creates_job, max_attempts=self.max_attempts, log=self.log)
        try:
            return tenacity.Retrying(**policy)(attempt)
        except EmpirioLabsError as error:
            if self._names_connection:
                error.naming_connection(self.empiriolabs_conn_id)  # which account's call failed
            raise

    async def _arun(self, call: _Call[T]) -> T:
        client = await self.aget_conn()
        gate = self._async_gate or contextlib.nullcontext()  # none on a client the hook did not share
        settings = await self.asettings()
        budget = await self.abudget()

        async def attempt() -> T:
            request = _exchange.build(client, call, settings.api_key)  # a failure: nothing was sent
            async with gate:
                slot = await budget.aacquire()
                deadline = Deadline(time.monotonic() + settings.deadline)
                try:
                    try:
                        answer = await asyncio.wait_for(_exchange.aexchange(client, request), settings.deadline)
                    except asyncio.TimeoutError:
                        deadline.hit = True
                        raise
                    return _exchange.outcome(call, answer, settings.api_key, budget)
                except Exception as error:  # of any type: named here, and never resent if it may have got in
                    raise _exchange.failure(call, error, settings.api_key, deadline, settings.deadline) from None
                finally:
                    budget.done(slot)

        policy = retry_policy(creates_job=call.creates_job, max_attempts=self.max_attempts, log=self.log)
        try:
            return await tenacity.AsyncRetrying(**policy)(attempt)
        except EmpirioLabsError as error:
            if self._names_connection:
                error.naming_connection(self.empiriolabs_conn_id)  # which account's call failed
            raise

    # -- the calls --------------------------------------------------------------------------------

    @staticmethod
    def _submit_call(request: VideoRequest, guard: SendGuard | None = None) -> _Call[str]:
        return _Call(
            "POST",
            "/v1/videos/generations",
            lambda body: _usable_job_id(SubmittedJob.from_api(body).job_id),
            json=request.to_payload(),
            creates_job=True,
            guard=guard,
        )

    @staticmethod
    def _job_call(job_id: str) -> _Call[Job]:
        return _Call("GET", _job_path(job_id), Job.from_api)

    @staticmethod
    def _models_call() -> _Call[list[dict[str, Any]]]:
        def parse(body: Any) -> list[dict[str, Any]]:
            items = body.get("data", body.get("models")) if isinstance(body, Mapping) else body
            if not isinstance(items, list):
                raise ValueError("expected a list of models")
            return [item for item in items if isinstance(item, dict)]

        return _Call("GET", "/v1/models", parse)

    @staticmethod
    def _model_call(model_id: str) -> _Call[dict[str, Any]]:
        def parse(body: Any) -> dict[str, Any]:
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object for a model")
            return body

        return _Call("GET", f"/v1/models/{model_id}", parse)

    @staticmethod
    def _usage_call(limit: int, model: str | None, since: str | None) -> _Call[AccountUsage]:
        params = {"limit": limit, "model": model, "from": since}
        return _Call(
            "GET",
            "/v1/account/usage",
            AccountUsage.from_api,
            params={k: v for k, v in params.items() if v is not None},
        )

    @staticmethod
    def _upload_call(content: bytes | IO[bytes], filename: str, content_type: str) -> _Call[UploadedFile]:
        def files() -> Mapping[str, Any]:
            if not isinstance(content, bytes):
                content.seek(0)  # a retry sends the whole file again
            return {"file": (filename, content, content_type)}

        return _Call("POST", "/v1/files/upload", UploadedFile.model_validate, files=files)

    def submit_video(self, request: VideoRequest, *, guard: SendGuard | None = None) -> str:
        """
        Submit a video generation and return the new job's id. Billed once accepted.

        :param request: the validated request.
        :param guard: told before each attempt is sent and when the API provably refused one.
        """
        return self._run(self._submit_call(request, guard))

    async def asubmit_video(self, request: VideoRequest) -> str:
        """Async :meth:`submit_video`."""
        return await self._arun(self._submit_call(request))

    def get_job(self, job_id: str) -> Job:
        """The job's current state, outputs and error; its signed output URLs masked in this task's logs."""
        job = self._run(self._job_call(job_id))
        for url in job.output_urls:
            mask_signed_url(url)
        return job

    async def aget_job(self, job_id: str) -> Job:
        """Async :meth:`get_job`."""
        return await self._arun(self._job_call(job_id))

    def list_models(self) -> list[dict[str, Any]]:
        """The model catalog."""
        return self._run(self._models_call())

    async def alist_models(self) -> list[dict[str, Any]]:
        """Async :meth:`list_models`."""
        return await self._arun(self._models_call())

    def get_model(self, model_id: str) -> dict[str, Any]:
        """One model's parameter schema (``supported_parameters``, ``pricing_rows``)."""
        return self._run(self._model_call(model_id))

    async def aget_model(self, model_id: str) -> dict[str, Any]:
        """Async :meth:`get_model`."""
        return await self._arun(self._model_call(model_id))

    def get_account_usage(self, limit: int = 25, model: str | None = None, since: str | None = None) -> AccountUsage:
        """
        The credit balance and the latest usage events, each with its cost in USD.

        :param limit: how many events.
        :param model: only this model's events.
        :param since: only events from this ISO-8601 time on.
        """
        return self._run(self._usage_call(limit, model, since))

    async def aget_account_usage(
        self, limit: int = 25, model: str | None = None, since: str | None = None
    ) -> AccountUsage:
        """Async :meth:`get_account_usage`."""
        return await self._arun(self._usage_call(limit, model, since))

    def upload_file(self, content: bytes | IO[bytes], filename: str, content_type: str) -> UploadedFile:
        """
        Upload an image, audio or video file; its ``path`` can then be used as a request's image.

        :param content: the bytes, or a binary file object (streamed, rewound for a retry).
        :param filename: the name the API stores it under.
        :param content_type: e.g. ``image/png``.
        """
        return self._run(self._upload_call(content, filename, content_type))

    async def aupload_file(self, content: bytes | IO[bytes], filename: str, content_type: str) -> UploadedFile:
        """Async :meth:`upload_file`."""
        return await self._arun(self._upload_call(content, filename, content_type))

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated GET (the model catalog), as the API's docs suggest to check a key."""
        # The UI's Test button runs this under a random, transient connection id: naming it would mislead.
        self._names_connection = False
        try:
            models = self.list_models()
        except Exception as error:  # the text shown in the UI: no URL query, header value or key
            return False, redact_log_text(str(error))
        finally:
            self.close()
        return True, f"Connected to {self.settings.base_url}: {len(models)} models available"


def check_hook_params(params: Mapping[str, Any], *, field: str = "hook_params") -> None:
    """
    Refuse hook keyword arguments the hook cannot use, naming the field and what is allowed.

    Operators and sensors call this when they are built, so a typo or a negative timeout in
    ``hook_params`` is refused when the DAG is parsed instead of failing the task at run time.

    :param params: the keyword arguments meant for :class:`EmpirioLabsHook`.
    :param field: how the caller names them, for the message.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"{field}: must be a mapping of {', '.join(_HOOK_PARAMS)} (got {type(params).__name__})")
    unknown = sorted(set(params) - set(_HOOK_PARAMS))
    if unknown:
        raise ValueError(f"{field}: unknown key(s) {unknown}; allowed: {', '.join(_HOOK_PARAMS)}")
    for name in ("timeout", "total_timeout"):
        seconds = params.get(name)
        if seconds is not None and not (_is_number(seconds) and 0 < seconds < float("inf")):
            raise ValueError(f"{field}.{name}: must be a positive number of seconds (got {seconds!r})")
    attempts = params.get("max_attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"{field}.max_attempts: must be an integer of 1 or more (got {attempts!r})")


_HOOK_PARAMS = ("timeout", "total_timeout", "max_attempts")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _job_path(job_id: Any) -> str:
    """
    The job's path in the API, its id percent-encoded (a newline or NUL cannot break the URL).

    :param job_id: the id (see :func:`check_job_id`); ``.`` or ``..`` are refused too, as URLs
        resolve them to another path.
    """
    segment = quote(check_job_id(job_id), safe="")
    if segment in (".", ".."):
        raise EmpirioLabsRequestError(f"job_id: {job_id!r} cannot name a job in a URL path")
    return f"/v1/jobs/{segment}"


def _usable_job_id(job_id: str) -> str:
    """
    The id the API gave a new job, if it can be kept and polled safely; else ``ValueError``.

    Refused: what :func:`_job_path` refuses, more than :data:`MAX_JOB_ID_CHARS` characters, and
    control, format (such as U+202E, which reverses text) or space characters. The submission is
    then reported as of unknown outcome: it was accepted, but that job cannot be followed.
    """
    shown = repr(job_id[:60]) + ("..." if len(job_id) > 60 else "")
    if len(job_id) > MAX_JOB_ID_CHARS or any(unicodedata.category(ch)[0] in "CZ" for ch in job_id):
        raise ValueError(f"the job id it returned, {shown}, cannot be kept or polled safely")
    _job_path(job_id)
    return job_id


def user_agent() -> str:
    """Names the provider and its version, so EmpirioLabs can tell Airflow traffic apart."""
    return f"airflow-provider-empiriolabs/{__version__} httpx/{httpx.__version__}"
