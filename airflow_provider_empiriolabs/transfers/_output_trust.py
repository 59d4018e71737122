"""
Which output URLs the transfer fetches, and where its connections may go.

An output URL comes from the network (the API's answer, an XCom, a ``Location`` header), so
nothing in it is trusted. A worker usually sits inside a private network, next to a cloud
metadata service that hands out credentials: a URL pointing there must never be fetched, and the
bytes must never land in a bucket where someone could read them back.

The rules, applied to the first URL and to every redirect:

* **scheme**: https; plain http only when the EmpirioLabs connection itself is plain http (a
  local simulator). ``file://``, ``ftp://`` and relative URLs are never followed.
* **user info** (``https://user:pass@host/``) is refused, never stripped: httpx would send it as
  Basic auth, and a signed output URL has no business carrying a password. A named error is
  clearer than a request that quietly goes out without it.
* **host names** of cloud metadata services (``metadata.google.internal`` ...) are refused.
* **addresses**: the name is resolved (``socket.getaddrinfo``) and *every* address must be
  globally routable; private, loopback, link-local, shared, reserved, multicast and unspecified
  ones are refused unless the connection's extra ``allow_private_output_hosts`` is true (the
  simulator's connection sets it). Cloud metadata addresses (``169.254.169.254``, Azure's
  ``168.63.129.16`` ...) are refused even then.
* **redirects** stay on the host of the URL being fetched, unless the target is the API
  connection's own host or matches the extra ``allowed_output_hosts`` (host names or
  ``*.suffix`` patterns). Once that extra is set, it also lists every host a first output URL may
  point at (besides the API's); left empty, any public host the API hands out is fetched, since
  the API does not document its CDN's names.

DNS rebinding: the address check runs in the transport's connect step (``OutputGuard``, in
``_guarded_http``, builds the client): the name is resolved once, the addresses are checked, and
the socket connects to one of those very addresses (TLS still verifies the certificate against
the host name). No second lookup happens between the check and the connection, so a name that
answers a public address to the check and a private one to the connect cannot get through.
Behind an HTTP(S) proxy taken from the environment the proxy resolves the name: then only the
name, literal-address and redirect rules apply on the worker.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.exceptions import EmpirioLabsUnsafeUrlError
from airflow_provider_empiriolabs.hooks._settings import ALLOW_PRIVATE_OUTPUT_HOSTS, ALLOWED_OUTPUT_HOSTS
from airflow_provider_empiriolabs.redaction import redact_url

if TYPE_CHECKING:
    import httpx

__all__ = [
    "EXTRA_ALLOWED_OUTPUT_HOSTS",
    "EXTRA_ALLOW_PRIVATE_OUTPUT_HOSTS",
    "METADATA_ADDRESSES",
    "METADATA_HOST_NAMES",
    "OutputTrustPolicy",
    "address_problem",
]

#: Connection extra: host names (or ``*.suffix`` patterns) redirects may lead to.
EXTRA_ALLOWED_OUTPUT_HOSTS = ALLOWED_OUTPUT_HOSTS.name
#: Connection extra: follow output URLs whose host resolves to a non-public address.
EXTRA_ALLOW_PRIVATE_OUTPUT_HOSTS = ALLOW_PRIVATE_OUTPUT_HOSTS.name

#: Names of cloud instance-metadata services (GCP, AWS, Azure, OpenStack, Alibaba...).
METADATA_HOST_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
    }
)
#: Their addresses; refused even with ``allow_private_output_hosts`` (168.63.129.16, Azure's
#: wire server, is a public address, so the routability rule alone would let it through).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "168.63.129.16", "100.100.100.200", "fd00:ec2::254")
)

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unwrap(ip: _IPAddress) -> _IPAddress:
    """The IPv4 address an IPv6 one embeds (mapped, 6to4, Teredo), which is where packets go."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def address_problem(ip: _IPAddress, *, allow_private: bool) -> str | None:
    """
    Why ``ip`` may not be connected to, or ``None`` when it may.

    :param ip: a resolved address.
    :param allow_private: whether non-public addresses are acceptable (metadata ones never are).
    """
    inner = _unwrap(ip)
    if ip in METADATA_ADDRESSES or inner in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if allow_private:
        return None
    for kind, flag in (
        ("loopback", inner.is_loopback),
        ("link-local", inner.is_link_local),
        ("unspecified", inner.is_unspecified),
        ("multicast", inner.is_multicast),
        ("private", inner.is_private),
        ("reserved", inner.is_reserved),
    ):
        if flag:
            return f"a {kind} address"
    if not inner.is_global:
        return "a non-public (shared or reserved) address"
    return None


