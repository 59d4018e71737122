"""
The EmpirioLabs view's endpoints on a real run: the text-to-video example DAG on ``dag.test()``
against the simulator, its video stored in a local folder, then the plugin's FastAPI app called
through Starlette's TestClient.

Authorization goes through the auth manager Airflow holds (a stand-in here, with three users:
one who reads every DAG, one who reads none, and an unknown token); the system test
(``tests/system/test_ui_view.py``) repeats the essentials with Airflow's simple auth manager.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.ui.view_server import StandInAuthManager

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_ID = "example_empiriolabs_text_to_video"


@pytest.fixture(scope="module")
def finished_run(
    empiriolabs_simulator_session: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One successful run of the example DAG, its video copied into a temporary folder."""
    from tests.example_dags.test_example_dags import _run, _xcom

    sim = empiriolabs_simulator_session
    sim.reset()
    out = tmp_path_factory.mktemp("view-videos")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", sim.connection_json())
        run = _run(DAG_ID, destination=f"file://{out}/")
        summary = _xcom(run, "generate_video")
        yield {"run_id": run.run_id, "summary": summary, "out": out, "sim": sim}


@pytest.fixture
def auth(monkeypatch: pytest.MonkeyPatch) -> StandInAuthManager:
    from airflow.api_fastapi import app as airflow_app

    manager = StandInAuthManager({DAG_ID, "another_dag"})
    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", manager)
    return manager


