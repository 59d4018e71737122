"""
A real ``redis-server`` for the shared budget's tests (Debian's, which ``make test`` installs).

Started on a free port of 127.0.0.1 in a temporary folder, without persistence; stoppable and
restartable on the same port. The fixtures are in ``tests/hooks/conftest.py``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from airflow_provider_empiriolabs.hooks.shared_budget import RedisSettings

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A real ``redis-server`` on 127.0.0.1, no persistence, in its own folder; stoppable and restartable."""

    def __init__(self) -> None:
        if not Path(REDIS_SERVER).exists():
            pytest.fail("redis-server is missing: `make test` installs it (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="empiriolabs-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> RedisSettings:
        return RedisSettings(host="127.0.0.1", port=self.port)

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = self.client()
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        """A client that fails at once when the server is gone (redis-py's own retries take seconds)."""
        return redis.Redis(port=self.port, retry=Retry(NoBackoff(), 0))
