"""
Can a video be published without a person approving *that* video? (example_empiriolabs_approval)

The approval example publishes only what a reviewer approved on Airflow's Required Actions page.
Searched here, on ``dag.test()`` with the reviewer answering through Airflow's own REST API:

- an answer with an option that was not offered (or several, or none) is refused by Airflow;
- a stale approval: round 1's video approved and published, then its generate task made a new
  video (its record deleted through the REST API's state store route, as a repair would) and
  ``generate``, ``approved_video`` and ``publish`` cleared without the review: the old answer
  must not publish the new, never-seen video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.adversarial._clearing import clear_and_rerun
from tests.example_dags.test_approval import DAG_ID, PROMPT, Reviewer, rest_api  # noqa: F401 - the fixture
from tests.example_dags.test_example_dags import _dag, _xcom

pytestmark = pytest.mark.usefixtures("airflow_db")

#: Answers no reviewer was offered: another option, both options, none.
NOT_OFFERED: list[list[str]] = [["Publish"], ["Approve", "Reject"], [], ["approve"]]


class ProbingReviewer(Reviewer):
    """Tries the answers that were not offered first (recording Airflow's status codes), then answers."""

    def __init__(self, client: Any, answers: list[tuple[str, str]]) -> None:
        super().__init__(client, answers)
        self.refused: dict[str, int] = {}

    def _answer_pending(self) -> str | None:
        if not self.refused:
            resp = self.client.get(
                f"/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails",
                params={"response_received": "false", "ti_state": "awaiting_input"},
            )
            for detail in resp.json()["hitl_details"]:
                ti = detail["task_instance"]
                path = (
                    f"/api/v2/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/"
                    f"{ti['map_index']}/hitlDetails"
                )
                for options in NOT_OFFERED:
                    answer = self.client.patch(path, json={"chosen_options": options, "params_input": {"note": None}})
                    self.refused[repr(options)] = answer.status_code
        return super()._answer_pending()


def _published(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.mp4"))


def test_an_answer_not_offered_is_refused_and_a_stale_approval_never_publishes_a_new_video(
    empiriolabs_connection: Any,
    rest_api: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    sim = empiriolabs_connection
    published = tmp_path / "published"
    published.mkdir()
    dag = _dag(DAG_ID)
    with ProbingReviewer(rest_api, [("Approve", "")]) as reviewer:
        run = dag.test(
            run_conf={
                "prompt": PROMPT,
                "seed": 7,
                "max_rounds": 1,
                "review_destination": f"file://{tmp_path}/review/",
                "destination": f"file://{published}/",
            }
        )
    assert not reviewer.errors, reviewer.errors

    # Airflow refused every answer that was not offered; the offered one went through.
    assert reviewer.refused and all(400 <= code < 500 for code in reviewer.refused.values()), reviewer.refused
    assert run.state == "success"
    approved_job = _xcom(run, "round_1.generate")["job_id"]
    assert _published(published) == [f"{approved_job}/0.mp4"]

    # Round 1's generate task now makes a new video (its record removed, as a repair would) and is
    # cleared with the publishing tasks, not with the review: the old answer stays in place.
    removed = rest_api.delete(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run.run_id}/taskInstances/round_1.generate/state-store/empiriolabs_job_id"
    )
    assert removed.status_code in (200, 204), removed.text
    rerun = clear_and_rerun(dag, run, ["round_1.generate", "approved_video", "publish"])

    new_job = _xcom(rerun, "round_1.generate")["job_id"]
    assert new_job != approved_job and sim.stats()["posts"] == 2  # a new, never reviewed video exists
    assert _published(published) == [f"{approved_job}/0.mp4"], "a video nobody approved was published"
    states = {ti.task_id: str(ti.state) for ti in rerun.get_task_instances()}
    assert states["approved_video"] == "failed" and states["publish"] != "success", states
