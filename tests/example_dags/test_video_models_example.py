"""The several-models example DAG runs end to end on ``dag.test()`` against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("airflow_db")

#: Each task's cost, from its model page (typed here, not read from the spec files).
PAGE_PRICE = {
    "kling_turbo": 10 * 0.225,
    "kling_o3_scenes": 15 * 0.224,
    "wan_flash": 10 * 0.045,
    "pixverse_clip": 2.60,
    "svi_long_take": 20 * 0.17 + 0.065,
}


def test_each_model_is_sent_once_and_costs_its_page_price(empiriolabs_connection: Any) -> None:
    from airflow.dag_processing.dagbag import DagBag

    sim = empiriolabs_connection
    sim.configure(render_base_seconds=1, render_seconds_per_video_second=0.05)
    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("example_empiriolabs_video_models")
    for task in dag.tasks:  # the simulator renders in a fraction of the planned time: look sooner
        task.poll_interval = 0.2
    run = dag.test()

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert sim.stats()["posts"] == len(PAGE_PRICE)
    assert sorted(job.model for job in sim.state.jobs.values()) == sorted(
        ["kling-3-0-turbo", "kling-o3", "wan-2-6", "pixverse-v5-6", "svi-2-0-pro"]
    )
    for task_id, usd in PAGE_PRICE.items():
        ti = next(ti for ti in run.get_task_instances() if ti.task_id == task_id)
        assert ti.xcom_pull(task_ids=task_id)["cost_usd"] == pytest.approx(usd), task_id
