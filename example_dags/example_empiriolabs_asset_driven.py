"""
Asset-driven: new reference images land -> a video from them -> stored -> a downstream DAG runs.

``example_empiriolabs_asset_driven`` is scheduled on the reference-images Asset: whatever lands the
images (another DAG with that Asset as an outlet, or a ``POST /api/v2/assets/events`` from outside
Airflow) triggers it. It takes the images the triggering event names (``extra["images"]``) or, run
by hand, every image in the folder, has EmpirioLabs animate them (one image: image-to-video; more:
reference-to-video), and copies the video into durable storage. The generate operator uploads
images that live in storage itself (``file://``, ``s3://``, ``gs://``, ``abfs://``), so they never
need a public URL.

The transfer emits each stored video as an asset event through the ``empiriolabs_videos``
AssetAlias; ``example_empiriolabs_video_catalogue`` is scheduled on that alias and reads the
events (the object's URI, job id, size and SHA-256).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Asset, AssetAlias, Param, dag, task

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)

# [START howto_asset_empiriolabs_reference_images]
#: Where reference images land. Swap the URI for ``s3://bucket/references/`` and so on.
REFERENCE_IMAGES = Asset(name="empiriolabs_reference_images", uri="file:///tmp/empiriolabs/references/")
#: What the transfer emits stored videos through (its ``asset_alias``).
VIDEOS = AssetAlias("empiriolabs_videos")
# [END howto_asset_empiriolabs_reference_images]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dag(
    schedule=[REFERENCE_IMAGES],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs"],
    params={
        "references": Param(REFERENCE_IMAGES.uri, type="string"),
        "destination": Param("file:///tmp/empiriolabs/videos/", type="string"),
    },
    doc_md=__doc__,
)
def example_empiriolabs_asset_driven() -> None:
    # [START howto_operator_empiriolabs_asset_driven]
    @task
    def new_reference_images(params: dict[str, Any], triggering_asset_events: Any = None) -> list[str]:
        """The images the triggering event names; run by hand, every image in the folder (at most 9)."""
        from airflow.sdk import ObjectStoragePath

        for events in (triggering_asset_events or {}).values():
            for event in events:
                if event.extra.get("images"):
                    return [str(image) for image in event.extra["images"]][:9]
        folder = ObjectStoragePath(params["references"])
        return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:9]

    generate = EmpirioLabsGenerateVideoOperator(
        task_id="generate_from_references",
        prompt="The riders and horses of the reference images trot through a sunlit meadow, cinematic",
        images=new_reference_images(),  # storage URLs: uploaded by the operator when it submits
        duration=5,
        deferrable=True,
        poll_interval=10,
        max_cost_usd=1.00,
    )

    EmpirioLabsToObjectStorageOperator(
        task_id="store_video",
        output_urls=generate.output,
        destination="{{ params.destination }}",
        asset_alias=VIDEOS.name,  # each stored video becomes an asset event through the alias
    )
    # [END howto_operator_empiriolabs_asset_driven]


@dag(
    schedule=[VIDEOS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs"],
)
def example_empiriolabs_video_catalogue() -> None:
    # [START howto_asset_empiriolabs_consume_videos]
    @task(inlets=[VIDEOS])
    def catalogue_new_videos(triggering_asset_events: Any = None, inlet_events: Any = None) -> list[dict[str, Any]]:
        """One record per stored video: the events that triggered this run, else the alias's latest."""
        events = [event for batch in (triggering_asset_events or {}).values() for event in batch]
        if not events and inlet_events is not None:
            events = list(inlet_events[VIDEOS])[-1:]
        return [
            {
                "uri": event.asset.uri,
                "job_id": event.extra.get("job_id"),
                "size_bytes": event.extra.get("size_bytes"),
                "sha256": event.extra.get("sha256"),
            }
            for event in events
        ]

    catalogue_new_videos()
    # [END howto_asset_empiriolabs_consume_videos]


example_empiriolabs_asset_driven()
example_empiriolabs_video_catalogue()
