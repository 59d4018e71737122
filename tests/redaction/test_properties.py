"""
Properties of the HTTP log filter: for arbitrary URLs, header collections and keys, in the shapes
the HTTP libraries log them, the filtered record never holds the secret parts.

A secret is drawn as a distinctive token (so that finding it in the output means it leaked, not
that the surrounding text happened to spell it) and embedded in arbitrary text around it.
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs import redaction
from airflow_provider_empiriolabs.redaction import (
    HttpLogRedactor,
    api_key_problem,
    redact_log_text,
    redact_url,
    register_secret,
)

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

#: A secret: long enough and random enough to be recognisable (as signatures, cookies and keys are).
secret_tokens = st.text(alphabet=string.ascii_letters + string.digits, min_size=16, max_size=64).filter(
    lambda s: len(set(s)) > 6
)
# URL pieces: unreserved characters and some sub-delims, as they appear in real URLs.
url_chars = string.ascii_letters + string.digits + "-._~!$*+,;"
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
paths = st.lists(st.text(alphabet=url_chars, min_size=1, max_size=12), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
param_names = st.text(alphabet=string.ascii_lowercase + "_-", min_size=1, max_size=12)
SENSITIVE_HEADERS = ["Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Location", "X-Api-Key"]
header_names = st.sampled_from(SENSITIVE_HEADERS).flatmap(
    lambda n: st.sampled_from([n, n.lower(), n.upper(), n.title()])
)
# Header values around the secret: any printable text (quotes, backslashes, spaces, '=' ...).
fillers = st.text(alphabet=[c for c in string.printable if c not in "\r\n\x0b\x0c"], max_size=20)


@pytest.fixture(autouse=True)
def _keep_registered_secrets() -> Iterator[None]:
    """Keys registered by the examples are forgotten afterwards (the registry is process-wide)."""
    before = set(redaction._secrets)
    yield
    redaction._secrets.clear()
    redaction._secrets.update(before)


def _filtered(msg: str, *args: Any, name: str = "httpcore.http11") -> str:
    """What a record of an HTTP logger shows after the filter."""
    record = logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args or None, None)
    assert HttpLogRedactor().filter(record)
    return record.getMessage()


@PROPERTY_SETTINGS
@given(
    scheme=st.sampled_from(["http", "https", "s3", "abfs"]),
    user=st.text(alphabet=string.ascii_letters, min_size=1, max_size=8),
    password=secret_tokens,
    host=hosts,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=paths,
    params=st.lists(st.tuples(param_names, st.text(alphabet=url_chars, max_size=10)), max_size=3),
    signature=secret_tokens,
    fragment=st.one_of(st.none(), secret_tokens),
    with_userinfo=st.booleans(),
)
def test_urls_lose_their_query_userinfo_and_fragment(
    scheme: str,
    user: str,
    password: str,
    host: str,
    port: int | None,
    path: str,
    params: list[tuple[str, str]],
    signature: str,
    fragment: str | None,
    with_userinfo: bool,
) -> None:
    netloc = f"{user}:{password}@{host}" if with_userinfo else host
    if port:
        netloc += f":{port}"
    query = "&".join([*(f"{k}={v}" for k, v in params), f"signature={signature}"])
    url = f"{scheme}://{netloc}{path}?{query}" + (f"#{fragment}" if fragment else "")
    shown = redact_url(url)
    assert signature not in shown and "?" not in shown and "#" not in shown
    if with_userinfo:
        assert password not in shown and "@" not in shown
    assert shown.startswith(f"{scheme}://{host}")
    # The same URL logged by an HTTP library, however it is shown.
    for msg, args in (
        ("HTTP Request: GET %s %s", (url, '"HTTP/1.1 302 Found"')),
        ("Redirecting %s -> %s", (url, f"{path}?{query}")),
        ("%s", ((b"Location", url.encode()),)),
        ("request=%r", ({"url": url},)),
    ):
        text = _filtered(msg, *args)
        assert signature not in text, text
        if with_userinfo:
            assert password not in text, text
        if fragment:
            assert fragment not in text, text


@PROPERTY_SETTINGS
@given(
    headers=st.lists(st.tuples(header_names, fillers, secret_tokens, fillers), min_size=1, max_size=5),
    others=st.dictionaries(st.sampled_from(["Host", "Content-Type", "Date", "Server"]), fillers, max_size=3),
    as_bytes=st.booleans(),
    shape=st.sampled_from(["tuples", "dict", "lines", "hpack"]),
)
def test_credential_header_values_never_show(
    headers: list[tuple[str, str, str, str]], others: dict[str, str], as_bytes: bool, shape: str
) -> None:
    fill = "".join(f"{b}{a}" for _, b, _, a in headers) + "".join(others.values())
    assume(not any(token in fill for _, _, token, _ in headers))
    values = [(name, f"{before}{token}{after}") for name, before, token, after in headers]
    values += list(others.items())
    if shape == "lines":
        text = _filtered("%s", "\r\n".join(f"{n}: {v}" for n, v in values))
    else:
        items: Any = [(n.encode(), v.encode()) if as_bytes else (n, v) for n, v in values]
        if shape == "dict":
            items = dict(items)
        if shape == "hpack":
            text = _filtered("Decoded %s, consumed %d", items, 3, name="hpack.hpack")
        else:
            text = _filtered("receive_response_headers.complete return_value=%r", (b"HTTP/1.1", 302, b"Found", items))
    for _name, _before, token, _after in headers:
        assert token not in text, text


@PROPERTY_SETTINGS
@given(
    core=st.text(alphabet=string.ascii_letters + string.digits + "-_.~+/=", min_size=12, max_size=48).filter(
        lambda s: len(set(s)) > 6
    ),
    before=fillers,
    after=fillers,
    how=st.sampled_from(["raw", "repr", "json", "bytes", "bearer"]),
    logger=st.sampled_from(["httpx", "httpcore.http11", "urllib3.connectionpool", "botocore.endpoint", "hpack.hpack"]),
)
def test_a_registered_key_never_shows_in_any_form(core: str, before: str, after: str, how: str, logger: str) -> None:
    assume(core not in before + after)  # the surrounding text must not spell the key by itself
    key = f"sk-empiriolabs-{core}"
    assert api_key_problem(key) is None
    register_secret(key)
    shown = {
        "raw": key,
        "repr": repr(key),
        "json": json.dumps({"password": key}),
        "bytes": repr(f"Bearer {key}".encode()),
        "bearer": f"Authorization: Bearer {key}",
    }[how]
    text = _filtered("%s%s%s", before, shown, after, name=logger)
    assert core not in text, text


@PROPERTY_SETTINGS
@given(st.text(min_size=1, max_size=40))
def test_a_key_is_accepted_exactly_when_it_is_printable_ascii_without_spaces(key: str) -> None:
    problem = api_key_problem(key)
    assert (problem is None) == all("!" <= c <= "~" for c in key)
    if problem is not None:
        assert "remove it" in problem
        # The problem is named, the key never shown: the words depend only on where the unsendable
        # characters are and what they are, never on the key's printable characters.
        blanked = "".join("x" if "!" <= c <= "~" else c for c in key)
        assert api_key_problem(blanked) == problem


@PROPERTY_SETTINGS
@given(st.text(max_size=200))
def test_redaction_is_idempotent_and_never_raises(text: str) -> None:
    once = redact_log_text(text)
    assert redact_log_text(once) == once
    assert isinstance(_filtered(text.replace("%", "%%")), str)


@pytest.mark.parametrize("url", ["https://]/", "https://[::1/x?signature=0123456789abcdef", "http://[/"])
def test_an_unparseable_url_is_redacted_whole(url: str) -> None:
    assert "signature" not in redact_url(url)
