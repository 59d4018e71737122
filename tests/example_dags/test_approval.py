"""
The human-approval example DAG end to end on ``dag.test()``, a person answering through the REST API.

In Airflow 3.3 a HITL task parks in ``awaiting_input`` and ``dag.test()`` keeps the run alive
until a response recorded from outside turns it back to ``scheduled``. The reviewer here is a
thread that does what the Required Actions page does: it lists the pending HITL details and
PATCHes one, through Airflow's own core REST API app (``create_app("core")`` in process, the simple
auth manager in all-admins mode) sharing this test session's metadata DB. The videos come from the
simulator over real HTTP and land in real local folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self
from unittest import mock

import pytest

from tests.example_dags.test_example_dags import _dag, _xcom

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_ID = "example_empiriolabs_approval"
PROMPT = "A grey horse trotting through falling snow, wide shot"
NOTE = "make the horse black, and slower"
ROUND_COST = 0.70  # 5 s at 720p


class Reviewer(threading.Thread):
    """
    Answers the run's HITL prompts in order, as a person on the Required Actions page would.

    Use it as a context manager around ``dag.test()``: it answers while the block runs, and only between
    the tasks dag.test() runs. Airflow 3.3's dag.test() (3.3.0 to 3.3.2) writes a task's state a second
    time once the task has come back: ``_run_task`` calls ``ti.set_state(taskrun_result.ti.state)``, the
    state the task reported, after the Execution API has already parked it -- or, for an answer that came
    first, already resumed it to ``scheduled``. An answer recorded while dag.test() was still running the
    review task (a prompt is listed from the moment the task writes it, before it parks) was then
    overwritten with ``awaiting_input``: the prompt answered, the task waiting, dag.test() waiting for it
    forever. A worker in a deployment makes no such second write; here the reviewer waits for dag.test()
    to finish the task it is running. A prompt left waiting that this reviewer will not answer (answered
    yet still waiting, or none of its answers left) fails the waiting task and is reported, rather than
    left to wait forever.

    :param client: a client of Airflow's core REST API (``/api/v2``).
    :param answers: ``(option, note)`` per prompt, in the order the prompts appear; a dict in place
        of the note is the whole form (``params_input``), a function of the prompt's details gives it.
    :param dag_id: the DAG whose prompts it answers.
    """

    def __init__(self, client: Any, answers: list[tuple[str, Any]], dag_id: str = DAG_ID) -> None:
        super().__init__(daemon=True, name="reviewer")
        self.client = client
        self.dag_id = dag_id
        self.answers = list(answers)
        self.seen: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self._between_tasks = threading.Lock()  # held by dag.test() while it runs a task
        self._patches = contextlib.ExitStack()

    #: How long the reviewer keeps trying through failing calls before it gives up and fails the run.
    GIVE_UP_SECONDS = 120.0
    #: The prompts whose task is parked waiting for input. The list's filter on the task's state is
    #: ``state`` (a ``ti_state`` parameter is ignored, and a prompt then shows before its task has parked).
    PARKED = {"state": "awaiting_input"}

    def __enter__(self) -> Self:
        from airflow.sdk.definitions import dag as dag_module

        run_task = dag_module._run_task

        def run_task_between_answers(**kwargs: Any) -> Any:
            with self._between_tasks:
                return run_task(**kwargs)

        self._patches.enter_context(mock.patch.object(dag_module, "_run_task", run_task_between_answers))
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.join(10)
        self._patches.close()

    def run(self) -> None:
        failing_since: float | None = None
        stuck: str | None = None
        while stuck is None and not self.stop.wait(0.5):
            try:
                stuck = self._answer_pending()
                failing_since = None
            except Exception as error:  # reported by the test unless a retry got every answer through
                # The REST API shares the test's SQLite metadata DB with dag.test(), which writes
                # to it at the same time: a call can fail on a locked database and succeed again.
                self.errors.append(repr(error))
                failing_since = failing_since or time.monotonic()
                if self.answers and time.monotonic() - failing_since > self.GIVE_UP_SECONDS:
                    self._fail_the_waiting_tasks()  # answers left that cannot be given: end the run
                    return
        if not self.answers:
            self.errors.clear()  # every prompt was answered: what failed on the way was retried
        if stuck is not None:
            self.errors.append(stuck)
            self._fail_the_waiting_tasks()

    def _fail_the_waiting_tasks(self) -> None:
        """End the run: dag.test() would otherwise wait for an answer forever (the test then fails)."""
        with contextlib.suppress(Exception):
            resp = self.client.get(f"/api/v2/dags/{self.dag_id}/dagRuns/~/hitlDetails", params=self.PARKED)
            for detail in resp.json()["hitl_details"]:
                ti = detail["task_instance"]
                self.client.patch(
                    f"/api/v2/dags/{self.dag_id}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}",
                    json={"new_state": "failed"},
                )

    def _answer_pending(self) -> str | None:
        """Answer the waiting prompts; what waits that this reviewer will not answer, if anything."""
        resp = self.client.get(f"/api/v2/dags/{self.dag_id}/dagRuns/~/hitlDetails", params=self.PARKED)
        assert resp.status_code == 200, resp.text
        for detail in resp.json()["hitl_details"]:
            ti = detail["task_instance"]
            if detail["response_received"]:
                return f"{ti['task_id']} was answered and still awaits input: dag.test() will not run it"
            if not self.answers:
                return f"{ti['task_id']} awaits input ({detail['subject']!r}) and the reviewer has no answer left"
            option, note = self.answers[0]  # taken only once its answer is recorded (a failed call is retried)
            form = note(detail) if callable(note) else note if isinstance(note, dict) else {"note": note or None}
            with self._between_tasks:
                patch = self.client.patch(
                    f"/api/v2/dags/{self.dag_id}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}"
                    f"/{ti['map_index']}/hitlDetails",
                    json={"chosen_options": [option], "params_input": form},
                )
            assert patch.status_code == 200, patch.text
            self.answers.pop(0)
            self.seen.append({"task_id": ti["task_id"], "subject": detail["subject"], "body": detail["body"]})
        return None


@pytest.fixture
def rest_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Airflow's core REST API app, in process, on this session's DB; every caller is an admin."""
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app("core")) as client:
        yield client


