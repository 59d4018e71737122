"""
What the hook needs from its connection, and which keyword arguments a hook takes.

Every extra of the EmpirioLabs connection is declared here once, as a :class:`ConnectionSetting`
(:data:`CONNECTION_SETTINGS`): the connection form (``get_provider_info``) and the modules that
read an extra take its name, label, schema and default from here. The connection's host, key and
extras become an :class:`ApiSettings` (the key checked and registered as a secret before any
request); :func:`check_hook_params` refuses, when a DAG is parsed, ``hook_params`` the hook could
not use. Standard library only: Airflow imports this (through ``get_provider_info``) to list
providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.exceptions import EmpirioLabsAuthenticationError
from airflow_provider_empiriolabs.redaction import api_key_problem, register_secret

if TYPE_CHECKING:
    from airflow.sdk import Connection

DEFAULT_BASE_URL = "https://api.empiriolabs.ai"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_REQUESTS_PER_MINUTE = 50
#: Without a ``total_timeout``, a request's total deadline is this many times its per-read ``timeout``.
TOTAL_TIMEOUT_FACTOR = 4.0
#: The connection form's Test button: each network operation, and the whole call, within this many
#: seconds, tried once: an API that is down or unreachable is said in seconds, not after retries.
TEST_CONNECTION_TIMEOUT_SECONDS = 5.0
#: Seconds a read of the live model catalogue is kept per process (see ``hooks/_catalogue.py``).
DEFAULT_CATALOGUE_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class ConnectionSetting:
    """
    One extra of the EmpirioLabs connection: its name in the extras, and how the form shows it.

    :param name: the key in the connection's extras (and the form field's name).
    :param label: the form field's label.
    :param description: the form field's help text.
    :param schema: the JSON schema the form validates the value with.
    :param default: the value an absent extra means (shown as the field's placeholder), if any.
    """

    name: str
    label: str
    description: str
    schema: dict[str, Any]
    default: Any = None

    @property
    def placeholder(self) -> str | None:
        """The default as the empty field shows it, ``None`` without one."""
        if self.default is None or isinstance(self.default, bool):
            return None
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


TIMEOUT = ConnectionSetting(
    "timeout",
    "Request timeout (seconds)",
    f"Per-request timeout of every call to the API. Default {DEFAULT_TIMEOUT_SECONDS:g}.",
    {"type": ["number", "null"], "minimum": 1},
    DEFAULT_TIMEOUT_SECONDS,
)
REQUESTS_PER_MINUTE = ConnectionSetting(
    "requests_per_minute",
    "Requests per minute",
    f"The account's request budget, shared by all its keys and jobs (EmpirioLabs allows "
    f"{DEFAULT_REQUESTS_PER_MINUTE}). Lower it when other systems use the same account. "
    f"Default {DEFAULT_REQUESTS_PER_MINUTE}.",
    {"type": ["integer", "null"], "minimum": 1},
    DEFAULT_REQUESTS_PER_MINUTE,
)
BUDGET_CONN_ID = ConnectionSetting(
    "budget_conn_id",
    "Shared budget (Redis connection id)",
    "A Redis connection (type redis) holding the account's request budget for every worker and "
    "triggerer (the [redis] extra). Empty: each process keeps its own budget.",
    {"type": ["string", "null"]},
)
ALLOWED_OUTPUT_HOSTS = ConnectionSetting(
    "allowed_output_hosts",
    "Output hosts",
    "Host names (or *.suffix patterns), comma-separated, that output URLs and their redirects may "
    "point at besides the API's own host. Empty: any public https host.",
    {"type": ["string", "null"]},
)
ALLOW_PRIVATE_OUTPUT_HOSTS = ConnectionSetting(
    "allow_private_output_hosts",
    "Allow private output hosts",
    "Let output URLs resolve to private or loopback addresses (a local simulator; never cloud "
    "metadata addresses). Off by default.",
    {"type": ["boolean", "null"]},
    False,
)
CATALOGUE_TTL = ConnectionSetting(
    "catalogue_ttl_seconds",
    "Model catalogue TTL (seconds)",
    "How long a task's process keeps what the live model catalogue said about a model (its prices "
    "and ranges win over the shipped spec). 0 turns the live read off. Empty: [empiriolabs] "
    f"catalogue_ttl_seconds, else {DEFAULT_CATALOGUE_TTL_SECONDS:g}.",
    {"type": ["number", "null"], "minimum": 0},
    DEFAULT_CATALOGUE_TTL_SECONDS,
)
#: Every extra of the connection, in the form's order.
CONNECTION_SETTINGS: tuple[ConnectionSetting, ...] = (
    TIMEOUT,
    REQUESTS_PER_MINUTE,
    BUDGET_CONN_ID,
    ALLOWED_OUTPUT_HOSTS,
    ALLOW_PRIVATE_OUTPUT_HOSTS,
    CATALOGUE_TTL,
)


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
            timeout=number(TIMEOUT.name, DEFAULT_TIMEOUT_SECONDS, float),
            requests_per_minute=number(REQUESTS_PER_MINUTE.name, DEFAULT_REQUESTS_PER_MINUTE, int),
        )


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
