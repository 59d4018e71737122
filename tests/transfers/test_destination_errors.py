"""
An unusable destination is found before the first byte is downloaded, and said in words that fix it.

Before, a bad local path failed with a raw ``FileNotFoundError: ... '/proc/videos'``, a missing
``aws_default`` connection with boto's ``EndpointConnectionError`` (after "switching to empty"),
a missing bucket with s3fs's error once the upload began: after the output had been fetched.
Each case here runs against the real thing (the local disk, moto's S3 server, a closed port as
an S3 endpoint) and checks the message (which connection, which destination, how to fix) and
that the simulator never served the output URL.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_empiriolabs.exceptions import EmpirioLabsTransferError
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator
from tests.transfers.test_empiriolabs_to_object_storage import finished_job, outlet_events

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
    from tests.emulators.fixtures import Emulator


@pytest.fixture
def sim(empiriolabs_connection: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    empiriolabs_connection.configure(render_base_seconds=0, render_seconds_per_video_second=0)
    return empiriolabs_connection


def _copy(sim: EmpirioLabsSimulator, destination: str, dest_conn_id: str | None = None) -> EmpirioLabsTransferError:
    job_id, urls = finished_job(sim)
    op = EmpirioLabsToObjectStorageOperator(
        task_id="store", output_urls={"job_id": job_id, "output_urls": urls}, destination=destination,
        dest_conn_id=dest_conn_id, max_attempts=1,
    )  # fmt: skip
    with pytest.raises(EmpirioLabsTransferError) as info:
        op.execute({"outlet_events": outlet_events()})  # type: ignore[arg-type]
    assert sim.stats().get("downloads", 0) == 0, "the output was fetched before the destination was checked"
    return info.value


def test_a_local_path_that_cannot_exist(sim: EmpirioLabsSimulator) -> None:
    error = _copy(sim, "file:///proc/videos/")

    message = str(error)
    assert "file:///proc/videos/" in message
    assert "cannot be created" in message
    assert "destination" in message


def test_a_local_path_under_a_file(sim: EmpirioLabsSimulator, tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("x")

    error = _copy(sim, f"file://{tmp_path}/not-a-folder/videos/")

    assert f"file://{tmp_path}/not-a-folder/videos/" in str(error)
    assert not (tmp_path / "not-a-folder").is_dir()


def test_a_missing_bucket(sim: EmpirioLabsSimulator, s3_emulator: Emulator) -> None:
    error = _copy(sim, "s3://no-such-bucket-empiriolabs/videos/", s3_emulator.conn_id)

    message = str(error)
    assert "s3://no-such-bucket-empiriolabs/videos/" in message
    assert repr(s3_emulator.conn_id) in message
    assert "bucket 'no-such-bucket-empiriolabs' does not exist" in message
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_emulator.endpoint, region_name="us-east-1")
    assert "no-such-bucket-empiriolabs" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_a_missing_storage_connection(sim: EmpirioLabsSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS provider falls back to the default credentials and endpoint; nothing answers there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for var, value in {
        "AWS_ENDPOINT_URL": nowhere,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT", raising=False)

    error = _copy(sim, "s3://videos-bucket/out/", "aws_default")

    message = str(error)
    assert "s3://videos-bucket/out/" in message
    assert "'aws_default' is not defined" in message
    assert "AIRFLOW_CONN_AWS_DEFAULT" in message  # how to add it
    assert "cannot be reached" in message


def test_a_usable_destination_still_copies(sim: EmpirioLabsSimulator, tmp_path: Path) -> None:
    job_id, urls = finished_job(sim)
    op = EmpirioLabsToObjectStorageOperator(
        task_id="store", output_urls={"job_id": job_id, "output_urls": urls},
        destination=f"file://{tmp_path}/new/folder/",
    )  # fmt: skip

    [uri] = op.execute({"outlet_events": outlet_events()})  # type: ignore[arg-type]

    assert uri == f"file://{tmp_path}/new/folder/{job_id}/0.mp4"
    assert sim.stats()["downloads"] == 1
