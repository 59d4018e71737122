"""Every example DAG runs end to end on real Airflow (``dag.test()``) against the simulator."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("airflow_db")


def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def _run(dag_id: str, **run_conf: Any) -> Any:
    dag = _dag(dag_id)
    run = dag.test(run_conf=run_conf or None)
    failed = {ti.task_id: ti.state for ti in run.get_task_instances() if ti.state != "success"}
    assert run.state == "success", failed
    return run


def _xcom(run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == task_id and ti.map_index == map_index)
    return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=map_index)


def test_the_example_dags_import_cleanly() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    assert bag.import_errors == {}
    assert {
        "example_empiriolabs_text_to_video",
        "example_empiriolabs_image_to_video",
        "example_empiriolabs_reference_to_video",
        "example_empiriolabs_submit_many",
    } <= set(bag.dag_ids)


def test_text_to_video_lands_the_paid_video_byte_identical(empiriolabs_connection: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    run = _run("example_empiriolabs_text_to_video", destination=f"file://{tmp_path}/")

    assert sim.stats()["posts"] == 1
    summary = _xcom(run, "generate_video")
    assert summary["status"] == "completed"
    assert summary["cost_usd"] == pytest.approx(0.70)  # 5 s at 720p
    landed = sorted(tmp_path.rglob("*.mp4"))
    assert len(landed) == 1
    assert hashlib.sha256(landed[0].read_bytes()).hexdigest() == sim.expected_video_sha256()


def test_image_to_video_sends_one_image(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    run = _run("example_empiriolabs_image_to_video")

    assert sim.stats()["posts"] == 1
    summary = _xcom(run, "animate_still")
    assert summary["cost_usd"] == pytest.approx(0.72)  # 4 s at 1080p
    assert summary["output_urls"]


def test_reference_to_video_sends_nine_images(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    run = _run("example_empiriolabs_reference_to_video")

    assert sim.stats()["posts"] == 1
    assert _xcom(run, "ensemble_scene")["video_seconds"] == 8


def test_submit_many_then_wait_pays_once_per_prompt(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    run = _run("example_empiriolabs_submit_many")

    stats = sim.stats()
    assert stats["posts"] == 3
    job_ids = {_xcom(run, "one_video.submit", map_index=i) for i in range(3)}
    assert len(job_ids) == 3
    waited = {_xcom(run, "one_video.wait_for_video", map_index=i)["job_id"] for i in range(3)}
    assert waited == job_ids


def test_image_example_pays_once_per_task_and_lands_every_image(empiriolabs_connection: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    run = _run("example_empiriolabs_image", destination=f"file://{tmp_path}/")

    assert sim.stats()["posts"] == 2  # one job, one held request
    posters = _xcom(run, "draw_posters")
    assert posters["media"] == "image" and posters["image_count"] == 2
    assert posters["cost_usd"] == pytest.approx(0.07)
    stored = _xcom(run, "store_posters")
    assert len(stored) == 2 and all(uri.endswith(".png") for uri in stored)
    thumbnails = _xcom(run, "draw_thumbnails")
    assert thumbnails["output_urls"] == [] and len(thumbnails["stored_uris"]) == 3
    landed = sorted(tmp_path.rglob("*.png"))
    assert len(landed) == 5
    from tests.example_dags.test_assets_and_mapping import _asset_events_for

    for index, uri in enumerate(stored):  # each stored image is an asset event, as a stored video is
        [event] = _asset_events_for(uri)
        assert event["extra"]["job_id"] == posters["job_id"] and event["extra"]["output_index"] == index
    assert all(path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for path in landed)
    assert not list(tmp_path.rglob("*.partial"))


def test_film_pays_each_of_its_three_shots_once_and_stores_them(empiriolabs_connection: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    run = _run("example_empiriolabs_film", destination=f"file://{tmp_path}/")

    stats = sim.stats()
    assert stats["posts"] == 3
    film = _xcom(run, "film")
    first, second, third = film["job_ids"]
    assert stats["extends"] == {second: {"job_id": first}, third: {"job_id": second}}
    assert film["video_seconds"] == 45
    assert film["estimated_cost_usd"] == pytest.approx(6.30)  # 45 s at 720p
    landed = sorted(tmp_path.rglob("*.mp4"))
    assert len(landed) == 3
    assert {hashlib.sha256(path.read_bytes()).hexdigest() for path in landed} == {sim.expected_video_sha256()}
