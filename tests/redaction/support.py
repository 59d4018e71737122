"""A small HTTP server on 127.0.0.1 that hands out what must never be logged, and a log capture."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_empiriolabs.redaction import _KNOWN_CHILDREN, HTTP_LOGGERS


@dataclass
class Secrets:
    """Canary values, fresh for each server: a key, a URL signature, a cookie, a URL password."""

    key: str = field(default_factory=lambda: f"sk-empiriolabs-CANARY{secrets.token_hex(12)}")
    signature: str = field(default_factory=lambda: secrets.token_hex(32))
    cookie: str = field(default_factory=lambda: f"cookie{secrets.token_hex(12)}")
    password: str = field(default_factory=lambda: f"pw{secrets.token_hex(12)}")

    def values(self) -> dict[str, str]:
        """Every secret value, and the part of the key after its public prefix."""
        return {
            "API key": self.key,
            "API key (after its prefix)": self.key.removeprefix("sk-empiriolabs-"),
            "URL signature": self.signature,
            "cookie": self.cookie,
            "URL password": self.password,
        }

    def leaks(self, text: str) -> list[str]:
        """Which secrets ``text`` holds (none, or the test fails naming them)."""
        return [name for name, value in self.values().items() if value in text]


class SecretServer:
    """
    ``/v1/models`` and ``/v1/account/usage`` (need the key), ``/redirect`` (302 to a signed absolute URL),
    ``/redirect-relative`` (302 to a signed path) and ``/v1/outputs/...``: every answer sets a cookie.
    """

    def __init__(self) -> None:
        self.secrets = Secrets()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # the request line holds the signature: this server's own log is not under test

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Set-Cookie", f"session={outer.secrets.cookie}; Path=/; HttpOnly")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                s = outer.secrets
                signed = f"/v1/outputs/job_1/0.mp4?expires=1999999999&signature={s.signature}"
                if self.path.startswith(("/v1/models", "/v1/account/usage")):
                    if self.headers.get("Authorization") != f"Bearer {s.key}":
                        self._answer(401, b'{"error": {"message": "Invalid API key"}}', {})
                        return
                    usage = self.path.startswith("/v1/account/usage")
                    body = json.dumps(
                        {"balance_usd": 1.0, "data": []} if usage else {"data": [{"id": "happyhorse-1-1"}]}
                    ).encode()
                    self._answer(200, body, {"Content-Type": "application/json"})
                elif self.path.startswith("/redirect-relative"):
                    self._answer(302, b"", {"Location": signed})
                elif self.path.startswith("/redirect"):
                    self._answer(302, b"", {"Location": f"{outer.url}{signed}"})
                else:
                    self._answer(200, b"video bytes", {"Content-Type": "video/mp4"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def userinfo_url(self, path: str) -> str:
        """``path`` on this server, with a password in the URL and a token in the query."""
        host = self.url.removeprefix("http://")
        return f"http://user:{self.secrets.password}@{host}{path}?token={self.secrets.signature}"

    def __enter__(self) -> SecretServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def everything_at_debug(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The root logger and every HTTP logger at DEBUG, all propagating to caplog's root handler."""
    caplog.set_level(logging.DEBUG)
    for name in (*HTTP_LOGGERS, *_KNOWN_CHILDREN):
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "propagate", True)
        monkeypatch.setattr(logger, "disabled", False)
    yield


def captured_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as each renderer would show it: message, formatted line, traceback."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(f"{record.name} {record.getMessage()}")
        parts.append(logging.Formatter("%(name)s %(message)s").format(record))
    return "\n".join(parts)
