"""
The Test button proves the key: the catalog answers anyone, so the Test asks for something only a key gets.

Third-party integrations list ``GET /v1/models`` with no key and get 200 (empiriolabs-catalogue.md);
the simulator serves it the same way, so a Test built on the catalog passed with any key. Real HTTP
on 127.0.0.1, against the simulator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
from airflow_provider_empiriolabs.testing.server import connection_json

WRONG = "sk-empiriolabs-NOT-THIS-ACCOUNTS-KEY-7"
CONN_ENV = "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"


@contextmanager
def _usage_answering(body: object) -> Iterator[str]:
    """A server on 127.0.0.1 whose ``GET /v1/account/usage`` answers 200 with ``body``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            raw = json.dumps(body).encode() if self.path.startswith("/v1/account/usage?") else b"{}"
            self.send_response(200 if self.path.startswith("/v1/account/usage?") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_catalog_answers_without_a_key_and_with_a_wrong_one(empiriolabs_simulator: EmpirioLabsSimulator) -> None:
    """The premise, as the simulator serves it: a 200 from the catalog says nothing about a key."""
    url = f"{empiriolabs_simulator.url}/v1/models"
    assert httpx.get(url).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {WRONG}"}).status_code == 200
    usage = f"{empiriolabs_simulator.url}/v1/account/usage?limit=1"
    assert httpx.get(usage, headers={"Authorization": f"Bearer {WRONG}"}).status_code == 401


def test_a_wrong_key_fails_the_test(
    empiriolabs_simulator: EmpirioLabsSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONN_ENV, connection_json(empiriolabs_simulator.url, WRONG))

    ok, message = EmpirioLabsHook().test_connection()

    assert ok is False, message
    assert "401" in message and "invalid_api_key" in message
    assert WRONG not in message and WRONG[len("sk-empiriolabs-") :] not in message
    assert empiriolabs_simulator.stats()["unauthorized"] == 1  # one try


def test_the_right_key_passes_and_says_it_was_accepted(
    empiriolabs_simulator: EmpirioLabsSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONN_ENV, empiriolabs_simulator.connection_json())
    empiriolabs_simulator.configure(credit_balance_usd=1234.5)

    ok, message = EmpirioLabsHook().test_connection()

    assert ok is True, message
    assert message == f"Connected to {empiriolabs_simulator.url}: the key was accepted (balance $1,234.50)"
    assert empiriolabs_simulator.api_key not in message
    stats = empiriolabs_simulator.stats()
    assert stats["requests_total"] == 1 and stats["unauthorized"] == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"balance": "n/a"}, {"balance": {"amount": None}}, {"balance_usd": float("nan")}, {"data": "x"}],
    ids=["empty", "text-balance", "null-amount", "nan", "odd-data"],
)
def test_an_accepted_key_with_an_unreadable_balance_still_passes(body: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The usage answer's top-level shape is not published: a 200 proves the key, whatever the balance."""
    with _usage_answering(body) as url:
        monkeypatch.setenv(CONN_ENV, connection_json(url, "sk-empiriolabs-ANY-KEY-0001"))
        ok, message = EmpirioLabsHook().test_connection()

    assert ok is True, message
    assert message == f"Connected to {url}: the key was accepted"
