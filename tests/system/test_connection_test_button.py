"""
The connection's Test button, through Airflow's REST API on the real deployment.

Cause of "Test Connection Failed / Bad Request" in the 3.3 UI: the Test button of the connections
list sends the listed connection back with ``port: Number(connection.port)``, which is ``0`` for a
connection stored without a port (ours: the API's base URL carries any port, so the form hides
"Port"), and the stored key as the masked ``***``. ``POST /api/v2/connections/test`` compares the
port with the stored one, treating only ``""`` and ``null`` as unset: ``0 != null`` reads as "testing
another destination", which must bring its own credentials, so it answers 400 before any hook is
asked. Showing the port field would not help (the button sends ``Number(null)`` whatever the form
shows). It is Airflow's bug, shown here on a connection of another type; the provider's plugin
works around it for EmpirioLabs connections with a root middleware
(:mod:`airflow_provider_empiriolabs.connection_test_fix`), and the UI's very request then passes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.system.conftest import AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CONN_ID = "empiriolabs_test_button"


@pytest.fixture(scope="module")
def stored(airflow_deployment: AirflowDeployment) -> dict[str, Any]:
    """An EmpirioLabs connection saved as the form saves it (no port), read back as the list shows it."""
    sim = json.loads(airflow_deployment.simulator.connection_json())
    api = airflow_deployment.api
    api.delete(f"/connections/{CONN_ID}")
    created = api.post(
        "/connections",
        json={
            "connection_id": CONN_ID,
            "conn_type": "empiriolabs",
            "host": sim["host"],
            "password": sim["password"],
            "extra": json.dumps(sim.get("extra") or {}),
        },
    )
    assert created.status_code == 201, created.text
    listed = api.get(f"/connections/{CONN_ID}")
    assert listed.status_code == 200, listed.text
    return dict(listed.json())


def _as_the_list_button_sends(conn: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The body of the connections list's Test button (Airflow 3.3 UI, ``TestConnectionButton``)."""
    body = {
        "conn_type": conn["conn_type"],
        "connection_id": conn["connection_id"],
        "description": conn.get("description") or "",
        "extra": conn.get("extra") or "{}",
        "host": conn.get("host") or "",
        "login": conn.get("login") or "",
        "password": conn.get("password") or "",
        "port": int(conn.get("port") or 0),  # Number(null) === 0 in the browser
        "schema": conn.get("schema") or "",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_airflow_refuses_the_list_buttons_port_0_for_a_connection_stored_without_a_port(
    airflow_deployment: AirflowDeployment,
) -> None:
    api = airflow_deployment.api
    api.delete("/connections/http_without_port")
    created = api.post(
        "/connections",
        json={"connection_id": "http_without_port", "conn_type": "http", "host": "example.invalid", "password": "x"},
    )
    assert created.status_code == 201, created.text
    listed = api.get("/connections/http_without_port").json()
    assert listed["port"] is None and listed["password"] == "***"

    resp = api.post("/connections/test", json=_as_the_list_button_sends(listed))

    assert resp.status_code == 400
    assert "host or port to test differs from the stored connection" in resp.json()["detail"]


def test_the_list_buttons_request_passes_for_an_empiriolabs_connection(
    airflow_deployment: AirflowDeployment, stored: dict[str, Any]
) -> None:
    assert stored["port"] is None and stored["password"] == "***"
    body = _as_the_list_button_sends(stored)
    assert body["port"] == 0  # what the browser sends

    resp = airflow_deployment.api.post("/connections/test", json=body)

    assert resp.status_code == 200, resp.text  # the provider's middleware dropped the port
    assert resp.json()["status"] is True, resp.json()


def test_the_same_test_without_the_bogus_port_passes_through_the_hook(
    airflow_deployment: AirflowDeployment, stored: dict[str, Any]
) -> None:
    resp = airflow_deployment.api.post("/connections/test", json=_as_the_list_button_sends(stored, port=...))

    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["status"] is True, result
    assert result["message"].startswith(f"Connected to {stored['host']}: ")
    assert "the key was accepted" in result["message"]


def test_a_wrong_key_typed_into_the_test_says_so(airflow_deployment: AirflowDeployment, stored: dict[str, Any]) -> None:
    body = _as_the_list_button_sends(stored, port=..., password="sk-empiriolabs-not-the-key")

    resp = airflow_deployment.api.post("/connections/test", json=body)

    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["status"] is False
    assert "HTTP 401" in result["message"]
    assert "sk-empiriolabs-not-the-key" not in result["message"]


def test_the_api_down_is_said_at_once_with_the_url_tried(airflow_deployment: AirflowDeployment) -> None:
    """A Base URL where nothing listens: the Test answers with that URL, tried once (not after 35 s of retries)."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"
    body = {
        "connection_id": "empiriolabs_down",
        "conn_type": "empiriolabs",
        "host": down,
        "password": "sk-empiriolabs-down-key-0001",
    }

    started = time.monotonic()
    resp = airflow_deployment.api.post("/connections/test", json=body)
    took = time.monotonic() - started

    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["status"] is False
    assert down in result["message"], result["message"]
    assert "sk-empiriolabs-down-key-0001" not in result["message"]
    print(f"Test button answered an API that is down in {took:.2f} s")  # measured, not asserted
