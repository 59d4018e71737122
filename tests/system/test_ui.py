"""
The provider as a user meets it in Airflow's own UI, on a real deployment, in a real browser.

The text-to-video example DAG is triggered through the REST API and runs to success; then headless
Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright's driver from npm, see
``ui_check.mjs``) opens the "Add Connection" form for type EmpirioLabs, and the finished generate
task's details with its "EmpirioLabs job" link (to the provider's view: ``test_ui_view.py``),
taking a screenshot of each.

The screenshots are checked in every run, and land in the test's temporary folder; with
``UPDATE_SCREENSHOTS=1`` they replace the docs' copies in ``docs/_static/screenshots/`` (so a plain
``make test`` does not rewrite committed files: the run id and dates in them change every run)::

    UPDATE_SCREENSHOTS=1 .venv/bin/pytest tests/system/test_ui.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_empiriolabs.hooks._settings import CONNECTION_SETTINGS
from airflow_provider_empiriolabs.ui.urls import ui_view_path
from tests.system.browser import check_screenshot as check_png
from tests.system.browser import run_in_browser
from tests.system.conftest import REPO, TEXT_TO_VIDEO_DAG, AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DOCS_SCREENSHOTS = REPO / "docs" / "_static" / "screenshots"
LINK_NAME = "EmpirioLabs job"


def browse(airflow: AirflowDeployment, check: str, screenshot: Path, **kwargs: Any) -> dict[str, Any]:
    """Run one check of ``ui_check.mjs`` in headless Chromium; returns what it saw.

    :param airflow: the deployment to browse.
    :param check: ``connection-form`` or ``extra-link``.
    :param screenshot: where the PNG goes.
    :param kwargs: the check's own arguments.
    """
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    args = {"check": check, "url": airflow.url, "token": airflow.token, "screenshot": str(screenshot), **kwargs}
    return run_in_browser("ui_check.mjs", args)


def check_screenshot(path: Path) -> None:
    """A real, non-trivial PNG was written; copied into the docs when ``UPDATE_SCREENSHOTS=1``."""
    check_png(path, DOCS_SCREENSHOTS)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def finished_run(airflow_deployment: AirflowDeployment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One successful run of the text-to-video DAG, triggered through the REST API."""
    airflow = airflow_deployment
    sim = airflow.simulator
    sim.reset()
    sim.configure(time_scale=20.0)  # the 50 s render takes 2.5 s: this test is about the UI
    out = tmp_path_factory.mktemp("ui-videos")
    run_id = airflow.trigger(TEXT_TO_VIDEO_DAG, {"destination": f"file://{out}/"})
    state = airflow.wait_for_run(TEXT_TO_VIDEO_DAG, run_id, timeout=300)
    assert state == "success", airflow.task_log(TEXT_TO_VIDEO_DAG, run_id, "generate_video")
    job_id = airflow.xcom(TEXT_TO_VIDEO_DAG, run_id, "generate_video")["job_id"]
    video = out / job_id / "0.mp4"
    assert hashlib.sha256(video.read_bytes()).hexdigest() == sim.expected_video_sha256()
    assert sim.stats()["posts"] == 1
    return {
        "run_id": run_id,
        "job_id": job_id,
        "job_url": f"{sim.url}/v1/jobs/{job_id}",
        "view_path": ui_view_path(TEXT_TO_VIDEO_DAG, run_id, "generate_video"),
    }


def test_the_rest_api_serves_the_job_link(airflow_deployment: AirflowDeployment, finished_run: dict[str, Any]) -> None:
    airflow = airflow_deployment
    run_id = finished_run["run_id"]

    links = airflow.api.get(f"/dags/{TEXT_TO_VIDEO_DAG}/dagRuns/{run_id}/taskInstances/generate_video/links")

    assert links.status_code == 200, links.text
    # The provider's view of the task instance, never the API (a browser has no key: 401 there).
    assert links.json()["extra_links"] == {LINK_NAME: finished_run["view_path"]}
    # Stored by the task runner when the task ended (the API server never needs the API key).
    assert airflow.xcom(TEXT_TO_VIDEO_DAG, run_id, "generate_video", key="job_url") == finished_run["job_url"]
    assert (
        airflow.xcom(TEXT_TO_VIDEO_DAG, run_id, "generate_video", key="_link_EmpirioLabsJobLink")
        == (finished_run["view_path"])
    )


def test_the_connection_form_offers_the_empiriolabs_fields(
    airflow_deployment: AirflowDeployment, finished_run: dict[str, Any], screenshots: Path
) -> None:
    screenshot = screenshots / "connection-form.png"
    extras_screenshot = screenshots / "connection-form-extras.png"

    seen = browse(
        airflow_deployment,
        "connection-form",
        screenshot,
        connectionType="EmpirioLabs",
        extrasScreenshot=str(extras_screenshot),
    )

    assert "EmpirioLabs" in seen["selectedType"]
    fields = {f["label"]: f for f in seen["standard"]}
    # Relabelled standard fields, with the provider's placeholders; the API key is masked.
    assert set(fields) == {"Connection ID", "Connection Type", "Description", "Base URL", "API key"}, sorted(fields)
    assert fields["Base URL"]["name"] == "host"
    assert fields["Base URL"]["placeholder"] == "https://api.empiriolabs.ai"
    assert fields["API key"]["name"] == "password"
    assert fields["API key"]["type"] == "password"
    assert fields["API key"]["placeholder"] == "sk-empiriolabs-..."
    # The provider's extras, in their own section, with their help texts.
    extras = {f["label"]: f for f in seen["extras"] if f["name"] and f["name"].startswith("element_")}
    # Every setting the provider reads, so a connection made in the UI needs no raw JSON.
    inputs = {i["name"]: i for i in seen["extraInputs"]}
    assert set(inputs) == {f"element_{s.name}" for s in CONNECTION_SETTINGS}, seen["extraInputs"]
    for setting in CONNECTION_SETTINGS:
        assert setting.label in inputs[f"element_{setting.name}"]["group"], inputs
    assert inputs["element_allow_private_output_hosts"]["type"] == "checkbox"
    # (Airflow 3.3's form shows no placeholder on extra fields: the defaults are in the help texts.)
    assert extras["Request timeout (seconds)"]["name"] == "element_timeout"
    assert "timeout" in (extras["Request timeout (seconds)"]["help"] or "")
    assert extras["Requests per minute"]["name"] == "element_requests_per_minute"
    assert "50" in (extras["Requests per minute"]["help"] or "")
    check_screenshot(screenshot)
    check_screenshot(extras_screenshot)


def test_the_task_links_to_its_empiriolabs_job(
    airflow_deployment: AirflowDeployment, finished_run: dict[str, Any], screenshots: Path
) -> None:
    screenshot = screenshots / "task-extra-link.png"

    seen = browse(
        airflow_deployment,
        "extra-link",
        screenshot,
        dagId=TEXT_TO_VIDEO_DAG,
        runId=finished_run["run_id"],
        taskId="generate_video",
        linkName=LINK_NAME,
    )

    assert seen["href"] == finished_run["view_path"]
    assert seen["opened"] == f"{airflow_deployment.url}{finished_run['view_path']}", "the link went elsewhere"
    check_screenshot(screenshot)
