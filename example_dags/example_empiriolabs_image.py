"""
Images: generate with Seedream 5.0 Lite on the job path, store them; and a held request whose
images come back as base64 bytes, written straight to storage.

``draw_posters`` goes the video's way: the API answers with a job, the task waits in the triggerer
(deferrable) and the transfer copies the images (PNG, JPEG or WebP) into object storage.
``draw_thumbnails`` holds the request open (``sync=True``) and asks for ``b64_json``: the images
arrive in the answer and are written to ``destination``; no image byte goes in XCom. Both are
priced before sending (per image times the count) and refused over ``max_cost_usd``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from airflow_provider_empiriolabs.operators.image import EmpirioLabsGenerateImageOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs"],
    params={"destination": Param("file:///tmp/empiriolabs-images/", type="string")},
    doc_md=__doc__,
)
def example_empiriolabs_image() -> None:
    # [START howto_operator_empiriolabs_generate_image]
    posters = EmpirioLabsGenerateImageOperator(
        task_id="draw_posters",
        prompt="A vintage travel poster of a lighthouse on a cliff at dawn, bold flat colours",
        model="seedream-5-0-lite",
        num_images=2,  # sent as Seedream's own count field, max_images
        aspect_ratio="3:4",
        extra_params={"quality": "2K"},  # the model's own parameters, checked by its spec
        deferrable=True,
        poll_interval=5,
        max_cost_usd=0.10,  # 2 images at $0.035
    )
    EmpirioLabsToObjectStorageOperator(
        task_id="store_posters",
        output_urls=posters.output,  # the summary says these are images: PNG/JPEG/WebP accepted
        destination="{{ params.destination }}posters/",
    )
    # [END howto_operator_empiriolabs_generate_image]

    # [START howto_operator_empiriolabs_generate_image_sync]
    EmpirioLabsGenerateImageOperator(
        task_id="draw_thumbnails",
        prompt="A minimalist icon of a lighthouse",
        model="flux-2-klein-4b",
        num_images=3,
        sync=True,  # held: the answer holds the images, no job to poll
        response_format="b64_json",
        destination="{{ params.destination }}thumbnails/",  # where the bytes are written
        max_cost_usd=0.05,  # 3 images at $0.0085
    )
    # [END howto_operator_empiriolabs_generate_image_sync]


example_empiriolabs_image()
