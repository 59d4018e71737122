"""Property tests of the output-URL policy: whatever the URL's shape, the outcome is a named error
or a URL that satisfies every rule. No network: names resolve through a fake resolver."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.exceptions import EmpirioLabsUnsafeUrlError
from airflow_provider_empiriolabs.transfers._guarded_http import OutputGuard
from airflow_provider_empiriolabs.transfers._output_trust import (
    METADATA_ADDRESSES,
    METADATA_HOST_NAMES,
    OutputTrustPolicy,
    address_problem,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

schemes = st.sampled_from(["https", "http", "HTTPS", "ftp", "file", "javascript", "", "gopher"])
userinfos = st.sampled_from(["", "user@", "user:pass@", ":@", "a%40b:c@", "@"])
literal_hosts = st.sampled_from(
    [
        "127.0.0.1",
        "10.0.0.1",
        "192.168.1.20",
        "172.16.0.5",
        "100.64.0.1",
        "169.254.169.254",
        "168.63.129.16",
        "0.0.0.0",
        "8.8.8.8",
        "93.184.216.34",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:8.8.8.8]",
        "[fd00:ec2::254]",
        "[2606:4700::1111]",
        "[fe80::1]",
    ]
)
named_hosts = st.sampled_from(
    [
        "localhost",
        "cdn.example.com",
        "metadata.google.internal",
        "METADATA.google.internal.",
        "metadata",
        "api.empiriolabs.ai",
        "b-cdn.net",
        "xn--bcher-kva.example",
    ]
)
random_hosts = st.text(alphabet="abcz09.-_[]:%@\\/ ", min_size=0, max_size=20)
hosts = st.one_of(literal_hosts, named_hosts, random_hosts)
ports = st.one_of(st.just(""), st.integers(0, 70000).map(lambda p: f":{p}"), st.just(":"))
paths = st.text(alphabet="/abc.%?#&=@\\ ", max_size=20)


def url_shapes() -> st.SearchStrategy[str]:
    return st.builds(lambda s, u, h, p, r: f"{s}://{u}{h}{p}/{r}", schemes, userinfos, hosts, ports, paths) | st.text(
        max_size=40
    )


def fake_resolver(table: dict[str, str]) -> Any:
    """A getaddrinfo answering from ``table`` (unknown names: a public address)."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        address = table.get(str(host).lower(), str(host))
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            ip = ipaddress.ip_address("93.184.216.34")
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (str(ip), port or 0))]

    return getaddrinfo


policies = st.builds(
    OutputTrustPolicy,
    api_host=st.sampled_from([None, "api.empiriolabs.ai", "127.0.0.1"]),
    allowed_hosts=st.sampled_from([(), ("cdn.example.com",), ("*.example.com",)]),
    allow_private=st.booleans(),
    allow_plain_http=st.booleans(),
)


@SETTINGS
@given(url=url_shapes(), policy=policies, answers=st.sampled_from(["127.0.0.1", "10.9.8.7", "8.8.4.4", "::1"]))
def test_every_url_is_a_named_refusal_or_satisfies_every_rule(
    monkeypatch: pytest.MonkeyPatch, url: str, policy: OutputTrustPolicy, answers: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"localhost": "127.0.0.1", "cdn.example.com": answers}))
    guard = OutputGuard(policy)  # not pinning: the request hook resolves and checks
    try:
        parsed = policy.check_url(url)
        guard.begin(str(parsed), None)
        guard.on_request(httpx.Request("GET", parsed))
    except EmpirioLabsUnsafeUrlError as error:
        assert "signature" not in str(error) or "signature" not in url
        return
    except httpx.ConnectError:
        return  # an unresolvable name: a network error the download retries, never a fetch
    # Accepted: it must satisfy every rule.
    assert parsed.scheme in (("http", "https") if policy.allow_plain_http else ("https",))
    assert not parsed.userinfo
    host = parsed.host.rstrip(".").lower()
    assert host and host not in METADATA_HOST_NAMES
    if policy.allowed_hosts:  # once set, the list (and the API's host) is every host outputs come from
        assert policy.redirect_allowed(host)
    for *_, sockaddr in fake_resolver({"localhost": "127.0.0.1", "cdn.example.com": answers})(host, 443):
        ip = ipaddress.ip_address(sockaddr[0])
        assert ip not in METADATA_ADDRESSES
        if not policy.allow_private:
            assert ip.is_global


@SETTINGS
@given(ip=st.ip_addresses(), allow_private=st.booleans())
def test_an_allowed_address_is_public_and_never_metadata(ip: Any, allow_private: bool) -> None:
    problem = address_problem(ip, allow_private=allow_private)
    if problem is None:
        assert ip not in METADATA_ADDRESSES
        if not allow_private:
            inner = ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip
            assert inner.is_global and not inner.is_multicast


@SETTINGS
@given(v4=st.ip_addresses(v=4), allow_private=st.booleans())
def test_ipv4_mapped_ipv6_is_judged_as_the_ipv4_it_embeds(v4: Any, allow_private: bool) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    assert (address_problem(mapped, allow_private=allow_private) is None) == (
        address_problem(v4, allow_private=allow_private) is None
    )


labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)


@SETTINGS
@given(sub=labels, domain=labels, tld=st.sampled_from(["com", "net", "example"]))
def test_suffix_patterns_match_subdomains_only(sub: str, domain: str, tld: str) -> None:
    policy = OutputTrustPolicy(api_host="api.empiriolabs.ai", allowed_hosts=(f"*.{domain}.{tld}",))
    assert policy.redirect_allowed(f"{sub}.{domain}.{tld}")
    assert policy.redirect_allowed(f"{sub.upper()}.{domain}.{tld}.")
    assert not policy.redirect_allowed(f"{domain}.{tld}")  # the apex is not a subdomain
    assert not policy.redirect_allowed(f"{sub}{domain}.{tld}")  # evil-example.com is not *.example.com
    assert not policy.redirect_allowed(f"{domain}.{tld}.{sub}.attacker")
    assert policy.redirect_allowed("api.empiriolabs.ai")
