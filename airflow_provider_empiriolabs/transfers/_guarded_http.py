"""
The httpx client of output downloads: every request checked, every connection pinned.

:class:`OutputGuard` applies an
:class:`~airflow_provider_empiriolabs.transfers._output_trust.OutputTrustPolicy` at the three
places where a URL could slip past it: the request hook sees every request, redirects included
(scheme, user info, host names, which host a redirect leads to); the network backend resolves the
host once, checks every address and connects to a checked one, so DNS rebinding finds no second
lookup to answer differently; and every socket read and write is capped by the download's total
deadline (:mod:`airflow_provider_empiriolabs._socket_deadline`, as for the hook's calls), so a
server that drips one byte a second is cut off even while httpx is still reading the headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpcore

from airflow_provider_empiriolabs._socket_deadline import Deadline, DeadlineBackend
from airflow_provider_empiriolabs.exceptions import EmpirioLabsUnsafeUrlError
from airflow_provider_empiriolabs.redaction import redact_url
from airflow_provider_empiriolabs.transfers._output_trust import (
    EXTRA_ALLOWED_OUTPUT_HOSTS,
    OutputTrustPolicy,
    _normalise_host,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["OutputGuard"]


class OutputGuard:
    """
    Applies an :class:`OutputTrustPolicy` to one httpx client: every request, every redirect,
    every connection, and the download's total deadline on every socket read.

    The copier calls :meth:`begin` before each download attempt (the URL asked for, and the
    deadline); the client's request hook checks each request against that URL; the transport
    resolves, checks and connects to the checked address.

    :param policy: the rules.
    """

    def __init__(self, policy: OutputTrustPolicy) -> None:
        self.policy = policy
        self.origin_host: str | None = None
        self.current_url: str = ""
        self.deadline: Deadline | None = None
        #: Whether the client's connections go through :meth:`transport` (then addresses are
        #: checked at connect time; else the request hook resolves and checks them, unpinned).
        self.pins_connections = False

    def begin(self, url: str, deadline: float | None) -> None:
        """
        Start an attempt at ``url``: redirects may stay on its host; reads stop at ``deadline``.

        :param url: the URL about to be requested.
        :param deadline: ``time.monotonic()`` value after which no read may wait, or ``None``.
        """
        import httpx

        self.origin_host = _normalise_host(httpx.URL(url).raw_host.decode("ascii", "replace"))
        self.current_url = url
        self.deadline = None if deadline is None else Deadline(deadline, what="download")

    def current_deadline(self) -> Deadline | None:
        """The attempt's deadline, which every socket operation of the guarded connections honours."""
        return self.deadline

    def on_request(self, request: httpx.Request) -> None:
        """httpx request hook: runs before every request the client sends, redirects included."""
        host = _normalise_host(request.url.raw_host.decode("ascii", "replace"))
        is_redirect = self.origin_host is not None and host != self.origin_host
        field = "redirect target" if is_redirect else "output URL"
        self.policy.check_url(request.url, field=field)
        shown = redact_url(request.url)
        if not is_redirect and self.policy.allowed_hosts and not self.policy.redirect_allowed(host):
            raise EmpirioLabsUnsafeUrlError(
                f"refusing output URL {shown}: its host is neither the API's nor in the EmpirioLabs "
                f"connection's extra {EXTRA_ALLOWED_OUTPUT_HOSTS}, which, once set, lists every host "
                "outputs may come from"
            )
        if is_redirect and not self.policy.redirect_allowed(host):
            raise EmpirioLabsUnsafeUrlError(
                f"refusing redirect from {redact_url(self.current_url)} to {shown}: redirects to another "
                f"host are followed only when it is the API's host or matches the EmpirioLabs "
                f"connection's extra {EXTRA_ALLOWED_OUTPUT_HOSTS}"
            )
        if "authorization" in request.headers:  # never: output URLs are signed, not authenticated
            del request.headers["authorization"]
        self.current_url = str(request.url)
        if not self.pins_connections:  # a client built elsewhere: check now (no pinning possible)
            import httpcore
            import httpx

            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            try:
                self.policy.resolve(host, port, shown)
            except httpcore.ConnectError as error:
                raise httpx.ConnectError(str(error), request=request) from None

    def transport(self, **kwargs: Any) -> httpx.HTTPTransport:
        """An httpx transport whose connections resolve, check and pin addresses (see module doc)."""
        import httpx

        transport = httpx.HTTPTransport(**kwargs)
        # httpx builds its httpcore pool without a way to pass a network backend; the pool reads
        # it from this attribute for every new connection (pinned httpx/httpcore; a test covers it).
        transport._pool._network_backend = _GuardedBackend(self)
        self.pins_connections = True
        return transport

    def client(self, *, timeout: httpx.Timeout, headers: Mapping[str, str]) -> httpx.Client:
        """
        An httpx client for output downloads under this guard: redirects followed (each checked
        by the request hook), connections pinned to checked addresses, no credentials.

        :param timeout: per-operation timeouts (each read is also capped by the deadline).
        :param headers: default headers (the User-Agent).

        Proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY`` ...) are honoured as httpx
        would (an explicit transport turns its own handling off, so it is rebuilt here): a proxied
        request is resolved by the proxy, so only the name, literal-address and redirect rules
        apply to it; hosts ``NO_PROXY`` exempts go direct, pinned.
        """
        import httpx
        from httpx._utils import get_environment_proxies

        mounts: dict[str, httpx.BaseTransport | None] = {
            pattern: self.transport() if proxy is None else httpx.HTTPTransport(proxy=proxy)
            for pattern, proxy in get_environment_proxies().items()
        }
        return httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            headers=dict(headers),
            event_hooks={"request": [self.on_request]},
            transport=self.transport(),
            mounts=mounts,
        )


class _GuardedBackend(DeadlineBackend):
    """Resolves once, checks every address, connects to a checked one (no second lookup)."""

    def __init__(self, guard: OutputGuard) -> None:
        super().__init__(httpcore.SyncBackend(), guard.current_deadline)
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        shown = redact_url(self._guard.current_url)
        last: Exception | None = None
        for address in self._guard.policy.resolve(host, port, shown):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        raise last or httpcore.ConnectError(f"{host!r} resolved to no address")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("output downloads never use unix sockets")
