"""
The "EmpirioLabs job" operator link: it opens the provider's view of the task instance (its video
playing, prompt and cost), never the API's job URL (a browser has no API key: that answers 401).
In Airflow 3 the task runner calls ``get_link`` when the task ends and stores the answer as XCom
``_link_EmpirioLabsJobLink``, which the API server's link reads back; both halves are checked on
real ``dag.test()`` runs. The link needs no XCom, so a task that never submitted logs no lookup.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_empiriolabs.links.empiriolabs import EmpirioLabsJobLink
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.ui.urls import run_view_path, ui_view_path
from tests.support import run_dag, task_instance, xcom

pytestmark = pytest.mark.usefixtures("airflow_db")

LINK_XCOM_KEY = "_link_EmpirioLabsJobLink"


def _server_side_link(run: Any, task_id: str) -> Any:
    """The link as the API server resolves it: from the serialized DAG in the DB."""
    from airflow.models.serialized_dag import SerializedDagModel

    serialized = SerializedDagModel.get_dag(run.dag_id)
    assert serialized is not None
    task = serialized.get_task(task_id)
    assert EmpirioLabsJobLink.name in task.extra_links
    return task.get_extra_links(task_instance(run, task_id), EmpirioLabsJobLink.name)


def _view(run: Any, task_id: str) -> str:
    return ui_view_path(run.dag_id, run.run_id, task_id)


def test_the_operator_declares_the_link() -> None:
    assert [link.name for link in EmpirioLabsGenerateVideoOperator.operator_extra_links] == ["EmpirioLabs job"]
    assert EmpirioLabsJobLink().xcom_key == LINK_XCOM_KEY


def test_the_view_path_names_the_task_instance() -> None:
    assert run_view_path("my_dag", "manual__2026-01-01T00:00:00+00:00") == (
        "/empiriolabs/runs/my_dag/manual__2026-01-01T00%3A00%3A00%2B00%3A00"
    )
    assert run_view_path("d", "r", "t") == "/empiriolabs/runs/d/r?task_id=t"
    assert run_view_path("d", "r", "t", 3) == "/empiriolabs/runs/d/r?task_id=t&map_index=3"


def test_the_button_opens_the_view_inside_airflows_ui() -> None:
    assert ui_view_path("d", "manual__2026-01-01T00:00:00+00:00") == (
        "/dags/d/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00/plugin/empiriolabs-run"
    )
    assert ui_view_path("d", "r", "t") == "/dags/d/runs/r/tasks/t/plugin/empiriolabs-task"
    assert ui_view_path("d", "r", "t", 3) == "/dags/d/runs/r/tasks/t/mapped/3/plugin/empiriolabs-task"


def test_the_view_path_keeps_the_base_urls_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import conf

    monkeypatch.setattr(conf, "get", lambda *a, **k: "https://airflow.example.com/team-a/")

    assert run_view_path("d", "r", "t") == "/team-a/empiriolabs/runs/d/r?task_id=t"


def test_get_link_looks_up_no_xcom(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.execution_time.xcom import XCom
    from airflow.sdk.types import TaskInstanceKey

    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the link looked up an XCom")

    monkeypatch.setattr(XCom, "get_value", no_lookup)
    monkeypatch.setattr(XCom, "get_one", no_lookup)
    key = TaskInstanceKey(dag_id="d", task_id="t", run_id="r", try_number=1, map_index=-1)

    link = EmpirioLabsJobLink().get_link(None, ti_key=key)  # type: ignore[arg-type]
    assert link == "/dags/d/runs/r/tasks/t/plugin/empiriolabs-task"


def test_get_link_opens_the_view_of_the_task_instance(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection

    run = run_dag("empiriolabs_test_link")

    assert run.state == "success"
    job_id = xcom(run, "generate")
    assert xcom(run, "generate", key="job_url") == f"{sim.url}/v1/jobs/{job_id}"  # still pushed, for tasks
    assert xcom(run, "read_links") == {"generate": _view(run, "generate"), "read_links": _view(run, "read_links")}
    # What the task runner stored when the task ended, and what the UI gets: never the API.
    assert xcom(run, "generate", key=LINK_XCOM_KEY) == _view(run, "generate")
    assert _server_side_link(run, "generate") == _view(run, "generate")
    assert sim.url not in _server_side_link(run, "generate")


def test_a_task_that_failed_before_submitting_links_to_the_view_without_a_lookup(
    empiriolabs_connection: Any,
) -> None:
    run = run_dag("empiriolabs_test_templated", seed=-1)

    assert task_instance(run, "generate").state == "failed"
    assert xcom(run, "generate", key="job_url") is None
    assert xcom(run, "generate", key=LINK_XCOM_KEY) == _view(run, "generate")
    assert _server_side_link(run, "generate") == _view(run, "generate")
    assert empiriolabs_connection.stats()["posts"] == 0
