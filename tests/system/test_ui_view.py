"""
The EmpirioLabs view on a real deployment, in a real browser.

The text-to-video example DAG runs through the REST API (api-server, scheduler, dag-processor,
triggerer, the simulator as the API); then headless Chromium (``ui_view_check.mjs``), signed in as
the UI's login does, opens the run's "EmpirioLabs" tab and plays the video, opens the spend page
from the navigation, clicks the task's "EmpirioLabs job" button, and tries the view's URLs without
signing in. Costs are checked against the simulator's own usage API; every page and JSON body the
browser received is checked for the API key, the signed URLs and the sealed token.

Screenshots land in the test's temporary folder; with ``UPDATE_SCREENSHOTS=1`` they replace the
docs' copies in ``docs/_static/ui/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from airflow_provider_empiriolabs.ui.urls import ui_view_path
from tests.system.browser import check_screenshot as check_png
from tests.system.browser import run_in_browser
from tests.system.conftest import REPO, TEXT_TO_VIDEO_DAG, VIEWER_USER, AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DOCS_SHOTS = REPO / "docs" / "_static" / "ui"
TASK_ID = "generate_video"


@pytest.fixture(scope="module")
def view_run(airflow_deployment: AirflowDeployment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One successful text-to-video run, its video stored in a local folder, and the simulator's usage."""
    airflow = airflow_deployment
    sim = airflow.simulator
    sim.reset()
    sim.configure(time_scale=20.0)  # the 50 s render takes 2.5 s: this test is about the UI
    out = airflow.view_storage / "text-to-video"  # under [empiriolabs] view_allowed_storage
    out.mkdir(exist_ok=True)
    run_id = airflow.trigger(TEXT_TO_VIDEO_DAG, {"destination": f"file://{out}/"})
    state = airflow.wait_for_run(TEXT_TO_VIDEO_DAG, run_id, timeout=300)
    assert state == "success", airflow.task_log(TEXT_TO_VIDEO_DAG, run_id, TASK_ID)
    summary = airflow.xcom(TEXT_TO_VIDEO_DAG, run_id, TASK_ID)
    usage = httpx.get(
        f"{sim.url}/v1/account/usage", headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=30
    ).json()
    [event] = [e for e in usage["data"] if e["job_id"] == summary["job_id"]]
    return {"run_id": run_id, "summary": summary, "out": out, "usage": usage, "event": event}


