"""
The "EmpirioLabs job" operator link: ``get_link`` reads the run's ``job_url`` XCom, ``""`` when
there is none. In Airflow 3 the task runner calls ``get_link`` when the task ends and stores the
answer as XCom ``_link_EmpirioLabsJobLink``, which the API server's link reads back; both halves
are checked on real ``dag.test()`` runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_empiriolabs.links.empiriolabs import EmpirioLabsJobLink
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.operators.support import run_dag, task_instance, xcom

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


def test_the_operator_declares_the_link() -> None:
    assert [link.name for link in EmpirioLabsGenerateVideoOperator.operator_extra_links] == ["EmpirioLabs job"]
    assert EmpirioLabsJobLink().xcom_key == LINK_XCOM_KEY


def test_get_link_returns_the_job_url_of_the_run_and_empty_without_one(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection

    run = run_dag("empiriolabs_test_link")

    assert run.state == "success"
    job_id = xcom(run, "generate")
    job_url = f"{sim.url}/v1/jobs/{job_id}"
    assert xcom(run, "generate", key="job_url") == job_url
    assert xcom(run, "read_links") == {"generate": job_url, "read_links": ""}
    # What the task runner stored when the task ended, and what the UI gets.
    assert xcom(run, "generate", key=LINK_XCOM_KEY) == job_url
    assert _server_side_link(run, "generate") == job_url


def test_a_task_that_failed_before_submitting_has_an_empty_link(empiriolabs_connection: Any) -> None:
    run = run_dag("empiriolabs_test_templated", seed=-1)

    assert task_instance(run, "generate").state == "failed"
    assert xcom(run, "generate", key="job_url") is None
    assert xcom(run, "generate", key=LINK_XCOM_KEY) == ""
    assert _server_side_link(run, "generate") == ""
    assert empiriolabs_connection.stats()["posts"] == 0
