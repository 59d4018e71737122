"""
A key with whitespace, a control character or a non-ASCII character is refused when the
connection is read: named problem, named connection, and never the key, not even a part of it.

Why refuse rather than send: httpx rejects such a header (``LocalProtocolError`` for a newline,
``UnicodeEncodeError`` for non-ASCII) and both errors quote the whole header value; Airflow's
secret masker does not recognise the escaped form (``'sk-...\\n'``) either; and for the billed
POST a transport error would read as "sent, outcome unknown" when nothing was sent.
"""

from __future__ import annotations

import secrets
import traceback
from typing import Any

import httpx
import pytest
from airflow.sdk import Connection

from airflow_provider_empiriolabs.exceptions import EmpirioLabsAuthenticationError
from airflow_provider_empiriolabs.hooks.empiriolabs import ApiSettings, EmpirioLabsHook
from airflow_provider_empiriolabs.redaction import redact_log_text
from airflow_provider_empiriolabs.testing.server import connection_json
from tests.redaction.support import SecretServer

PREFIX = "sk-empiriolabs-"


def _key_core() -> str:
    return secrets.token_hex(16)


#: (what is wrong, where it goes, words the refusal must use)
BAD_KEYS = {
    "trailing-newline": (lambda k: f"{k}\n", "trailing newline"),
    "trailing-crlf": (lambda k: f"{k}\r\n", "trailing carriage return"),
    "trailing-cr": (lambda k: f"{k}\r", "trailing carriage return"),
    "leading-tab": (lambda k: f"\t{k}", "leading tab"),
    "inner-tab": (lambda k: f"{k[:20]}\t{k[20:]}", "a tab"),
    "inner-space": (lambda k: f"{k[:20]} {k[20:]}", "a space"),
    "trailing-space": (lambda k: f"{k} ", "trailing space"),
    "nul": (lambda k: f"{k}\x00", "trailing NUL character"),
    "inner-nul": (lambda k: f"{k[:20]}\x00{k[20:]}", "a NUL character"),
    "bell": (lambda k: f"{k[:20]}\x07{k[20:]}", "a control character"),
    "del": (lambda k: f"{k[:20]}\x7f{k[20:]}", "a DEL character"),
    "non-ascii": (lambda k: f"{k[:20]}é{k[20:]}", "a non-ASCII character"),
    "zero-width-space": (lambda k: f"{k[:20]}\u200b{k[20:]}", "a non-ASCII character"),
    "no-break-space": (lambda k: f"{k}\u00a0", "trailing whitespace character"),
    "cyrillic-look-alike": (lambda k: f"{k[:20]}\u0430{k[20:]}", "a non-ASCII character"),
}


def _no_echo(text: str, key: str) -> None:
    """Neither the key nor any 6 characters of its secret part appear in ``text``."""
    core = key.strip()[len(PREFIX) :].strip()
    assert PREFIX not in text
    windows = {core[i : i + 6] for i in range(len(core) - 5)}
    shown = sorted(w for w in windows if w in text)
    assert shown == [], f"part of the key is shown: {shown} in {text!r}"


def _exception_text(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


@pytest.mark.parametrize("case", list(BAD_KEYS))
def test_a_bad_key_is_refused_at_connection_read_without_echo(case: str) -> None:
    make, words = BAD_KEYS[case]
    key = make(PREFIX + _key_core())
    conn = Connection(conn_id="el_bad_key", conn_type="empiriolabs", password=key)
    with pytest.raises(EmpirioLabsAuthenticationError) as caught:
        ApiSettings.from_connection(conn)
    message = str(caught.value)
    assert "'el_bad_key'" in message
    assert words in message
    assert "remove it" in message
    _no_echo(_exception_text(caught.value), key)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


@pytest.mark.parametrize("case", ["trailing-newline", "inner-nul", "non-ascii", "inner-space"])
def test_connection_test_names_the_problem_without_echo(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, words = BAD_KEYS[case]
    key = make(PREFIX + _key_core())
    with SecretServer() as srv:
        monkeypatch.setenv("AIRFLOW_CONN_EL_BAD_KEY", connection_json(srv.url, key))
        ok, text = EmpirioLabsHook("el_bad_key").test_connection()
    assert not ok
    assert words in text and "'el_bad_key'" in text
    _no_echo(text, key)


@pytest.mark.parametrize("case", ["trailing-newline", "non-ascii"])
def test_a_submission_with_a_bad_key_is_never_called_sent(
    case: str, empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal comes before any request: nothing reached the API, and no error says otherwise."""
    from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
    from tests.support import make_context

    sim = empiriolabs_simulator
    make, words = BAD_KEYS[case]
    key = make(PREFIX + _key_core())
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", connection_json(sim.url, key))
    op = EmpirioLabsGenerateVideoOperator(task_id="generate", prompt="A horse", duration=3, deferrable=False)
    with pytest.raises(Exception) as caught:  # the operator fails the task at once (no retry)
        op.execute(make_context())
    text = _exception_text(caught.value)
    assert words in text
    assert "sent" not in str(caught.value)  # neither "was sent" nor "not sent again"
    _no_echo(text, key)
    stats = sim.stats()
    assert stats["posts"] == 0 and stats["jobs_created"] == 0


def test_why_refuse_httpx_quotes_the_header_value_in_its_errors() -> None:
    """The hazard the refusal removes (if httpx ever stops doing this, the refusal still stands)."""
    core = _key_core()
    with SecretServer() as srv:
        client = httpx.Client(headers={"Authorization": f"Bearer {PREFIX}{core}\n"})
        with pytest.raises(httpx.LocalProtocolError) as newline:
            client.get(f"{srv.url}/v1/models")
        client.close()
    with pytest.raises(UnicodeEncodeError) as non_ascii:
        httpx.Client(headers={"Authorization": f"Bearer {PREFIX}{core}é"})
    assert core in repr(newline.value) or core in repr(non_ascii.value)


def test_a_good_key_is_read_and_masked_in_http_logs() -> None:
    key = PREFIX + _key_core()
    settings = ApiSettings.from_connection(Connection(conn_id="el_ok", conn_type="empiriolabs", password=key))
    assert settings.api_key == key
    assert key not in repr(settings)
    # Registered for the HTTP log filter, whatever shape it is logged in.
    for shown in (key, repr(key), f"b'Bearer {key}'"):
        assert key[len(PREFIX) :] not in redact_log_text(f"header {shown}")


def test_connection_test_error_text_holds_no_url_query_or_header_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the error, the text shown in the UI goes through the log redaction."""
    hook = EmpirioLabsHook("el_x")

    def failing(**_: Any) -> Any:
        raise RuntimeError(
            "Illegal header value b'Bearer sk-empiriolabs-SHOWN123456' for https://h/p?signature=abcdef0123456789"
        )

    monkeypatch.setattr(hook, "get_account_usage", failing)
    monkeypatch.setattr(hook, "close", lambda: None)
    ok, text = hook.test_connection()
    assert not ok
    assert "SHOWN123456" not in text and "abcdef0123456789" not in text
    assert "https://h/p" in text
