"""
The EmpirioLabs view served for tests: over real HTTP on 127.0.0.1 (uvicorn), mounted at
``/empiriolabs`` as Airflow mounts it, with a stand-in auth manager answering from a table of users.

The system test (``tests/system/test_ui_view.py``) repeats the essentials on a real API server with
Airflow's SimpleAuthManager.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

__all__ = ["StandInAuthManager", "serve_view"]


class _User:
    def __init__(self, name: str, dags: set[str] | None) -> None:
        self.name = name
        self.dags = dags  # None: every DAG

    def get_id(self) -> str:
        return self.name

    def get_name(self) -> str:
        return self.name


class StandInAuthManager:
    """
    The auth manager calls the view makes, answered from a table of users.

    ``admin-token`` reads every DAG and connection; ``nobody-token`` reads nothing; any other
    token is refused as invalid.

    :param listed: the DAG ids ``get_authorized_dag_ids`` lists for the admin.
    """

    def __init__(self, listed: set[str]) -> None:
        self.listed = listed
        self.users = {"admin-token": _User("admin", None), "nobody-token": _User("nobody", set())}
        self.dag_checks: list[tuple[str, str | None, str | None]] = []

    async def get_user_from_token(self, token: str) -> Any:
        from jwt import InvalidTokenError

        if token not in self.users:
            raise InvalidTokenError("unknown token")
        return self.users[token]

    def is_authorized_dag(self, *, method: str, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        dag_id = getattr(details, "id", None)
        self.dag_checks.append((user.name, dag_id, getattr(access_entity, "value", None)))
        return method == "GET" and (user.dags is None or dag_id in user.dags)

    def get_authorized_dag_ids(self, *, user: Any, method: str = "GET", session: Any = None) -> set[str]:
        return set(self.listed) if user.dags is None else set(user.dags)

    def is_authorized_connection(self, *, method: str, user: Any, details: Any = None) -> bool:
        return user.dags is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_view(monkeypatch: pytest.MonkeyPatch, auth: StandInAuthManager) -> Iterator[str]:
    """
    Serve a fresh view app under ``/empiriolabs`` on 127.0.0.1 until the block ends.

    :param monkeypatch: installs ``auth`` as Airflow's auth manager for the block.
    :param auth: the auth manager.
    :returns: the view's base URL (``http://127.0.0.1:<port>/empiriolabs``).
    """
    import uvicorn
    from airflow.api_fastapi import app as airflow_app
    from fastapi import FastAPI

    from airflow_provider_empiriolabs.ui import app as view_app

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", auth)
    view_app._cache.clear()
    if hasattr(view_app, "MediaPool"):  # (absent before issue 16: the tests then show what failed)
        monkeypatch.setattr(view_app, "media_pool", view_app.MediaPool())  # the size as configured now
    parent = FastAPI()
    parent.mount("/empiriolabs", view_app.create_app())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(parent, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the view's server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/empiriolabs"
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=30)