def _run_with_reviewer(
    client: Any, answers: list[tuple[str, str]], tmp_path: Path, **conf: Any
) -> tuple[Any, Reviewer]:
    with Reviewer(client, answers) as reviewer:
        run = _dag(DAG_ID).test(
            run_conf={
                "prompt": PROMPT,
                "seed": 7,
                "review_destination": f"file://{tmp_path}/review/",
                "destination": f"file://{tmp_path}/published/",
                **conf,
            }
        )
    assert not reviewer.errors, reviewer.errors
    return run, reviewer


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    (tmp_path / "review").mkdir()
    (tmp_path / "published").mkdir()
    return tmp_path


def test_approved_on_the_first_round_is_published_and_paid_once(
    empiriolabs_connection: Any, rest_api: Any, folders: Path
) -> None:
    sim = empiriolabs_connection

    run, reviewer = _run_with_reviewer(rest_api, [("Approve", "")], folders)

    states = _states(run)
    assert run.state == "success", states
    assert sim.stats()["posts"] == 1
    assert [seen["task_id"] for seen in reviewer.seen] == ["round_1.review"]
    assert reviewer.seen[0]["subject"] == "Publish this video? (take 1 of 3)"
    summary = _xcom(run, "round_1.generate")
    assert summary["job_id"] in reviewer.seen[0]["body"]
    assert "http" not in reviewer.seen[0]["body"]  # no signed URL on the reviewer's page
    assert f"](/empiriolabs/runs/{DAG_ID}/" in reviewer.seen[0]["body"]  # watch it in the EmpirioLabs view
    assert states["round_2.plan"] == "success"  # it ran, saw the approval, and skipped the rest
    later = ["round_2.generate", "round_2.preview", "round_2.review", "round_3.plan", "round_3.generate"]
    assert {states[task_id] for task_id in later} == {"skipped"}
    [published] = sorted((folders / "published").rglob("*.mp4"))
    assert published.relative_to(folders / "published").as_posix() == f"{summary['job_id']}/0.mp4"
    assert hashlib.sha256(published.read_bytes()).hexdigest() == sim.expected_video_sha256()
    assert [p.name for p in (folders / "review" / "round_1").iterdir()] == [f"{summary['job_id']}.mp4"]
    [job] = sim.state.jobs.values()
    assert job.prompt == PROMPT


def test_rejected_with_a_note_then_approved_regenerates_once_with_the_note_and_a_new_seed(
    empiriolabs_connection: Any, rest_api: Any, folders: Path
) -> None:
    sim = empiriolabs_connection

    run, reviewer = _run_with_reviewer(rest_api, [("Reject", NOTE), ("Approve", "")], folders)

    states = _states(run)
    assert run.state == "success", states
    assert sim.stats()["posts"] == 2
    assert [seen["task_id"] for seen in reviewer.seen] == ["round_1.review", "round_2.review"]
    first, second = (sim.state.jobs[job_id] for job_id in sim.state.job_order)
    assert first.prompt == PROMPT
    assert second.prompt == f"{PROMPT}\n{NOTE}"
    assert NOTE in reviewer.seen[1]["body"]
    assert _xcom(run, "round_1.plan", key="seed") == 7
    assert _xcom(run, "round_2.plan", key="seed") == 8
    assert _xcom(run, "round_2.plan", key="spent_usd") == pytest.approx(ROUND_COST)
    assert states["round_3.plan"] == "success"
    assert {states[f"round_3.{t}"] for t in ("generate", "preview", "review")} == {"skipped"}
    # Only the approved video is published.
    [published] = sorted((folders / "published").rglob("*.mp4"))
    assert published.parent.name == second.job_id
    assert sorted(p.name for p in (folders / "review").rglob("*.mp4")) == sorted(
        [f"{first.job_id}.mp4", f"{second.job_id}.mp4"]
    )
    # What the reviewer is shown (the Required Actions page reads the same REST API): neither the
    # API key nor a signed output URL.
    details = rest_api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run.run_id}/hitlDetails")
    assert details.status_code == 200
    assert details.json()["total_entries"] == 2
    assert sim.api_key not in details.text
    assert "signature=" not in details.text and "/v1/outputs/" not in details.text


def test_a_budget_for_two_rounds_stops_after_two_rejections_without_publishing(
    empiriolabs_connection: Any, rest_api: Any, folders: Path
) -> None:
    sim = empiriolabs_connection

    run, reviewer = _run_with_reviewer(
        rest_api, [("Reject", "closer"), ("Reject", "at dusk")], folders, budget_usd=1.50
    )

    states = _states(run)
    assert run.state == "failed", states
    assert sim.stats()["posts"] == 2  # a third round ($0.70 more) would pass the $1.50 budget
    assert states["round_3.plan"] == "success"  # it ran, and decided not to
    assert states["round_3.generate"] == "skipped"
    assert states["approved_video"] == "failed"
    assert states["publish"] == "upstream_failed"
    assert not list((folders / "published").rglob("*.mp4"))
    assert len(reviewer.seen) == 2
