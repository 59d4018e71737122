"""
Human approval in Airflow's own UI, on a real deployment, in a real browser.

The approval example DAG is triggered through the REST API on the shared deployment (API server,
scheduler, DAG processor, triggerer, the simulator as a child process). When round 1's review waits
(``awaiting_input``), headless Chromium (``approval_check.mjs``) opens the task's *Required
Actions* tab, reads the form, types a note and clicks *Reject*; when round 2's review waits, it
clicks *Approve*. The outcome is then read back through the REST API and the simulator's counters:
two paid jobs, the note in round 2's prompt, a new seed, the approved video published byte for
byte, round 3 skipped.

The screenshots land in the test's temporary folder; with ``UPDATE_SCREENSHOTS=1`` they replace
the docs' copies in ``docs/_static/approval/``::

    UPDATE_SCREENSHOTS=1 .venv/bin/pytest tests/system/test_approval_ui.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.system.browser import check_screenshot as check_png
from tests.system.browser import run_in_browser
from tests.system.conftest import REPO, AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DAG_ID = "example_empiriolabs_approval"
DOCS_SCREENSHOTS = REPO / "docs" / "_static" / "approval"
PROMPT = "A chestnut horse galloping along a misty beach at sunrise, slow motion, cinematic"
NOTE = "make the horse black, and slower"
SEED = 42


def answer_in_browser(airflow: AirflowDeployment, run_id: str, task_id: str, **kwargs: Any) -> dict[str, Any]:
    """Answer one review on its Required Actions tab in headless Chromium; returns what it saw.

    :param airflow: the deployment.
    :param run_id: the DAG run.
    :param task_id: the waiting review task.
    :param kwargs: ``option``, ``note`` and the screenshot paths (see ``approval_check.mjs``).
    """
    args = {"url": airflow.url, "token": airflow.token, "dagId": DAG_ID, "runId": run_id, "taskId": task_id, **kwargs}
    return run_in_browser("approval_check.mjs", args)


def check_screenshot(path: Path) -> None:
    """A real, non-trivial PNG was written; copied into the docs when ``UPDATE_SCREENSHOTS=1``."""
    check_png(path, DOCS_SCREENSHOTS)


def wait_for_review(airflow: AirflowDeployment, run_id: str, task_id: str) -> None:
    """Wait until the review task is parked for a person (``awaiting_input``)."""
    airflow.wait_for_task_state(DAG_ID, run_id, task_id, "awaiting_input", timeout=300)


def test_a_reviewer_rejects_with_a_note_then_approves_in_the_browser(
    airflow_deployment: AirflowDeployment, tmp_path: Path
) -> None:
    airflow = airflow_deployment
    sim = airflow.simulator
    sim.reset()
    sim.configure(time_scale=20.0)  # a 50 s render takes 2.5 s: this test is about the reviewer
    shots = tmp_path / "screenshots"
    shots.mkdir()
    review_dir, published_dir = tmp_path / "review", tmp_path / "published"
    review_dir.mkdir()
    published_dir.mkdir()
    run_id = airflow.trigger(
        DAG_ID,
        {
            "prompt": PROMPT,
            "seed": SEED,
            "review_destination": f"file://{review_dir}/",
            "destination": f"file://{published_dir}/",
        },
    )

    # Round 1: the reviewer reads the form, types a note and rejects.
    wait_for_review(airflow, run_id, "round_1.review")
    first = answer_in_browser(
        airflow,
        run_id,
        "round_1.review",
        option="Reject",
        note=NOTE,
        screenshot=str(shots / "review-round-1.png"),
        noteScreenshot=str(shots / "review-round-1-note.png"),
        watchScreenshot=str(shots / "review-round-1-watch.png"),
    )
    # Round 2: a new take, the note in its prompt; the reviewer approves without a note.
    wait_for_review(airflow, run_id, "round_2.review")
    second = answer_in_browser(
        airflow,
        run_id,
        "round_2.review",
        option="Approve",
        note="",
        screenshot=str(shots / "review-round-2.png"),
        answeredScreenshot=str(shots / "review-round-2-answered.png"),
    )
    state = airflow.wait_for_run(DAG_ID, run_id, timeout=300)

    assert state == "success", airflow.log_tails()
    # What the browser showed and did.
    assert first["subject"] == "Publish this video? (take 1 of 3)"
    assert second["subject"] == "Publish this video? (take 2 of 3)"
    assert {o["name"] for o in first["options"]} == {"Approve", "Reject"}
    assert first["enabledBeforeClick"] and second["enabledBeforeClick"]  # approving needs no note
    # The form links to the provider's EmpirioLabs view of the round's video, which plays there.
    assert first["watchHref"] == f"/empiriolabs/runs/{DAG_ID}/{quote(run_id, safe='')}?task_id=round_1.generate"
    assert first["watched"]["width"] > 0 and first["watched"]["height"] > 0
    assert first["confirmed"] == "round_1.review response successful"
    assert second["confirmed"] == "round_2.review response successful"
    first_job = airflow.xcom(DAG_ID, run_id, "round_1.generate")
    second_job = airflow.xcom(DAG_ID, run_id, "round_2.generate")
    assert first_job["job_id"] in first["text"] and second_job["job_id"] in second["text"]
    assert NOTE in second["text"]  # round 2's form shows its prompt, note included
    for page in (first["text"], second["text"]):
        assert sim.api_key not in page
        assert "signature=" not in page and "/v1/outputs/" not in page

    # What Airflow recorded: who answered what, and what round 2 sent.
    verdict = airflow.xcom(DAG_ID, run_id, "round_1.review")
    assert verdict["chosen_options"] == ["Reject"]
    assert verdict["params_input"] == {"note": NOTE}
    assert verdict["responded_by_user"]["name"] == "admin"
    assert airflow.xcom(DAG_ID, run_id, "round_2.review")["chosen_options"] == ["Approve"]
    assert airflow.xcom(DAG_ID, run_id, "round_1.plan", key="seed") == SEED
    assert airflow.xcom(DAG_ID, run_id, "round_2.plan", key="seed") == SEED + 1
    rendered = airflow.task_instance(DAG_ID, run_id, "round_2.generate")["rendered_fields"]
    assert rendered["prompt"] == f"{PROMPT}\n{NOTE}"
    assert rendered["seed"] == SEED + 1
    states = {t: airflow.task_instance(DAG_ID, run_id, t)["state"] for t in ("round_3.plan", "round_3.generate")}
    assert states == {"round_3.plan": "success", "round_3.generate": "skipped"}

    # Paid twice (one job per round), and only the approved take published, byte for byte.
    assert sim.stats()["posts"] == 2
    assert first_job["job_id"] != second_job["job_id"]
    [published_uri] = airflow.xcom(DAG_ID, run_id, "publish")
    assert published_uri.endswith(f"{second_job['job_id']}/0.mp4")
    [published] = sorted(published_dir.rglob("*.mp4"))
    assert published.parent.name == second_job["job_id"]
    assert hashlib.sha256(published.read_bytes()).hexdigest() == sim.expected_video_sha256()
    assert sorted(p.name for p in review_dir.rglob("*.mp4")) == sorted(
        [f"{first_job['job_id']}.mp4", f"{second_job['job_id']}.mp4"]
    )
    # The view counts each paid job once: approved_video passes round 2's summary on (its job_id
    # becomes an XCom of that task too), and the run still shows two jobs, not three.
    view = run_in_browser(
        "view_count_check.mjs", {"url": airflow.url, "token": airflow.token, "dagId": DAG_ID, "runId": run_id}
    )
    assert sorted(view["jobIds"]) == sorted([first_job["job_id"], second_job["job_id"]]), view
    assert view["summary"].startswith("2 job(s), actual cost"), view
    for name in ("review-round-1.png", "review-round-1-note.png", "review-round-1-watch.png", "review-round-2.png"):
        check_screenshot(shots / name)
    check_screenshot(shots / "review-round-2-answered.png")