@pytest.fixture(scope="module")
def seen(
    airflow_deployment: AirflowDeployment, view_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What the browser saw (one Chromium session for every check of this module)."""
    shots = tmp_path_factory.mktemp("view-screenshots")
    args = {
        "url": airflow_deployment.url,
        "token": airflow_deployment.token,
        "dagId": TEXT_TO_VIDEO_DAG,
        "runId": view_run["run_id"],
        "taskId": TASK_ID,
        "linkName": "EmpirioLabs job",
        "shots": str(shots),
    }
    seen = run_in_browser("ui_view_check.mjs", args, timeout=300)
    seen["shots"] = shots
    return seen


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _check_screenshot(path: Path) -> None:
    check_png(path, DOCS_SHOTS, min_bytes=5_000)


def test_the_run_tab_plays_the_runs_video_with_what_it_cost(seen: dict[str, Any], view_run: dict[str, Any]) -> None:
    tab = seen["runTab"]
    video = tab["video"]
    fields = tab["fields"]
    job_id = view_run["summary"]["job_id"]

    assert tab["url"].endswith("/plugin/empiriolabs-run"), tab["url"]
    assert video["error"] is None and video["width"] > 0 and video["height"] > 0, video
    assert video["currentTime"] > 0, "the video never played"
    assert video["src"].startswith(f"/empiriolabs/media/{TEXT_TO_VIDEO_DAG}/"), video["src"]
    assert fields["Job id"] == job_id
    assert fields["Prompt"].startswith("A chestnut horse galloping along a misty beach")
    assert fields["Model"] == "happyhorse-1-1" and fields["Seed"] == "42"
    assert "resolution=720p" in fields["Parameters"] and "aspect_ratio=16:9" in fields["Parameters"]
    assert fields["Duration"] == "5 s"
    assert fields["Estimated cost"] == "$0.70"
    # The API's own figure, debited and matched to the job by its output URL (and said so).
    assert fields["Actual cost"] == f"{_usd(view_run['event']['cost']['amount'])} (debited, from the account's usage)"
    assert fields["Stored at"] == f"file://{view_run['out']}/{job_id}/0.mp4"
    _check_screenshot(seen["shots"] / "run-view.png")
    _check_screenshot(seen["shots"] / "video-frame.png")


def test_the_spend_page_charts_the_cost_and_shows_the_balance(
    airflow_deployment: AirflowDeployment, seen: dict[str, Any], view_run: dict[str, Any]
) -> None:
    spend = seen["spend"]
    api = httpx.get(
        f"{airflow_deployment.url}/empiriolabs/api/spend",
        headers={"Authorization": f"Bearer {airflow_deployment.token}"},
        timeout=30,
    ).json()

    assert spend["bars"], "no bar in the chart"
    assert all((bar["height"] > 0) == (bar["usd"] > 0) for bar in spend["bars"]), spend["bars"]
    assert sum(bar["usd"] for bar in spend["bars"]) == pytest.approx(api["total_usd"], abs=0.01)
    assert spend["total"] == _usd(api["total_usd"])
    assert api["per_dag"][TEXT_TO_VIDEO_DAG] >= view_run["event"]["cost"]["amount"]
    assert {"dagId": TEXT_TO_VIDEO_DAG, "usd": _usd(api["per_dag"][TEXT_TO_VIDEO_DAG])} in spend["perDag"]
    assert spend["balance"] == _usd(view_run["usage"]["balance_usd"])  # through the connection, server side
    _check_screenshot(seen["shots"] / "spend.png")


def test_the_job_button_opens_the_view_inside_airflows_ui_playing_the_video(
    airflow_deployment: AirflowDeployment, seen: dict[str, Any], view_run: dict[str, Any]
) -> None:
    button = seen["button"]
    path = ui_view_path(TEXT_TO_VIDEO_DAG, view_run["run_id"], TASK_ID)

    assert button["href"] == path
    assert button["opened"] == f"{airflow_deployment.url}{path}"  # Airflow's own page, not a bare one
    assert button["navigation"] > 0, "no Airflow navigation around the view"
    assert "/empiriolabs/runs/" in button["iframe"] and f"task_id={TASK_ID}" in button["iframe"]
    assert airflow_deployment.simulator.url not in button["opened"]
    assert button["video"]["width"] > 0 and button["video"]["currentTime"] > 0
    assert TASK_ID in button["heading"]
    _check_screenshot(seen["shots"] / "job-button-view.png")


def test_a_browser_that_never_signed_in_gets_nothing(seen: dict[str, Any], view_run: dict[str, Any]) -> None:
    for answer in seen["anonymous"]:
        assert answer["status"] == 401, answer
        assert "chestnut" not in answer["body"] and view_run["summary"]["job_id"] not in answer["body"]


def test_no_credential_reaches_the_browser(
    airflow_deployment: AirflowDeployment, seen: dict[str, Any], view_run: dict[str, Any]
) -> None:
    from airflow_provider_empiriolabs.sealing import unseal

    sim = airflow_deployment.simulator
    sealed = view_run["summary"]["sealed_output_urls"]
    signed = unseal(sealed, sim.api_key)
    secrets = [sim.api_key, sealed, *signed, *(url.split("?", 1)[1] for url in signed if "?" in url)]
    bodies = seen["received"]

    assert any("/empiriolabs/runs/" in b["url"] for b in bodies) and any("/spend" in b["url"] for b in bodies)
    for body in bodies:
        for secret in secrets:
            assert secret not in body["body"], f"a credential reached the browser in {body['url']}"


def test_the_video_bytes_are_the_stored_copy(airflow_deployment: AirflowDeployment, view_run: dict[str, Any]) -> None:
    run = quote(view_run["run_id"], safe="")
    resp = httpx.get(
        f"{airflow_deployment.url}/empiriolabs/media/{TEXT_TO_VIDEO_DAG}/{run}/{TASK_ID}/-1/0",
        headers={"Authorization": f"Bearer {airflow_deployment.token}"},
        timeout=30,
    )

    assert resp.status_code == 200
    assert resp.headers["x-empiriolabs-source"] == "stored"
    assert hashlib.sha256(resp.content).hexdigest() == airflow_deployment.simulator.expected_video_sha256()


def _media_url(airflow: AirflowDeployment, view_run: dict[str, Any]) -> str:
    run = quote(view_run["run_id"], safe="")
    return f"{airflow.url}/empiriolabs/media/{TEXT_TO_VIDEO_DAG}/{run}/{TASK_ID}/-1/0"


def test_the_video_answer_is_a_video_that_nothing_can_run_in(
    airflow_deployment: AirflowDeployment, view_run: dict[str, Any]
) -> None:
    resp = httpx.get(
        _media_url(airflow_deployment, view_run),
        headers={"Authorization": f"Bearer {airflow_deployment.token}"},
        timeout=30,
    )

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "video/mp4"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in resp.headers["content-security-policy"]
    assert resp.headers["content-disposition"] == f'inline; filename="{view_run["summary"]["job_id"]}-0.mp4"'


def test_every_page_of_the_view_carries_the_security_headers(
    airflow_deployment: AirflowDeployment, view_run: dict[str, Any]
) -> None:
    run = quote(view_run["run_id"], safe="")
    auth = {"Authorization": f"Bearer {airflow_deployment.token}"}
    for path in (f"/runs/{TEXT_TO_VIDEO_DAG}/{run}", f"/api/runs/{TEXT_TO_VIDEO_DAG}/{run}", "/spend", "/api/spend"):
        resp = httpx.get(f"{airflow_deployment.url}/empiriolabs{path}", headers=auth, timeout=30)
        assert resp.status_code == 200, (path, resp.text)
        assert resp.headers["x-content-type-options"] == "nosniff", path
        csp = resp.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, (path, csp)


def test_a_viewer_sees_the_runs_video_but_not_the_accounts_balance(
    airflow_deployment: AirflowDeployment, view_run: dict[str, Any]
) -> None:
    """The simple auth manager's ``viewer`` role reads DAG runs, not connections (only ``op`` does)."""
    airflow = airflow_deployment
    token = airflow.token_for(VIEWER_USER, airflow.viewer_password)
    auth = {"Authorization": f"Bearer {token}"}
    run = quote(view_run["run_id"], safe="")

    videos = httpx.get(f"{airflow.url}/empiriolabs/api/runs/{TEXT_TO_VIDEO_DAG}/{run}", headers=auth, timeout=30)
    spend = httpx.get(f"{airflow.url}/empiriolabs/api/spend", headers=auth, timeout=30)
    media = httpx.get(_media_url(airflow, view_run), headers=auth, timeout=30)

    assert [v["job_id"] for v in videos.json()["videos"]] == [view_run["summary"]["job_id"]]
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4"
    assert spend.json()["balance"]["balance_usd"] is None
    assert spend.json()["balance"]["error"] == "you may not read this connection"


def test_a_forged_token_gets_nothing(airflow_deployment: AirflowDeployment, view_run: dict[str, Any]) -> None:
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiJ9.forged"}
    for url in (_media_url(airflow_deployment, view_run), f"{airflow_deployment.url}/empiriolabs/api/spend"):
        resp = httpx.get(url, headers=forged, timeout=30)
        assert resp.status_code in (401, 403), (url, resp.status_code)
        assert view_run["summary"]["job_id"] not in resp.text
        assert resp.headers["x-content-type-options"] == "nosniff"
