"""
The EmpirioLabs hook: the connection, typed calls, and the one retry policy of the provider.

Every call is described once (method, path, body, parser) and run either synchronously, in a
worker, or asynchronously, in the triggerer's event loop. What may be retried differs for one
call only: the POST that creates a job is billed as soon as the API accepts it, so it is retried
only when the request provably did not get in.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import httpx
import tenacity
from airflow.sdk import BaseHook

from airflow_provider_empiriolabs import __version__
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
    EmpirioLabsError,
    EmpirioLabsInsufficientCreditsError,
    EmpirioLabsNotFoundError,
    EmpirioLabsRateLimitError,
    EmpirioLabsServerError,
    EmpirioLabsSubmissionUnknownError,
    EmpirioLabsValidationError,
)
from airflow_provider_empiriolabs.get_provider_info import CONNECTION_TYPE, UI_FIELD_BEHAVIOUR
from airflow_provider_empiriolabs.hooks.rate_budget import RequestBudget
from airflow_provider_empiriolabs.hooks.shared_budget import aaccount_budget, account_budget
from airflow_provider_empiriolabs.models import AccountUsage, Job, SubmittedJob, UploadedFile, VideoRequest
from airflow_provider_empiriolabs.models import check_job_id as check_job_id  # the job-id rule, re-exported
from airflow_provider_empiriolabs.redaction import api_key_problem, mask_signed_url, redact_log_text, register_secret

if TYPE_CHECKING:
    from airflow.sdk import Connection

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.empiriolabs.ai"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_REQUESTS_PER_MINUTE = 50
DEFAULT_MAX_ATTEMPTS = 6
#: Requests in flight at once on one shared async client, below httpx's pool size (100).
MAX_REQUESTS_IN_FLIGHT = 32
MAX_RETRY_WAIT_SECONDS = 120.0

# ---------------------------------------------------------------------------------------------
# The retry policy: defined here, and only here.
# ---------------------------------------------------------------------------------------------


class wait_retry_after(tenacity.wait.wait_base):
    """
    Wait as long as the API's ``Retry-After`` asked, else fall back to exponential backoff with jitter.

    :param fallback: the wait used when the API said nothing.
    :param cap: never wait longer than this many seconds for one retry.
    """

    def __init__(self, fallback: tenacity.wait.wait_base, cap: float = MAX_RETRY_WAIT_SECONDS) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, EmpirioLabsError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.cap)
        return min(self.fallback(retry_state), self.cap)


def is_transient(error: BaseException) -> bool:
    """Whether a read (GET) may simply be repeated: network trouble, 429 or 5xx."""
    return isinstance(error, (httpx.TransportError, EmpirioLabsRateLimitError, EmpirioLabsServerError))


def was_not_accepted(error: BaseException) -> bool:
    """
    Whether a job submission provably did not get in, so that sending it again cannot bill twice.

    True only when no connection was made (refused, DNS, connect timeout, no free pooled
    connection) or the API answered 429 or 503 before accepting anything. A read timeout or a
    500 leaves the outcome unknown: never retried.
    """
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return True
    if isinstance(error, EmpirioLabsRateLimitError):
        return True
    return isinstance(error, EmpirioLabsServerError) and error.status_code == 503


def was_refused(error: BaseException) -> bool:
    """
    Whether the API provably did not take a job submission: :func:`was_not_accepted`, or any
    4xx answer (invalid request, key or credits: refused, not billed). Never retried for that.
    """
    if was_not_accepted(error):
        return True
    return (
        isinstance(error, EmpirioLabsError)
        and not isinstance(error, EmpirioLabsSubmissionUnknownError)
        and error.status_code is not None
        and 400 <= error.status_code < 500
    )


def retry_policy(*, creates_job: bool, max_attempts: int, log: Any) -> dict[str, Any]:
    """
    Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: the provider's retry policy.

    :param creates_job: the call is the billed POST (see :func:`was_not_accepted`).
    :param max_attempts: attempts in all, the first included.
    :param log: where to say that a retry is coming, and why.
    """

    def say_why(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "EmpirioLabs request failed (%s); retrying in %.1f s (attempt %d of %d)",
            error,
            wait,
            state.attempt_number + 1,
            max_attempts,
        )

    return {
        "retry": tenacity.retry_if_exception(was_not_accepted if creates_job else is_transient),
        "wait": wait_retry_after(tenacity.wait_exponential_jitter(initial=1, max=60, jitter=1)),
        "stop": tenacity.stop_after_attempt(max_attempts),
        "before_sleep": say_why,
        "reraise": True,
    }


# ---------------------------------------------------------------------------------------------
# Responses to errors.
# ---------------------------------------------------------------------------------------------

_ERRORS_BY_STATUS: dict[int, type[EmpirioLabsError]] = {
    400: EmpirioLabsValidationError,
    401: EmpirioLabsAuthenticationError,
    402: EmpirioLabsInsufficientCreditsError,
    403: EmpirioLabsAuthenticationError,
    404: EmpirioLabsNotFoundError,
    409: EmpirioLabsValidationError,
    422: EmpirioLabsValidationError,
    429: EmpirioLabsRateLimitError,
}


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), else ``X-RateLimit-Reset``."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None  # unreadable: the backoff decides
        if when.tzinfo is None:
            return None
        return max(when.timestamp() - time.time(), 0.0)
    reset = response.headers.get("x-ratelimit-reset")
    if reset and response.status_code == 429:
        try:
            seconds = float(reset)
        except ValueError:
            return None
        # Either seconds from now or a Unix time: whichever is plausible.
        return max(seconds - time.time(), 0.0) if seconds > 1e9 else max(seconds, 0.0)
    return None


def _error_for(response: httpx.Response, secret: str) -> EmpirioLabsError:
    """Build the typed error for a non-2xx answer from the API's envelope, without the key."""
    code: str | None = None
    message: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            code = error.get("code") or error.get("type")
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        code = code or body.get("code")
        message = message or body.get("message") or body.get("detail")
    if not message:
        message = response.reason_phrase or "no message"
    text = str(message)
    if secret:
        text = text.replace(secret, "***")
    status = response.status_code
    cls = _ERRORS_BY_STATUS.get(status, EmpirioLabsServerError if status >= 500 else EmpirioLabsError)
    return cls(
        text,
        status_code=status,
        code=str(code) if code else None,
        retry_after=_retry_after(response),
    )


