"""
The transfer copies an image job's images as it copies videos: PNG, JPEG and WebP accepted (and
named by their own extension) for image outputs only; an HTML page labelled as an image is still
refused, and a video job's transfer still refuses an image. Real HTTP against the simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsUnexpectedContentTypeError,
    EmpirioLabsUnrecognizedContainerError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models.image_request import ImageRequest
from airflow_provider_empiriolabs.testing.image import PNG_SIGNATURE
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator
from tests.support import make_context, wait_until_terminal
from tests.transfers.support import raises_final


@pytest.fixture
def image_job(empiriolabs_connection: Any) -> str:
    empiriolabs_connection.configure(render_base_seconds=0.2)
    hook = EmpirioLabsHook()
    try:
        job_id = hook.submit(ImageRequest.build(prompt="A lighthouse", num_images=2))
    finally:
        hook.close()
    wait_until_terminal(job_id)
    return job_id


def _copy(tmp_path: Path, **kwargs: Any) -> list[str]:
    operator = EmpirioLabsToObjectStorageOperator(task_id="store", destination=f"file://{tmp_path}/", **kwargs)
    return list(operator.execute(make_context()))


def test_an_image_jobs_images_are_copied_named_by_their_extension(image_job: str, tmp_path: Path) -> None:
    uris = _copy(tmp_path, job_id=image_job, media="image")
    assert [uri.rsplit("/", 2)[-2:] for uri in uris] == [[image_job, "0.png"], [image_job, "1.png"]]
    assert all(Path(uri.removeprefix("file://")).read_bytes().startswith(PNG_SIGNATURE) for uri in uris)


def test_a_video_transfer_still_refuses_an_image(image_job: str, tmp_path: Path) -> None:
    with raises_final(EmpirioLabsUnexpectedContentTypeError, match="image/png"):
        _copy(tmp_path, job_id=image_job)
    assert not list(tmp_path.rglob("*.*"))


def test_an_html_page_labelled_as_an_image_is_refused(empiriolabs_connection: Any, tmp_path: Path) -> None:
    hook = EmpirioLabsHook()
    try:  # the simulator's CDN serves an uploaded file with the type it was uploaded as
        uploaded = hook.upload_file(b"<html><script>alert(1)</script></html>", "page.png", "image/png")
    finally:
        hook.close()
    url = str((uploaded.model_extra or {})["url"])
    with raises_final(EmpirioLabsUnrecognizedContainerError, match="not a video"):
        _copy(tmp_path, output_urls=[url], media="image", object_name="x/{index}.png")
    assert not list(tmp_path.rglob("*.png"))