def _normalise_host(host: str) -> str:
    return host.strip().rstrip(".").lower().removeprefix("[").removesuffix("]")


def _flag(value: Any, name: str, conn_id: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return False
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"connection {conn_id!r}: extra {name} must be true or false (got {value!r})")


def _host_patterns(value: Any, conn_id: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ValueError(
            f"connection {conn_id!r}: extra {EXTRA_ALLOWED_OUTPUT_HOSTS} must be a list of host names "
            f"(or '*.suffix' patterns), got {type(value).__name__}"
        )
    patterns = []
    for item in items:
        pattern = _normalise_host(item)
        if not pattern:
            continue
        bare = pattern.removeprefix("*.")
        if not bare or "*" in bare or (any(c in bare for c in "/:@?# ") and not _is_ip(bare)):
            raise ValueError(
                f"connection {conn_id!r}: extra {EXTRA_ALLOWED_OUTPUT_HOSTS} holds {item!r}: give a host "
                "name such as 'cdn.example.com' or a pattern such as '*.example.com' (no scheme, path or port)"
            )
        patterns.append(pattern)
    return tuple(patterns)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OutputTrustPolicy:
    """
    What the EmpirioLabs connection allows output URLs to be (see the module docstring).

    The production default (no extras) allows public https hosts only, and redirects on the same
    host or to the API's.

    :param api_host: host of the API connection's base URL; redirects there are always allowed.
    :param allowed_hosts: hosts (``name`` or ``*.suffix``) cross-host redirects may lead to.
    :param allow_private: follow hosts that resolve to non-public addresses (a local simulator,
        a CDN inside the network). Metadata addresses stay refused.
    :param allow_plain_http: follow plain-http URLs (only when the API connection is plain http).
    """

    api_host: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False
    allow_plain_http: bool = False

    @classmethod
    def from_connection(cls, conn: Any) -> OutputTrustPolicy:
        """
        Read the policy from an EmpirioLabs connection's host and extras.

        :param conn: an Airflow connection (``host``, ``schema``, ``extra_dejson``), or ``None``
            for the production defaults of ``https://api.empiriolabs.ai``.
        """
        if conn is None:
            return cls(api_host="api.empiriolabs.ai")
        extra: Mapping[str, Any] = conn.extra_dejson or {}

        def option(name: str) -> Any:
            return extra.get(name)

        host = (conn.host or "").strip()
        if host and "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        from urllib.parse import urlsplit

        parts = urlsplit(host or "https://api.empiriolabs.ai")
        conn_id = str(conn.conn_id)
        return cls(
            api_host=_normalise_host(parts.hostname or "") or None,
            allowed_hosts=_host_patterns(option(EXTRA_ALLOWED_OUTPUT_HOSTS), conn_id),
            allow_private=_flag(option(EXTRA_ALLOW_PRIVATE_OUTPUT_HOSTS), EXTRA_ALLOW_PRIVATE_OUTPUT_HOSTS, conn_id),
            allow_plain_http=parts.scheme.lower() == "http",
        )

    def redirect_allowed(self, host: str) -> bool:
        """
        Whether ``host`` is the API's or matches ``allowed_output_hosts``: where a redirect may
        lead, and, once the list is set, where a first output URL may point.

        :param host: a host name or literal address.
        """
        host = _normalise_host(host)
        if self.api_host and host == self.api_host:
            return True
        for pattern in self.allowed_hosts:
            if pattern.startswith("*.") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
            if host == pattern:
                return True
        return False

    def check_url(self, url: str | httpx.URL, *, field: str = "output URL") -> httpx.URL:
        """
        Refuse a URL by its shape alone (scheme, user info, metadata names, literal addresses).

        Parsed by httpx, the parser the request will use, so the host checked is the host dialled.

        :param url: the URL.
        :param field: what the URL is, for the error (``output URL``, ``redirect target``).
        :returns: the parsed URL.
        """
        import httpx

        try:
            # Both parsers must accept it: httpx's dials, the stdlib's redacts every log line.
            shown = redact_url(url)
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(str(url))
        except (httpx.InvalidURL, TypeError, ValueError):
            raise EmpirioLabsUnsafeUrlError(f"{field} is not a valid URL (not shown: it may be signed)") from None
        scheme = parsed.scheme.lower()
        if scheme == "http" and not self.allow_plain_http:
            raise EmpirioLabsUnsafeUrlError(
                f"refusing plain-http {field} {shown}: plain http is only followed when the EmpirioLabs "
                "connection's own base URL is plain http (a local simulator)"
            )
        if scheme not in ("http", "https"):
            raise EmpirioLabsUnsafeUrlError(
                f"refusing {field} with scheme {scheme or '(none)'!r}: only http(s) URLs are followed"
            )
        if parsed.userinfo:
            raise EmpirioLabsUnsafeUrlError(
                f"refusing {field} {shown}: it carries user info (user:password@), which would be sent "
                "as credentials; output URLs are signed by their query, never by a password"
            )
        host = _normalise_host(parsed.raw_host.decode("ascii", "replace"))
        if not host:
            raise EmpirioLabsUnsafeUrlError(f"refusing {field} {shown}: it names no host")
        if host in METADATA_HOST_NAMES or host.endswith(".metadata.google.internal"):
            raise EmpirioLabsUnsafeUrlError(f"refusing {field} {shown}: host {host!r} is a cloud metadata service")
        if _is_ip(host):
            self.check_address(ipaddress.ip_address(host), host, shown, field=field)
        return parsed

    def check_address(self, ip: _IPAddress, host: str, shown: str, *, field: str = "output URL") -> None:
        """
        Refuse a resolved address the policy does not allow.

        :param ip: the address.
        :param host: the host name it was resolved from.
        :param shown: the redacted URL, for the error.
        :param field: what the URL is.
        """
        problem = address_problem(ip, allow_private=self.allow_private)
        if problem is None:
            return
        hint = (
            ""
            if "metadata" in problem
            else f"; set the EmpirioLabs connection's extra {EXTRA_ALLOW_PRIVATE_OUTPUT_HOSTS} to true "
            "only if outputs really are served from inside your network (a local simulator)"
        )
        raise EmpirioLabsUnsafeUrlError(f"refusing {field} {shown}: host {host!r} resolves to {ip}, {problem}{hint}")

    def resolve(self, host: str, port: int, shown: str) -> list[str]:
        """
        Resolve ``host`` once and check every address; return them, in resolver order.

        Every address must pass: a name that mixes public and private answers is refused, since
        which one a connection uses is the resolver's choice, not ours.

        :param host: host name or literal address.
        :param port: TCP port.
        :param shown: the redacted URL, for errors.
        """
        try:
            infos = socket.getaddrinfo(_normalise_host(host), port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            import httpcore

            raise httpcore.ConnectError(f"cannot resolve {host!r}: {error}") from None
        addresses: list[str] = []
        for *_, sockaddr in infos:
            text = str(sockaddr[0]).split("%", 1)[0]
            self.check_address(ipaddress.ip_address(text), host, shown)
            if text not in addresses:
                addresses.append(text)
        return addresses