# ---------------------------------------------------------------------------------------------
# The hook.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSettings:
    """What the hook needs from the connection. The key is kept out of ``repr``."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE

    @classmethod
    def from_connection(cls, conn: Connection) -> ApiSettings:
        extra = conn.extra_dejson

        def option(name: str) -> Any:
            return extra.get(name, extra.get(f"extra__{CONNECTION_TYPE}__{name}"))

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


class SendGuard(Protocol):
    """
    Told right before each attempt to send the billed POST, and when the API provably refused one.

    The generate operator records both in the task state store: a runner that cannot record
    (its supervisor is gone) raises from :meth:`sending` and so never sends.
    """

    def sending(self) -> None:
        """The POST is about to leave; raise to stop it."""

    def not_sent(self) -> None:
        """The API provably did not accept the attempt (429, 503, no connection)."""


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API call, described once and run by the sync or the async path."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    files: Callable[[], Mapping[str, Any]] | None = None
    creates_job: bool = False
    guard: SendGuard | None = None


class EmpirioLabsHook(BaseHook):
    """
    Talks to the EmpirioLabs API with the key in the connection's password.

    Synchronous methods serve workers; ``a``-prefixed ones serve the triggerer. Both share the
    request descriptions, the error mapping and the retry policy, so a trigger and an operator
    can never disagree about what a call means.

    :param empiriolabs_conn_id: the Airflow connection (type ``empiriolabs``).
    :param timeout: per-request timeout in seconds; overrides the connection's ``timeout`` extra.
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
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        super().__init__()
        check_hook_params({"timeout": timeout, "max_attempts": max_attempts}, field="EmpirioLabsHook")
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._settings: ApiSettings | None = None
        self._client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._async_gate: asyncio.Semaphore | None = None

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
        if self.timeout is None:
            return settings
        return ApiSettings(settings.base_url, settings.api_key, self.timeout, settings.requests_per_minute)

    @property
    def settings(self) -> ApiSettings:
        """The connection's settings, read once (synchronously: not for the triggerer)."""
        if self._settings is None:
            conn = self.get_connection(self.empiriolabs_conn_id)
            self._settings = self._with_overrides(ApiSettings.from_connection(conn))
        return self._settings

    async def asettings(self) -> ApiSettings:
        """The connection's settings, read once without blocking the event loop."""
        if self._settings is None:
            conn = await self.aget_connection(self.empiriolabs_conn_id)
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
            },
            "timeout": httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
            "follow_redirects": False,
        }

    def get_conn(self) -> httpx.Client:
        """The synchronous HTTP client, built once per hook."""
        if self._client is None:
            self._client = httpx.Client(**self._client_options(self.settings))
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

    def _finish(self, call: _Call[T], response: httpx.Response, secret: str, budget: RequestBudget) -> T:
        if response.status_code >= 400:
            error = _error_for(response, secret)
            if isinstance(error, EmpirioLabsRateLimitError) and error.retry_after:
                budget.pause(error.retry_after)
            if call.creates_job and isinstance(error, EmpirioLabsServerError) and not was_not_accepted(error):
                raise EmpirioLabsSubmissionUnknownError(
                    f"the API answered {error} to the job submission, so whether a job was created is "
                    "unknown; it is not sent again (that could pay twice): check the account's usage",
                    status_code=error.status_code,
                    code=error.code,
                ) from None
            raise error
        try:
            return call.parse(response.json())
        except ValueError as err:
            if call.creates_job:
                raise EmpirioLabsSubmissionUnknownError(
                    f"the API accepted the job submission (HTTP {response.status_code}) but its answer "
                    f"could not be read ({err}); it is not sent again: check the account's usage",
                    status_code=response.status_code,
                ) from None
            raise EmpirioLabsServerError(
                f"unreadable answer to {call.method} {call.path}: {err}", status_code=response.status_code
            ) from None

    @staticmethod
    def _request(client: httpx.Client | httpx.AsyncClient, call: _Call[Any]) -> httpx.Request:
        """The one request builder: both clients build requests the same (synchronous) way."""
        files = call.files() if call.files else None
        return client.build_request(call.method, call.path, json=call.json, params=call.params, files=files)

    @staticmethod
    def _sent_but(call: _Call[Any], error: httpx.TransportError) -> Exception:
        """
        What a network failure means: for the billed POST, unless it provably never got in, an
        unknown outcome that must not be retried; for anything else, the error itself (retried).
        """
        if call.creates_job and not was_not_accepted(error):
            return EmpirioLabsSubmissionUnknownError(
                f"the job submission was sent but no answer came back ({type(error).__name__}); whether a "
                "job was created is unknown, so it is not sent again (that could pay twice): check the "
                "account's usage"
            )
        return error

    def _run(self, call: _Call[T]) -> T:
        client = self.get_conn()
        secret = self.settings.api_key
        budget = self.budget

        def attempt() -> T:
            request = self._request(client, call)
            slot = budget.acquire()
            try:
                if call.guard is not None:
                    call.guard.sending()  # after every wait: right before the bytes leave
                response = client.send(request)
            except httpx.TransportError as error:
                if call.guard is not None and was_refused(error):
                    call.guard.not_sent()
                raise self._sent_but(call, error) from None
            finally:
                budget.done(slot)
            try:
                return self._finish(call, response, secret, budget)
            except EmpirioLabsError as error:
                if call.guard is not None and was_refused(error):
                    call.guard.not_sent()
                raise

        policy = retry_policy(creates_job=call.creates_job, max_attempts=self.max_attempts, log=self.log)
        return tenacity.Retrying(**policy)(attempt)

    async def _arun(self, call: _Call[T]) -> T:
        client = await self.aget_conn()
        gate = self._async_gate or contextlib.nullcontext()  # none on a client the hook did not share
        secret = (await self.asettings()).api_key
        budget = await self.abudget()

        async def attempt() -> T:
            request = self._request(client, call)
            async with gate:
                slot = await budget.aacquire()
                try:
                    response = await client.send(request)
                except httpx.TransportError as error:
                    raise self._sent_but(call, error) from None
                finally:
                    budget.done(slot)
            return self._finish(call, response, secret, budget)

        policy = retry_policy(creates_job=call.creates_job, max_attempts=self.max_attempts, log=self.log)
        return await tenacity.AsyncRetrying(**policy)(attempt)

    # -- the calls --------------------------------------------------------------------------------

    @staticmethod
    def _submit_call(request: VideoRequest, guard: SendGuard | None = None) -> _Call[str]:
        return _Call(
            "POST",
            "/v1/videos/generations",
            lambda body: SubmittedJob.from_api(body).job_id,
            json=request.to_payload(),
            creates_job=True,
            guard=guard,
        )

    @staticmethod
    def _job_call(job_id: str) -> _Call[Job]:
        return _Call("GET", f"/v1/jobs/{check_job_id(job_id)}", Job.from_api)

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
    timeout = params.get("timeout")
    if timeout is not None and not (_is_number(timeout) and 0 < timeout < float("inf")):
        raise ValueError(f"{field}.timeout: must be a positive number of seconds (got {timeout!r})")
    attempts = params.get("max_attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"{field}.max_attempts: must be an integer of 1 or more (got {attempts!r})")


_HOOK_PARAMS = ("timeout", "max_attempts")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def user_agent() -> str:
    """Names the provider and its version, so EmpirioLabs can tell Airflow traffic apart."""
    return f"airflow-provider-empiriolabs/{__version__} httpx/{httpx.__version__}"
