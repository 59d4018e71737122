"""
Reference images from storage and local files: checked with stand-ins, uploaded once on submission.

The operator runs against the simulator over real HTTP (it counts uploads in ``/_stats`` and keeps
the uploaded bytes, and it refuses a ``bunny://`` path it never issued), and reads images from the
real storage emulators (moto S3, fake-gcs-server, Azurite) and the local disk.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from structlog.testing import capture_logs

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.operators._reference_images import (
    STAND_IN_PREFIX,
    EmpirioLabsReferenceImageError,
    ReferenceImageUploader,
    needs_upload,
    sniff_image_type,
    with_stand_ins,
)
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.emulators.fixtures import S3_CONN_ID
from tests.support import make_context, make_operator, submit_job, wait_until_terminal

PROMPT = "character1 and character2 ride side by side along the shore"
_operator = functools.partial(make_operator, prompt=PROMPT)
URL = "https://assets.example.com/stills/horse.png"
STORE_KEY = EmpirioLabsGenerateVideoOperator.external_id_key


def png(seed: int = 0, size: int = 256) -> bytes:
    """A file that starts like a PNG (the simulator and the uploader only look at the type and bytes)."""
    return b"\x89PNG\r\n\x1a\n" + bytes((seed + n) % 256 for n in range(size))


def jpeg(seed: int = 0) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes((seed * 7 + n) % 256 for n in range(300))


def _uploads(sim: Any) -> list[Any]:
    return list(sim.state.uploads.values())


# -- the pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("https://a.example/x.png", False),
        ("HTTP://a.example/x.png", False),
        ("bunny://uploads/abc/x.png", False),
        ("s3://bucket/x.png", True),
        ("s3://conn@bucket/x.png", True),
        ("gs://bucket/x.png", True),
        ("abfs://container/x.png", True),
        ("file:///data/x.png", True),
        ("/data/x.png", True),
        ("{{ ti.xcom_pull('list') }}", False),
        ("", False),
        ("stills/horse.png", False),  # relative: refused by the request's validation instead
    ],
)
def test_what_needs_an_upload(ref: str, expected: bool) -> None:
    assert needs_upload(ref) is expected


def test_stand_ins_keep_count_order_and_templates() -> None:
    assert with_stand_ins(["s3://b/1.png", URL, "/x/2.png"]) == [f"{STAND_IN_PREFIX}0", URL, f"{STAND_IN_PREFIX}2"]
    assert with_stand_ins("/x/1.png") == f"{STAND_IN_PREFIX}0"
    assert with_stand_ins(URL) == URL
    assert with_stand_ins("{{ params.images }}") == "{{ params.images }}"
    assert with_stand_ins(None) is None


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"GIF89a......", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"BM\x00\x00", "image/bmp"),
        (b"<html><body>", None),
        (b"\x00\x00\x00\x18ftypmp42", None),  # a video is not a reference image
    ],
)
def test_images_are_recognised_by_their_first_bytes(head: bytes, kind: str | None) -> None:
    assert sniff_image_type(head) == kind


def test_a_relative_path_is_refused_it_would_depend_on_the_workers_directory() -> None:
    uploader = ReferenceImageUploader(hook=None, conn_id=None, log=logging.getLogger(__name__))  # type: ignore[arg-type]
    with pytest.raises(EmpirioLabsReferenceImageError, match="absolute"):
        uploader.check("stills/horse.png")


def test_a_scheme_without_a_filesystem_is_refused_naming_it(empiriolabs_connection: Any) -> None:
    with pytest.raises(AirflowFailException, match=r"images: ftp://127.0.0.1:9/horse.png cannot be read.*ftp"):
        _operator(mode="i2v", images=["ftp://127.0.0.1:9/horse.png"], prompt="A horse").execute(make_context())
    assert empiriolabs_connection.stats()["uploads"] == 0
    assert empiriolabs_connection.stats()["posts"] == 0


def test_a_file_over_the_size_limit_is_refused_before_uploading(tmp_path: Path) -> None:
    image = tmp_path / "big.png"
    image.write_bytes(png(size=2000))
    uploader = ReferenceImageUploader(hook=None, conn_id=None, max_bytes=1000, log=logging.getLogger(__name__))  # type: ignore[arg-type]
    with pytest.raises(EmpirioLabsReferenceImageError, match="limit is 1,000"):
        uploader.resolve([str(image)])  # with no hook: an upload attempt would fail otherwise


# -- the operator against the simulator -----------------------------------------------------------


def test_local_files_are_uploaded_and_their_paths_sent_urls_as_they_are(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    first, second = tmp_path / "rider.png", tmp_path / "horse.jpg"
    first.write_bytes(png(1))
    second.write_bytes(jpeg(2))

    summary = _operator(mode="r2v", images=[str(first), URL, f"file://{second}"]).execute(make_context())

    stats = sim.stats()
    assert stats["uploads"] == 2  # the https URL is sent as it is
    assert stats["posts"] == 1  # accepted: the simulator refuses bunny:// paths it did not issue
    assert summary["status"] == "completed"
    uploads = _uploads(sim)
    assert [u.data for u in uploads] == [first.read_bytes(), second.read_bytes()]
    assert [(u.filename, u.content_type) for u in uploads] == [("rider.png", "image/png"), ("horse.jpg", "image/jpeg")]


def test_one_image_by_its_local_path_in_i2v(empiriolabs_connection: Any, tmp_path: Path) -> None:
    image = tmp_path / "still.png"
    image.write_bytes(png(3))

    _operator(mode="i2v", images=str(image), prompt="The horse turns its head").execute(make_context())

    assert empiriolabs_connection.stats()["uploads"] == 1
    assert empiriolabs_connection.stats()["posts"] == 1


@pytest.mark.parametrize("backend", ["file", "s3", "gs", "abfs"])
def test_images_from_each_storage_backend_are_streamed_up_byte_identical(
    empiriolabs_connection: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    sim = empiriolabs_connection
    root = request.getfixturevalue(
        {"file": "file_root", "s3": "s3_root", "gs": "gcs_root", "abfs": "azure_root"}[backend]
    )
    refs = []
    for n in range(3):
        target = root / "cast" / f"rider-{n}.png"
        if backend == "file":
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png(n))
        refs.append(str(target))  # the conn id travels in the URL: s3://emulator_s3@bucket/...

    _operator(mode="r2v", images=refs, prompt="character1, character2 and character3 race").execute(make_context())

    assert sim.stats()["uploads"] == 3
    assert sim.stats()["posts"] == 1
    assert [u.data for u in _uploads(sim)] == [png(n) for n in range(3)]


def test_images_conn_id_serves_storage_urls_that_name_no_connection(empiriolabs_connection: Any, s3_root: Any) -> None:
    target = s3_root / "still.png"
    target.write_bytes(png(9))
    bare = f"s3://{target.bucket}/{target.key}"  # no conn id in the URL

    _operator(mode="i2v", images=[bare], images_conn_id=S3_CONN_ID, prompt="A horse blinks").execute(make_context())

    assert [u.data for u in _uploads(empiriolabs_connection)] == [png(9)]


# -- validation comes first ---------------------------------------------------------------------


def test_a_count_the_mode_refuses_fails_when_the_dag_is_parsed_with_files_as_stand_ins() -> None:
    with pytest.raises(EmpirioLabsRequestError, match="images: mode i2v takes exactly 1 image, got 2"):
        _operator(mode="i2v", images=["/data/a.png", "s3://b/c.png"], prompt="A horse")
    with pytest.raises(EmpirioLabsRequestError, match="character3"):
        _operator(mode="r2v", images=["/data/a.png", URL], prompt="character3 waves")


def test_a_rendered_list_that_breaks_a_rule_uploads_nothing(empiriolabs_connection: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    files = []
    for n in range(10):
        path = tmp_path / f"{n}.png"
        path.write_bytes(png(n))
        files.append(str(path))
    operator = _operator(mode="r2v", images="{{ params.images }}", prompt="A crowd of riders")
    operator.images = files  # as rendering would leave it

    with pytest.raises(AirflowFailException, match="1 to 9 images, got 10"):
        operator.execute(make_context())
    assert sim.stats()["uploads"] == 0
    assert sim.stats()["posts"] == 0


def test_a_bad_third_image_fails_before_the_first_upload(empiriolabs_connection: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    good = [tmp_path / "a.png", tmp_path / "b.png"]
    for n, path in enumerate(good):
        path.write_bytes(png(n))
    page = tmp_path / "c.png"
    page.write_bytes(b"<html>AccessDenied</html>")

    with pytest.raises(AirflowFailException, match="not a PNG, JPEG"):
        _operator(mode="r2v", images=[*map(str, good), str(page)], prompt="Three riders").execute(make_context())
    assert sim.stats()["uploads"] == 0
    assert sim.stats()["posts"] == 0


def test_a_missing_file_fails_the_try_without_uploading_or_submitting(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _operator(mode="i2v", images=[str(tmp_path / "nope.png")], prompt="A horse").execute(make_context())
    assert empiriolabs_connection.stats()["uploads"] == 0
    assert empiriolabs_connection.stats()["posts"] == 0


def test_the_api_refusing_an_upload_fails_the_task_for_good(empiriolabs_connection: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    sim.configure(upload_max_bytes=100)  # the API's limit is lower than ours
    image = tmp_path / "still.png"
    image.write_bytes(png(size=500))

    with pytest.raises(AirflowFailException, match="too large"):
        _operator(mode="i2v", images=[str(image)], prompt="A horse").execute(make_context())
    assert sim.stats()["posts"] == 0


# -- once per try, only on submission ------------------------------------------------------------


def test_a_retry_that_reattaches_to_its_job_uploads_nothing(empiriolabs_connection: Any, tmp_path: Path) -> None:
    sim = empiriolabs_connection
    image = tmp_path / "still.png"
    image.write_bytes(png(4))
    job_id = submit_job(prompt="A horse", mode="i2v", images=[URL])
    wait_until_terminal(job_id)

    summary = _operator(mode="i2v", images=[str(image)], prompt="A horse").execute(make_context(**{STORE_KEY: job_id}))

    assert summary["job_id"] == job_id
    assert sim.stats()["uploads"] == 0
    assert sim.stats()["posts"] == 1  # the earlier try's


def test_each_submission_uploads_once_even_when_the_upload_is_retried(
    empiriolabs_connection: Any, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    image = tmp_path / "still.png"
    image.write_bytes(png(5))
    sim.configure(
        fail_next_requests=[{"match": "any", "status": 503, "retry_after": 0}]
    )  # the upload is the first call

    _operator(mode="i2v", images=[str(image)], prompt="A horse").execute(make_context())

    uploads = _uploads(sim)
    assert len(uploads) == 1  # the 503 stored nothing; the retry sent the whole file again
    assert uploads[0].data == png(5)
    assert sim.stats()["posts"] == 1


def test_uploads_are_logged_by_location_without_the_api_key(empiriolabs_connection: Any, tmp_path: Path) -> None:
    image = tmp_path / "still.png"
    image.write_bytes(png(6))
    key = os.environ["AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"].split('"password": "')[1].split('"')[0]

    with capture_logs() as logs:
        _operator(mode="i2v", images=[str(image)], prompt="A horse").execute(make_context())

    text = repr(logs)
    assert "Uploaded reference image 1 of 1" in text
    assert str(image) in text and "bunny://uploads/" in text
    assert key and key not in text
