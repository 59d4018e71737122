"""
The asset-driven and the brief-to-many example DAGs, end to end on ``dag.test()``.

Real Airflow (metadata DB, asset events, pools), the simulator over real HTTP, images and briefs
in real storage (local files, moto S3).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.example_dags.test_example_dags import _dag, _run, _xcom

pytestmark = pytest.mark.usefixtures("airflow_db")

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def _asset_events_for(uri: str) -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == uri)
        ).all()
        return [{"extra": dict(e.extra or {}), "source_dag_id": e.source_dag_id} for e in events]


def _queued_for(dag_id: str) -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
            )
            or 0
        )


def test_the_asset_dags_are_scheduled_on_the_images_and_on_the_video_alias() -> None:
    from airflow.sdk import Asset, AssetAlias

    producer = _dag("example_empiriolabs_asset_driven")
    consumer = _dag("example_empiriolabs_video_catalogue")
    assert list(producer.timetable.asset_condition.objects) == [
        Asset(name="empiriolabs_reference_images", uri="file:///tmp/empiriolabs/references/")
    ]
    assert list(consumer.timetable.asset_condition.objects) == [AssetAlias("empiriolabs_videos")]
    assert AssetAlias("empiriolabs_videos") in producer.get_task("store_video").outlets


def _unpause_synced(dag_id: str) -> None:
    """Sync the example DAGs to the DB and unpause one (a paused DAG is never queued by an asset event)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    from tests.conftest import REPO

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(DagBag(dag_folder=str(REPO / "example_dags")), "dags-folder", None)
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=False))


def test_new_reference_images_become_a_stored_video_that_the_catalogue_dag_consumes(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    references = tmp_path / "references"
    references.mkdir()
    for name in ("rider.png", "horse.png"):
        (references / name).write_bytes(PNG + name.encode())
    (references / "notes.txt").write_text("not an image: not picked up")
    out = tmp_path / "videos"
    out.mkdir()
    _unpause_synced("example_empiriolabs_video_catalogue")

    run = _run("example_empiriolabs_asset_driven", references=f"file://{references}/", destination=f"file://{out}/")

    stats = sim.stats()
    assert stats["uploads"] == 2  # both images, from storage, uploaded by the generate operator
    assert stats["posts"] == 1
    assert [u.data for u in sim.state.uploads.values()] == [PNG + b"horse.png", PNG + b"rider.png"]  # sorted
    summary = _xcom(run, "generate_from_references")
    [landed] = sorted(out.rglob("*.mp4"))
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == sim.expected_video_sha256()
    [uri] = _xcom(run, "store_video")
    assert uri.endswith(f"{summary['job_id']}/0.mp4")

    # The transfer's event went through the AssetAlias: an asset event for the video, and a queued
    # run of the DAG scheduled on the alias.
    [event] = _asset_events_for(uri)
    assert event["extra"]["job_id"] == summary["job_id"]
    assert event["extra"]["sha256"] == sim.expected_video_sha256()
    assert event["source_dag_id"] == "example_empiriolabs_asset_driven"
    assert _queued_for("example_empiriolabs_video_catalogue") >= 1

    catalogue = _run("example_empiriolabs_video_catalogue")
    [record] = _xcom(catalogue, "catalogue_new_videos")
    assert record["uri"] == uri
    assert record["job_id"] == summary["job_id"]
    assert record["size_bytes"] == landed.stat().st_size


PAID_JOBS_POOL = "empiriolabs_paid_jobs"
#: One mapped task group per prompt: generate, then store, each item on its own.
GENERATE, STORE = "one_video.generate", "one_video.store_video"
BRIEF = """# Spring campaign: one video per line
A foal taking its first steps in a sunlit meadow

Wild horses crossing a river at dusk, aerial shot
A carousel horse coming to life at midnight, whimsical
"""


def _pool_counting_deferred_tasks(slots: int) -> Any:
    from airflow.models.pool import Pool

    return Pool.create_or_update_pool(PAID_JOBS_POOL, slots, "Paid EmpirioLabs jobs in flight", include_deferred=True)


def test_a_brief_in_s3_fans_out_to_one_paid_job_per_prompt_in_a_pool_counting_deferred_tasks(
    empiriolabs_connection: Any, s3_root: Any, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    pool = _pool_counting_deferred_tasks(2)
    assert pool.include_deferred
    brief = s3_root / "briefs" / "spring.txt"
    brief.write_text(BRIEF)
    out = tmp_path / "videos"
    out.mkdir()

    run = _run("example_empiriolabs_brief_to_many", brief=str(brief), destination=f"file://{out}/")

    assert sim.stats()["posts"] == 3  # one per prompt: the comment and the blank line are not prompts
    generate = sorted((ti for ti in run.get_task_instances() if ti.task_id == GENERATE), key=lambda ti: ti.map_index)
    assert [ti.map_index for ti in generate] == [0, 1, 2]
    assert {ti.pool for ti in generate} == {PAID_JOBS_POOL}
    job_ids = {_xcom(run, GENERATE, map_index=i)["job_id"] for i in range(3)}
    assert len(job_ids) == 3
    landed = sorted(out.rglob("*.mp4"))
    assert {p.parent.name for p in landed} == job_ids
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == sim.expected_video_sha256() for p in landed)


def test_a_brief_longer_than_max_videos_is_refused_before_anything_is_paid(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    _pool_counting_deferred_tasks(2)
    brief = tmp_path / "brief.txt"
    brief.write_text("\n".join(f"A horse, take {n}" for n in range(5)))
    dag = _dag("example_empiriolabs_brief_to_many")

    run = dag.test(run_conf={"brief": f"file://{brief}", "destination": f"file://{tmp_path}/", "max_videos": 4})

    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["read_brief"] == "failed"
    assert empiriolabs_connection.stats()["posts"] == 0


def test_one_refused_video_does_not_hold_back_the_paid_ones(empiriolabs_connection: Any, tmp_path: Path) -> None:
    """A content-policy refusal fails its own item; every other prompt's video is generated and stored."""
    sim = empiriolabs_connection
    sim.configure(failing_prompts={"carousel": "content_policy_violation"})
    _pool_counting_deferred_tasks(3)
    brief = tmp_path / "brief.txt"
    brief.write_text(BRIEF)
    out = tmp_path / "videos"
    out.mkdir()

    run = _dag("example_empiriolabs_brief_to_many").test(
        run_conf={"brief": f"file://{brief}", "destination": f"file://{out}/"}
    )

    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert states[(GENERATE, 2)] == "failed"  # the carousel: refused by the content policy
    assert states[(STORE, 2)] == "upstream_failed"
    for index in (0, 1):
        assert states[(GENERATE, index)] == states[(STORE, index)] == "success", states
    job_ids = {_xcom(run, GENERATE, map_index=i)["job_id"] for i in (0, 1)}
    landed = sorted(out.rglob("*.mp4"))
    assert {p.parent.name for p in landed} == job_ids  # both paid videos stored
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == sim.expected_video_sha256() for p in landed)
