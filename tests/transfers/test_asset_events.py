"""Asset events of the transfer: declared where the DAG processor sees them, never fatal to a copy.

Concurrent mapped transfers used to race to create ``AssetAlias('empiriolabs_videos')`` on their
first event (a unique violation on Postgres), because a mapped task's ``__init__``, which adds the
alias to ``outlets``, runs only on the worker: the serialized DAG declared no alias, so the DAG
processor never created it. And a failure to record an event failed a task whose video had landed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_empiriolabs.testing.video import sample_video_bytes
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator
from tests.transfers.hostile_server import body, hostile_server
from tests.transfers.test_output_trust import set_connection

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

Op = EmpirioLabsToObjectStorageOperator


def aliases_the_dag_processor_creates(build: Any) -> set[str]:
    """Build a DAG with ``build()`` inside it; the alias names the DAG processor would create."""
    from airflow.dag_processing.collection import AssetModelOperation
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import LazyDeserializedDAG

    with DAG("assets_probe", schedule=None) as dag:
        build()
    return set(AssetModelOperation.collect({dag.dag_id: LazyDeserializedDAG.from_dag(dag)}).asset_aliases)


def test_a_mapped_transfer_declares_its_alias_at_parse_time() -> None:
    def build() -> None:
        Op.partial(task_id="store", destination="file:///tmp/v/").expand(
            output_urls=[["https://cdn.example/a.mp4"], ["https://cdn.example/b.mp4"]]
        )

    assert aliases_the_dag_processor_creates(build) == {"empiriolabs_videos"}


def test_a_mapped_transfer_with_its_own_alias_or_none() -> None:
    def own() -> None:
        Op.partial(task_id="store", destination="file:///tmp/v/", asset_alias="studio_clips").expand(
            output_urls=[["https://cdn.example/a.mp4"]]
        )

    def none() -> None:
        Op.partial(task_id="store", destination="file:///tmp/v/", asset_alias=None).expand(
            output_urls=[["https://cdn.example/a.mp4"]]
        )

    assert aliases_the_dag_processor_creates(own) == {"studio_clips"}
    assert aliases_the_dag_processor_creates(none) == set()


def test_the_unmapped_task_keeps_one_alias() -> None:
    from airflow.sdk import AssetAlias

    outlets = [AssetAlias("empiriolabs_videos")]  # what partial() put there, passed to __init__
    op = Op(task_id="t", destination="file:///tmp/v/", output_urls=["https://cdn.example/a.mp4"], outlets=outlets)
    assert [o for o in op.outlets if isinstance(o, AssetAlias)] == [AssetAlias("empiriolabs_videos")]


class BrokenOutletEvents:
    """An outlet-events accessor that fails, as a broken or racing asset registry would."""

    def __getitem__(self, key: Any) -> Any:
        raise RuntimeError('duplicate key value violates unique constraint "asset_alias_name_uq"')


def test_a_failure_to_record_the_event_never_fails_a_copy_that_landed(
    monkeypatch: pytest.MonkeyPatch,
    file_root: ObjectStoragePath,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    video = sample_video_bytes()
    with hostile_server() as server:
        server.routes["/v.mp4"] = body(video)
        set_connection(monkeypatch, f"http://127.0.0.1:{server.port}", allow_private_output_hosts=True)
        op = Op(
            task_id="copy",
            destination=f"file://{file_root.path.rstrip('/')}/",
            output_urls=[server.url("/v.mp4")],
            object_name="0.mp4",
        )
        with caplog.at_level(logging.WARNING):
            uris = op.execute({"outlet_events": BrokenOutletEvents()})  # type: ignore[arg-type]

    assert uris == [f"file://{file_root.path.rstrip('/')}/0.mp4"]
    assert (file_root / "0.mp4").read_bytes() == video
    logged = caplog.text + capfd.readouterr().out
    assert "recording its asset event failed" in logged
    assert "unique constraint" in logged
