"""
Every HTTP logger, at DEBUG, on real HTTP to 127.0.0.1: no signature, cookie, key or URL password
reaches a log record, with no context manager around the calls (the filter is installed when the
provider is imported).

The server redirects to signed URLs (absolute and relative ``Location``) and sets a cookie on
every answer; the clients send the key as ``Authorization`` and a cookie, and put a password and a
token in the URL. All loggers are captured (root at DEBUG, every HTTP logger at DEBUG and
propagating, so Airflow's own ``httpx: WARN`` does not hide anything).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import airflow_provider_empiriolabs  # noqa: F401 - importing the provider installs the filter
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.redaction import (
    HTTP_LOGGERS,
    HttpLogRedactor,
    install_http_log_redaction,
    redact_log_text,
)
from airflow_provider_empiriolabs.testing.server import connection_json
from tests.redaction.support import SecretServer, captured_text, everything_at_debug


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    with SecretServer() as srv:
        monkeypatch.setenv("AIRFLOW_CONN_EL_REDACTION", connection_json(srv.url, srv.secrets.key))
        yield srv


def _headers(srv: SecretServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {srv.secrets.key}", "Cookie": f"session={srv.secrets.cookie}"}


def _hook_sync(srv: SecretServer) -> None:
    hook = EmpirioLabsHook("el_redaction")
    assert hook.list_models()[0]["id"] == "happyhorse-1-1"
    assert hook.test_connection()[0]
    hook.close()


def _hook_async(srv: SecretServer) -> None:
    async def go() -> None:
        hook = EmpirioLabsHook("el_redaction")
        assert (await hook.alist_models())[0]["id"] == "happyhorse-1-1"
        await hook.aclose()

    asyncio.run(go())


def _httpx_redirects(srv: SecretServer) -> None:
    with httpx.Client(follow_redirects=True, headers=_headers(srv)) as client:
        for path in ("/redirect", "/redirect-relative"):
            assert client.get(srv.userinfo_url(path)).content == b"video bytes"


def _httpx_async_redirects(srv: SecretServer) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(follow_redirects=True, headers=_headers(srv)) as client:
            for path in ("/redirect", "/redirect-relative"):
                assert (await client.get(srv.userinfo_url(path))).content == b"video bytes"

    asyncio.run(go())


def _urllib3(srv: SecretServer) -> None:
    import urllib3

    with urllib3.PoolManager() as pool:
        for path in ("/redirect", "/redirect-relative"):
            url = f"{srv.url}{path}?token={srv.secrets.signature}"
            assert pool.request("GET", url, headers=_headers(srv)).data == b"video bytes"


def _requests(srv: SecretServer) -> None:
    import requests

    with requests.Session() as session:
        for path in ("/redirect", "/redirect-relative"):
            response = session.get(srv.userinfo_url(path), headers=_headers(srv), timeout=10)
            assert response.content == b"video bytes"


def _hpack(srv: SecretServer) -> None:
    """HTTP/2's header compression logs header values (and their encodings) at DEBUG."""
    from hpack import Decoder, Encoder

    s = srv.secrets
    headers = [
        (":path", f"/v1/outputs/job_1/0.mp4?signature={s.signature}"),
        ("authorization", f"Bearer {s.key}"),
        ("cookie", f"session={s.cookie}"),
        ("location", f"https://cdn.example/x.mp4?signature={s.signature}"),
    ]
    for huffman in (True, False):
        block = Encoder().encode(headers, huffman=huffman)
        assert dict(Decoder().decode(block))["authorization"] == f"Bearer {s.key}"


