"""
The Test-button work-around middleware, on a real ASGI app over httpx (one unit: no Airflow here;
``tests/system/test_connection_test_button.py`` shows what Airflow answers with and without the port).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airflow_provider_empiriolabs.connection_test_fix import TEST_PATH, ConnectionTestPortFix, without_bogus_port


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"body": body.decode(), "content_length": request.headers.get("content-length")})


APP = ConnectionTestPortFix(
    Starlette(routes=[Route(TEST_PATH, _echo, methods=["POST"]), Route("/other", _echo, methods=["POST"])])
)


async def _post(path: str, content: bytes) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://api") as client:
        resp = await client.post(path, content=content, headers={"content-type": "application/json"})
    assert resp.status_code == 200
    return dict(resp.json())


UI_BODY = {"conn_type": "empiriolabs", "connection_id": "empiriolabs_default", "host": "", "password": "***", "port": 0}


async def test_the_list_buttons_port_0_is_dropped_for_an_empiriolabs_connection() -> None:
    seen = await _post(TEST_PATH, json.dumps(UI_BODY).encode())

    sent = json.loads(seen["body"])
    assert "port" not in sent
    assert sent == {k: v for k, v in UI_BODY.items() if k != "port"}
    assert seen["content_length"] == str(len(seen["body"].encode()))


@pytest.mark.parametrize(
    "body",
    [
        {**UI_BODY, "conn_type": "postgres"},  # another provider's connection: not ours to change
        {**UI_BODY, "port": 8443},  # a real port
        {**UI_BODY, "port": False},
        [UI_BODY],
    ],
    ids=["other-type", "real-port", "bool", "not-an-object"],
)
async def test_anything_else_passes_untouched(body: Any) -> None:
    raw = json.dumps(body).encode()
    assert (await _post(TEST_PATH, raw))["body"] == raw.decode()


async def test_other_paths_and_non_json_pass_untouched() -> None:
    raw = json.dumps(UI_BODY).encode()
    assert (await _post("/other", raw))["body"] == raw.decode()
    assert without_bogus_port(b"not json") == b"not json"