@pytest.fixture
def client(auth: StandInAuthManager, finished_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from fastapi.testclient import TestClient

    from airflow_provider_empiriolabs.ui import app as view_app

    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", finished_run["sim"].connection_json())
    # The administrator allows the run's storage folder: stored copies there are streamed.
    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{finished_run['out']}/")
    view_app._cache.clear()
    return TestClient(view_app.create_app(), root_path="/empiriolabs")


def _run_path(finished_run: dict[str, Any], prefix: str = "") -> str:
    return f"{prefix}/runs/{DAG_ID}/{quote(finished_run['run_id'], safe='')}"


def _secrets(finished_run: dict[str, Any]) -> list[str]:
    """What must never reach a browser: the API key and the signed output URLs."""
    from airflow_provider_empiriolabs.sealing import unseal

    sim = finished_run["sim"]
    api_key = json.loads(sim.connection_json())["password"]
    urls = unseal(finished_run["summary"]["sealed_output_urls"], api_key)
    return [api_key, finished_run["summary"]["sealed_output_urls"], *urls, *(u.split("?", 1)[1] for u in urls)]


def test_the_run_json_shows_the_video_with_what_it_was_and_cost(client: Any, finished_run: dict[str, Any]) -> None:
    resp = client.get(f"/api{_run_path(finished_run)}", headers={"Authorization": "Bearer admin-token"})

    assert resp.status_code == 200, resp.text
    [video] = resp.json()["videos"]
    assert video["task_id"] == "generate_video"
    assert video["job_id"] == finished_run["summary"]["job_id"]
    assert video["request"]["prompt"].startswith("A chestnut horse galloping")
    assert video["request"]["model"] == "happyhorse-1-1"
    assert video["request"]["seed"] == 42
    assert video["request"]["resolution"] == "720p" and video["request"]["aspect_ratio"] == "16:9"
    assert video["estimated_cost_usd"] == pytest.approx(0.70)
    assert video["cost_usd"] == pytest.approx(finished_run["summary"]["cost_usd"])
    assert video["video_seconds"] == 5
    stored = Path(finished_run["out"]) / video["job_id"] / "0.mp4"
    assert video["stored"] == {"0": [f"file://{stored}"]}
    for secret in _secrets(finished_run):
        assert secret not in resp.text


def test_the_run_page_plays_the_video_from_the_plugins_own_url(client: Any, finished_run: dict[str, Any]) -> None:
    resp = client.get(_run_path(finished_run), headers={"Authorization": "Bearer admin-token"})

    assert resp.status_code == 200
    page = resp.text
    media = f"/empiriolabs/media/{DAG_ID}/{quote(finished_run['run_id'], safe='')}/generate_video/-1/0"
    assert f'<video src="{media}"' in page
    assert "A chestnut horse galloping" in page and "$0.70" in page
    run_in_airflow = f"/dags/{DAG_ID}/runs/{quote(finished_run['run_id'], safe='')}"
    assert f'<a href="{run_in_airflow}" target="_top">' in page
    for secret in _secrets(finished_run):
        assert secret not in page


def test_media_streams_the_stored_copy_with_byte_ranges(client: Any, finished_run: dict[str, Any]) -> None:
    sim = finished_run["sim"]
    path = f"/media/{DAG_ID}/{quote(finished_run['run_id'], safe='')}/generate_video/-1/0"
    auth = {"Authorization": "Bearer admin-token"}

    whole = client.get(path, headers=auth)
    part = client.get(path, headers={**auth, "Range": "bytes=0-99"})

    assert whole.status_code == 200
    assert whole.headers["x-empiriolabs-source"] == "stored"
    assert hashlib.sha256(whole.content).hexdigest() == sim.expected_video_sha256()
    assert part.status_code == 206
    assert part.content == whole.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"


def test_media_falls_back_to_the_signed_url_unsealed_server_side(client: Any, finished_run: dict[str, Any]) -> None:
    sim = finished_run["sim"]
    stored = Path(finished_run["out"]) / finished_run["summary"]["job_id"] / "0.mp4"
    saved = stored.read_bytes()
    stored.unlink()  # the stored copy is gone: the signed URL (still valid) is read instead
    try:
        resp = client.get(
            f"/media/{DAG_ID}/{quote(finished_run['run_id'], safe='')}/generate_video/-1/0",
            headers={"Authorization": "Bearer admin-token"},
        )
    finally:
        stored.write_bytes(saved)

    assert resp.status_code == 200, resp.text
    assert resp.headers["x-empiriolabs-source"] == "signed-url"
    assert hashlib.sha256(resp.content).hexdigest() == sim.expected_video_sha256()
    for secret in _secrets(finished_run):
        assert secret not in str(resp.headers)


@pytest.mark.parametrize("kind", ["page", "json", "media", "spend", "spend-json"])
def test_no_credential_gets_nothing(client: Any, finished_run: dict[str, Any], kind: str) -> None:
    paths = {
        "page": _run_path(finished_run),
        "json": f"/api{_run_path(finished_run)}",
        "media": f"/media/{DAG_ID}/{quote(finished_run['run_id'], safe='')}/generate_video/-1/0",
        "spend": "/spend",
        "spend-json": "/api/spend",
    }

    anonymous = client.get(paths[kind])
    forged = client.get(paths[kind], headers={"Authorization": "Bearer forged-token"})
    client.cookies.set("_token", "forged-token")
    forged_cookie = client.get(paths[kind])
    client.cookies.clear()

    assert anonymous.status_code == 401
    assert forged.status_code == 403 and forged_cookie.status_code == 403
    for resp in (anonymous, forged, forged_cookie):
        assert "chestnut" not in resp.text and finished_run["summary"]["job_id"] not in resp.text


def test_the_ui_cookie_is_a_credential(client: Any, finished_run: dict[str, Any]) -> None:
    client.cookies.set("_token", "admin-token")
    resp = client.get(f"/api{_run_path(finished_run)}")

    assert resp.status_code == 200
    assert resp.json()["videos"][0]["job_id"] == finished_run["summary"]["job_id"]


def test_a_user_who_may_not_read_the_dag_sees_nothing_of_it(
    client: Any, auth: StandInAuthManager, finished_run: dict[str, Any]
) -> None:
    headers = {"Authorization": "Bearer nobody-token"}

    page = client.get(_run_path(finished_run), headers=headers)
    media = client.get(f"/media/{DAG_ID}/{quote(finished_run['run_id'], safe='')}/generate_video/-1/0", headers=headers)
    spend = client.get("/api/spend", headers=headers)

    assert page.status_code == 404 and media.status_code == 404
    assert ("nobody", DAG_ID, "RUN") in auth.dag_checks
    assert spend.status_code == 200
    assert spend.json()["total_usd"] == 0 and spend.json()["per_dag"] == {}
    assert spend.json()["balance"]["balance_usd"] is None  # may not read the connection


def _cost_of_every_run(dag_id: str) -> float:
    """What the runs of ``dag_id`` in the metadata DB cost, from each run's own generate summary."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from tests.example_dags.test_example_dags import _xcom

    total = 0.0
    with create_session() as session:
        for run in session.query(DagRun).filter(DagRun.dag_id == dag_id).all():
            summary = _xcom(run, "generate_video")
            if isinstance(summary, dict) and summary.get("cost_usd") is not None:
                total += float(summary["cost_usd"])
    return total


def test_the_spend_json_counts_the_run_and_reads_the_balance_server_side(
    client: Any, finished_run: dict[str, Any]
) -> None:
    resp = client.get("/api/spend", headers={"Authorization": "Bearer admin-token"})

    assert resp.status_code == 200
    spend = resp.json()
    # The session's metadata DB holds every run of this DAG that other test modules made too.
    assert spend["per_dag"][DAG_ID] == pytest.approx(_cost_of_every_run(DAG_ID))
    assert spend["per_dag"][DAG_ID] >= finished_run["summary"]["cost_usd"] > 0
    assert sum(spend["per_day"].values()) == pytest.approx(spend["total_usd"])
    usage = finished_run["sim"].stats()
    assert spend["balance"]["conn_id"] == "empiriolabs_default"
    assert isinstance(spend["balance"]["balance_usd"], float), (spend["balance"], usage)
    for secret in _secrets(finished_run):
        assert secret not in resp.text


def test_the_spend_page_draws_the_cost_per_day(client: Any, finished_run: dict[str, Any]) -> None:
    resp = client.get("/spend", headers={"Authorization": "Bearer admin-token"})

    assert resp.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Cost per day"' in resp.text
    assert 'class="day-bar"' in resp.text and DAG_ID in resp.text
    assert "<script" not in resp.text and "http://" not in resp.text.replace("http://www.w3.org/2000/svg", "")