#: Each client, and the loggers that must have logged for the test to mean something.
CLIENTS: dict[str, tuple[Callable[[SecretServer], None], set[str]]] = {
    "hook-sync": (_hook_sync, {"httpx", "httpcore.connection", "httpcore.http11"}),
    "hook-async": (_hook_async, {"httpx", "httpcore.connection", "httpcore.http11"}),
    "httpx-redirects": (_httpx_redirects, {"httpx", "httpcore.connection", "httpcore.http11"}),
    "httpx-async-redirects": (_httpx_async_redirects, {"httpx", "httpcore.connection", "httpcore.http11"}),
    "urllib3": (_urllib3, {"urllib3.connectionpool", "urllib3.poolmanager"}),
    "requests": (_requests, {"urllib3.connectionpool"}),
    "hpack": (_hpack, {"hpack.hpack"}),
}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_no_secret_in_any_http_log_record_at_debug(
    client: str, server: SecretServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, expected_loggers = CLIENTS[client]
    with everything_at_debug(caplog, monkeypatch):
        run(server)
    names = {r.name for r in caplog.records}
    assert expected_loggers <= names, f"{client} did not log through {expected_loggers - names}"
    text = captured_text(caplog)
    assert server.secrets.leaks(text) == [], f"{client} logged secrets:\n{text[-6000:]}"
    for record in caplog.records:
        assert server.secrets.leaks(record.getMessage()) == [], (record.name, record.getMessage())
    if "httpcore.http11" in expected_loggers:
        # The response headers were logged, with their credential values masked, not dropped.
        headers = [r.getMessage() for r in caplog.records if "receive_response_headers.complete" in r.getMessage()]
        assert headers
        assert all("(b'Set-Cookie', b'[redacted]')" in h for h in headers), headers[0]
    if client.endswith("redirects"):
        assert "signature=" not in text
        assert "(b'Location', b'[redacted]')" in text


def test_botocore_s3_calls_log_no_credential_or_signature(
    s3_emulator: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3:// destinations go through botocore (and urllib3): their signing and headers are logged at DEBUG."""
    import boto3

    secret_key = "awsSECRET" + "9" * 31
    session_token = "awsTOKEN" + "8" * 40
    sent_signatures: list[str] = []
    with everything_at_debug(caplog, monkeypatch):
        client = boto3.client(
            "s3",
            endpoint_url=s3_emulator.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIATESTREDACTION",
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
        )
        client.meta.events.register(
            "before-send.s3",
            lambda request, **_: sent_signatures.append(
                str(request.headers.get("Authorization", b"")).rsplit("Signature=", 1)[-1].strip("'")
            ),
        )
        bucket = "redaction-canary"
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="k.mp4", Body=b"video")
        presigned = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k.mp4"})
        assert httpx.get(presigned).content == b"video"
    from urllib.parse import parse_qs, quote, urlsplit

    query = parse_qs(urlsplit(presigned).query)
    presigned_signature = (query.get("X-Amz-Signature") or query["Signature"])[0]
    assert len(presigned_signature) >= 20
    names = {r.name for r in caplog.records}
    assert {"botocore.auth", "botocore.endpoint", "urllib3.connectionpool", "httpx"} <= names
    text = captured_text(caplog)
    assert len(sent_signatures) >= 2 and all(len(s) == 64 for s in sent_signatures), sent_signatures
    for name, value in {
        "secret key": secret_key,
        "session token": session_token,
        "presigned URL signature": presigned_signature,
        "presigned URL signature (as sent)": quote(presigned_signature, safe=""),
        **{f"request signature {i}": s for i, s in enumerate(sent_signatures)},
    }.items():
        assert value not in text, f"botocore's logs hold the {name}"


def test_redaction_needs_no_context_manager_and_installs_once() -> None:
    factory = logging.getLogRecordFactory()
    install_http_log_redaction()
    install_http_log_redaction()
    assert logging.getLogRecordFactory() is factory  # not wrapped again
    for name in ("httpx", "httpcore", "httpcore.http11", "urllib3.connectionpool", "hpack.hpack"):
        redactors = [f for f in logging.getLogger(name).filters if isinstance(f, HttpLogRedactor)]
        assert len(redactors) == 1, name


def test_a_logger_created_later_under_an_http_logger_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """A child logger nobody listed (a library's new module): the record factory still redacts it."""
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("httpcore.some_future_module")
    assert not logger.filters
    logger.debug("Location: %s", "https://cdn.example/v.mp4?signature=0123456789abcdef0123")
    logging.getLogger("urllib3.brand.new").debug("GET /x.mp4?signature=0123456789abcdef0123 HTTP/1.1")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["Location: [redacted]", "GET /x.mp4 HTTP/1.1"]


def test_tracebacks_logged_by_http_loggers_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError("Illegal header value b'Bearer sk-empiriolabs-TRACEBACKCANARY\\n'")
    except ValueError:
        logging.getLogger("httpcore.http11").debug("failed", exc_info=True)
    assert "TRACEBACKCANARY" not in caplog.text
    assert "Illegal header value" in caplog.text  # the traceback is kept, its secret masked


def test_records_of_other_loggers_are_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("airflow.task").info("Copying %s", "s3://conn@bucket/key?versionId=1")
    assert caplog.records[0].args == ("s3://conn@bucket/key?versionId=1",)


def test_every_http_logger_has_the_filter() -> None:
    for name in HTTP_LOGGERS:
        assert any(isinstance(f, HttpLogRedactor) for f in logging.getLogger(name).filters), name


def test_the_provider_installs_the_filter_in_a_fresh_process() -> None:
    """In a process that only imports the provider (as the triggerer does, through the trigger)."""
    import subprocess

    code = (
        "import logging, airflow_provider_empiriolabs.redaction as r\n"
        "import airflow_provider_empiriolabs.triggers.empiriolabs\n"
        "rec = logging.getLogger('httpcore.http11').makeRecord("
        "'httpcore.http11', 10, 'f', 1, 'x %s', ('https://h/p?signature=abcdef0123456789',), None)\n"
        "print(rec.getMessage())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "x https://h/p"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET https://u:pw@h:8443/p?sig=1#f", "GET https://h:8443/p"),
        ("[(b'location', b'/o.mp4?signature=ab')]", "[(b'location', b'[redacted]')]"),
        ("{'Set-Cookie': 'a=b; Path=/'}", "{'Set-Cookie': '[redacted]'}"),
        ("Authorization: Bearer abc\r\nHost: h", "Authorization: [redacted]\r\nHost: h"),
        ("Cookie: a=b", "Cookie: [redacted]"),
        ("PUT /b/k?X-Amz-Signature=ab HTTP/1.1", "PUT /b/k HTTP/1.1"),
        ("x-amz-security-token:TOKEN\nhost:h", "x-amz-security-token:[redacted]\nhost:h"),
        ("Signature:\n0a1b2c", "Signature:\n[redacted]"),
        ("no secret here, what?", "no secret here, what?"),
    ],
)
def test_log_text_rules(text: str, expected: str) -> None:
    assert redact_log_text(text) == expected
    assert redact_log_text(expected) == expected


def test_records_rebuilt_without_a_name_still_format() -> None:
    """structlog's ProcessorFormatter rebuilds records with ``logging.makeLogRecord``: no name first."""
    install_http_log_redaction()
    record = logging.makeLogRecord({"name": "airflow.task", "msg": "hello %s", "args": ("world",)})

    assert record.getMessage() == "hello world"
