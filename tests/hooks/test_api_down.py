"""
The API down: the Test button answers at once, tried once, and every message names the Base URL.

Three real ways an API is down, on 127.0.0.1: a closed port (refused at once), a blackhole (a
listening socket that never accepts: the kernel completes the handshake, nobody ever reads or
answers), and a server that accepts and never answers (which also counts the attempts). The
Test button used to retry the catalog call six times with back-off (35.6 s) and say "GET
/v1/models" without saying where.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from airflow_provider_empiriolabs.exceptions import EmpirioLabsError
from airflow_provider_empiriolabs.hooks._settings import TEST_CONNECTION_TIMEOUT_SECONDS
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

KEY = "sk-empiriolabs-DOWN-TEST-KEY-0001"
CONN_ID = "empiriolabs_down"


def _use(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    conn = {"conn_type": "empiriolabs", "host": base_url, "password": KEY}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A socket that listens and never accepts: connects succeed, no byte ever comes back."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class _Silent:
    """Accepts connections, reads what comes, never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[_Silent]:
    server = _Silent()
    yield server
    server.close()


def _check_message(message: str, base_url: str) -> None:
    assert base_url in message, message
    assert KEY not in message


def test_the_test_button_names_a_closed_ports_url(monkeypatch: pytest.MonkeyPatch, closed_port: str) -> None:
    _use(monkeypatch, closed_port)

    ok, message = EmpirioLabsHook(CONN_ID).test_connection()

    assert ok is False
    _check_message(message, closed_port)
    assert "could not be reached" in message


def test_the_test_button_names_a_blackholes_url(monkeypatch: pytest.MonkeyPatch, blackhole: str) -> None:
    _use(monkeypatch, blackhole)

    ok, message = EmpirioLabsHook(CONN_ID).test_connection()

    assert ok is False
    _check_message(message, blackhole)


def test_the_test_button_tries_once_with_a_short_deadline(monkeypatch: pytest.MonkeyPatch, silent: _Silent) -> None:
    _use(monkeypatch, silent.url)
    hook = EmpirioLabsHook(CONN_ID)

    ok, message = hook.test_connection()

    assert ok is False
    _check_message(message, silent.url)
    assert len(silent.accepted) == 1, "the Test button retried"
    # The deadline it answered within is the Test button's, not the connection's 30 s x 4.
    assert f"({TEST_CONNECTION_TIMEOUT_SECONDS:g} s)" in message, message


def test_a_tasks_call_names_the_url_it_tried(monkeypatch: pytest.MonkeyPatch, closed_port: str) -> None:
    _use(monkeypatch, closed_port)

    with pytest.raises(EmpirioLabsError) as info:
        EmpirioLabsHook(CONN_ID, max_attempts=1).get_job("job_abc123")

    _check_message(str(info.value), closed_port)
    assert CONN_ID in str(info.value)  # and which connection


def test_a_tasks_call_to_a_blackhole_names_the_url(monkeypatch: pytest.MonkeyPatch, blackhole: str) -> None:
    _use(monkeypatch, blackhole)

    with pytest.raises(EmpirioLabsError) as info:
        EmpirioLabsHook(CONN_ID, timeout=0.5, max_attempts=1).get_job("job_abc123")

    _check_message(str(info.value), blackhole)
