"""EmpirioLabsToObjectStorageOperator against the simulator and real storage emulators.

Every storage here is real: moto's S3 server, fake-gcs-server, Azurite and the local disk
(``tests/emulators/fixtures.py``). Outputs are multi-MB and checked byte for byte (SHA-256
against what the simulator serves).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsDestinationConflictError,
    EmpirioLabsDownloadError,
    EmpirioLabsOutputExpiredError,
    EmpirioLabsOutputTooLargeError,
    EmpirioLabsUnexpectedContentTypeError,
    EmpirioLabsUnsafeUrlError,
)
from airflow_provider_empiriolabs.redaction import redact_url
from airflow_provider_empiriolabs.sealing import SEALED_KEY, seal_summary, unseal
from airflow_provider_empiriolabs.transfers._commit import TEMP_SUFFIX
from airflow_provider_empiriolabs.transfers._lineage import lineage_dataset
from airflow_provider_empiriolabs.transfers._sources import parse_output_urls
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator
    from tests.emulators.fixtures import Emulator

REPO = Path(__file__).resolve().parents[2]
SIZE = 6 * 1024 * 1024 + 4321  # multi-MB, and not a multiple of any chunk or block size
MiB = 1024 * 1024
ROOTS = ["file_root", "s3_root", "gcs_root", "azure_root"]


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture
def sim(empiriolabs_connection: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    """The simulator (connection set), rendering instantly, serving a multi-MB output."""
    empiriolabs_connection.configure(render_base_seconds=0, render_seconds_per_video_second=0, output_size_bytes=SIZE)
    return empiriolabs_connection


def finished_job(sim: EmpirioLabsSimulator) -> tuple[str, list[str]]:
    """Submit a job through the hook and wait for it: its id and output URLs."""
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import VideoRequest

    hook = EmpirioLabsHook()
    job_id = hook.submit_video(VideoRequest.build(prompt="a horse galloping on a beach"))
    deadline = time.monotonic() + 30
    while True:
        job = hook.get_job(job_id)
        if job.status.is_terminal():
            break
        assert time.monotonic() < deadline, f"job {job_id} did not finish"
        time.sleep(0.05)
    assert job.status.is_success(), job
    return job_id, list(job.output_urls)


def dest_url(root: ObjectStoragePath, sub: str = "videos") -> str:
    """``destination`` for the operator: a plain URL (the conn id goes in ``dest_conn_id``)."""
    if root.protocol in ("file", "local"):
        return f"file://{root.path.rstrip('/')}/{sub}/"
    return f"{root.protocol}://{root.bucket}/{sub}/"


def all_objects(root: ObjectStoragePath) -> list[str]:
    """Every object under the root, relative names, temporary ones included."""
    fs = root.fs
    fs.invalidate_cache()
    base = root.path.rstrip("/")
    return sorted(p[len(base) :].lstrip("/") for p in fs.find(base))


def s3_uploads_in_progress(emulator: Emulator, bucket: str) -> list[tuple[str, int]]:
    """Multipart uploads started and neither completed nor aborted: (key, parts uploaded)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=emulator.endpoint, region_name="us-east-1")
    found = []
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        parts = s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        found.append((upload["Key"], len(parts.get("Parts", []))))
    return found


def azure_uncommitted_blocks(emulator: Emulator, root: ObjectStoragePath, key: str) -> int:
    """Blocks staged on a blob and not committed (Azure drops them within a week if nobody does)."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobServiceClient

    from tests.emulators.fixtures import azurite_connection_string

    service = BlobServiceClient.from_connection_string(azurite_connection_string(emulator.endpoint))
    try:
        _, uncommitted = service.get_blob_client(root.bucket, key).get_block_list("uncommitted")
    except ResourceNotFoundError:
        return 0
    return len(uncommitted)


def sha256_of(path: ObjectStoragePath) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def operator(root: ObjectStoragePath, **kwargs: Any) -> EmpirioLabsToObjectStorageOperator:
    kwargs.setdefault("destination", dest_url(root))
    kwargs.setdefault("dest_conn_id", root.conn_id)
    kwargs.setdefault("retry_backoff_seconds", 0.01)
    return EmpirioLabsToObjectStorageOperator(task_id="copy_videos", **kwargs)


def outlet_events() -> Any:
    """The real accessor the task runner puts in ``context["outlet_events"]``."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return OutletEventAccessors()


# ------------------------------------------------------------------------- the happy path


def test_video_lands_byte_identical(sim: EmpirioLabsSimulator, storage_root: ObjectStoragePath) -> None:
    from airflow.sdk import AssetAlias

    job_id, _ = finished_job(sim)
    op = operator(storage_root, job_id=job_id)
    events = outlet_events()

    uris = op.execute({"outlet_events": events})  # type: ignore[arg-type]

    final = storage_root / "videos" / job_id / "0.mp4"
    assert uris == [f"{dest_url(storage_root)}{job_id}/0.mp4"]
    assert final.size() == SIZE
    assert sha256_of(final) == sim.expected_video_sha256()
    assert all_objects(storage_root) == [f"videos/{job_id}/0.mp4"]  # no temporary object left
    [result] = op.results
    assert (result.size, result.sha256, result.skipped, result.attempts) == (
        SIZE,
        sim.expected_video_sha256(),
        False,
        1,
    )
    [event] = events[AssetAlias("empiriolabs_videos")].asset_alias_events
    assert event.dest_asset_key.uri == uris[0]
    assert event.extra["sha256"] == result.sha256
    assert event.extra["job_id"] == job_id


def test_output_urls_from_the_generate_summary(sim: EmpirioLabsSimulator, file_root: ObjectStoragePath) -> None:
    job_id, urls = finished_job(sim)
    # What Jinja renders for "{{ ti.xcom_pull(task_ids='generate') }}": the summary's repr.
    summary = repr({"job_id": job_id, "status": "completed", "output_urls": urls, "cost_usd": 0.7})
    polls = sim.stats()["polls_total"]
    op = operator(file_root, output_urls=summary, object_name="{job_id}-{stem}.{ext}")

    [uri] = op.execute({})  # type: ignore[arg-type]

    assert uri.endswith(f"/videos/{job_id}-0.mp4")
    assert sha256_of(file_root / "videos" / f"{job_id}-0.mp4") == sim.expected_video_sha256()
    assert sim.stats()["polls_total"] == polls  # the URLs were given: the job was not fetched


# ---------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("backend_root", ROOTS)
def test_truncated_download_is_resumed_and_verified(
    sim: EmpirioLabsSimulator, backend_root: str, request: pytest.FixtureRequest
) -> None:
    root: ObjectStoragePath = request.getfixturevalue(backend_root)
    job_id, _ = finished_job(sim)
    sim.configure(fail_next_requests=[{"match": "download", "kind": "truncate"}])

    op = operator(root, job_id=job_id)
    op.execute({})  # type: ignore[arg-type]

    final = root / "videos" / job_id / "0.mp4"
    assert sha256_of(final) == sim.expected_video_sha256()
    assert op.results[0].attempts == 2
    stats = sim.stats()
    assert stats["faults_injected"] == 1
    assert stats["responses_by_status"].get("206") == 1  # resumed with Range, not restarted
    assert all_objects(root) == [f"videos/{job_id}/0.mp4"]


@pytest.mark.parametrize("backend_root", ROOTS)
def test_download_that_keeps_breaking_leaves_nothing_at_the_final_name(
    sim: EmpirioLabsSimulator, backend_root: str, request: pytest.FixtureRequest
) -> None:
    root: ObjectStoragePath = request.getfixturevalue(backend_root)
    sim.configure(output_size_bytes=2 * SIZE)  # half of it (where the cut falls) is over one 5 MiB block
    job_id, _ = finished_job(sim)
    sim.configure(fail_next_requests=[{"match": "download", "kind": "truncate", "count": 3}])

    op = operator(root, job_id=job_id, max_attempts=3, write_block_size=5 * MiB)
    with pytest.raises(EmpirioLabsDownloadError, match="after 3 attempt"):
        op.execute({})  # type: ignore[arg-type]

    # Blocks were uploaded, to a temporary object (file://) or to an upload at the final name
    # that only a commit would have made visible; it was discarded on the way out.
    assert not (root / "videos" / job_id / "0.mp4").exists()
    assert all_objects(root) == []
    assert sim.stats()["downloads_completed"] == 0
    if root.protocol == "s3":  # the multipart upload was aborted, not left to be billed
        assert s3_uploads_in_progress(request.getfixturevalue("s3_emulator"), root.bucket) == []


def test_expired_url_is_refreshed_from_the_job(sim: EmpirioLabsSimulator, s3_root: ObjectStoragePath) -> None:
    job_id, old_urls = finished_job(sim)
    sim.expire_job(job_id, retention=False, urls=True)  # the URLs die, the job is still retained
    polls_before = sim.stats()["polls_total"]

    op = operator(s3_root, job_id=job_id, output_urls=old_urls)
    op.execute({})  # type: ignore[arg-type]

    assert sha256_of(s3_root / "videos" / job_id / "0.mp4") == sim.expected_video_sha256()
    stats = sim.stats()
    assert stats["responses_by_status"].get("403") == 1
    assert stats["polls_total"] == polls_before + 1  # one re-fetch of the job, for a fresh URL
    assert op.results[0].attempts == 2


def test_expired_url_without_job_id_is_a_clear_error(sim: EmpirioLabsSimulator, file_root: ObjectStoragePath) -> None:
    job_id, old_urls = finished_job(sim)
    sim.expire_job(job_id, retention=False, urls=True)

    op = operator(file_root, output_urls=old_urls, object_name="{index}.mp4")
    with pytest.raises(EmpirioLabsOutputExpiredError, match=r"403.*no job_id"):
        op.execute({})  # type: ignore[arg-type]
    assert all_objects(file_root) == []


def test_expired_url_of_a_job_past_retention_is_a_clear_error(
    sim: EmpirioLabsSimulator, file_root: ObjectStoragePath
) -> None:
    job_id, old_urls = finished_job(sim)
    sim.expire_job(job_id, retention=True, urls=True)

    op = operator(file_root, job_id=job_id, output_urls=old_urls)
    with pytest.raises(EmpirioLabsOutputExpiredError, match="retention"):
        op.execute({})  # type: ignore[arg-type]
    assert all_objects(file_root) == []


@pytest.mark.parametrize("backend_root", ["file_root", "s3_root"])
def test_oversize_output_is_refused_and_nothing_written(
    sim: EmpirioLabsSimulator, backend_root: str, request: pytest.FixtureRequest
) -> None:
    root: ObjectStoragePath = request.getfixturevalue(backend_root)
    job_id, _ = finished_job(sim)

    op = operator(root, job_id=job_id, max_size_bytes=SIZE - 1)
    with pytest.raises(EmpirioLabsOutputTooLargeError, match=f"{SIZE:,} bytes, over max_size_bytes"):
        op.execute({})  # type: ignore[arg-type]
    assert all_objects(root) == []


def test_non_video_content_type_is_refused_and_nothing_written(
    sim: EmpirioLabsSimulator, s3_root: ObjectStoragePath
) -> None:
    sim.configure(output_content_type="text/html")
    job_id, _ = finished_job(sim)

    op = operator(s3_root, job_id=job_id)
    with pytest.raises(EmpirioLabsUnexpectedContentTypeError, match="'text/html'"):
        op.execute({})  # type: ignore[arg-type]
    assert all_objects(s3_root) == []


def test_octet_stream_is_accepted(sim: EmpirioLabsSimulator, file_root: ObjectStoragePath) -> None:
    sim.configure(output_content_type="application/octet-stream")
    job_id, _ = finished_job(sim)
    operator(file_root, job_id=job_id).execute({})  # type: ignore[arg-type]
    assert sha256_of(file_root / "videos" / job_id / "0.mp4") == sim.expected_video_sha256()


# ------------------------------------------------------------------------ if_exists policies


@pytest.fixture
def copied_once(sim: EmpirioLabsSimulator, s3_root: ObjectStoragePath) -> tuple[str, ObjectStoragePath]:
    job_id, _ = finished_job(sim)
    operator(s3_root, job_id=job_id).execute({})  # type: ignore[arg-type]
    return job_id, s3_root / "videos" / job_id / "0.mp4"


def test_skip_identical_keeps_an_identical_object(
    sim: EmpirioLabsSimulator, s3_root: ObjectStoragePath, copied_once: tuple[str, ObjectStoragePath]
) -> None:
    job_id, final = copied_once
    op = operator(s3_root, job_id=job_id)
    assert op.execute({}) == [f"s3://{s3_root.bucket}/videos/{job_id}/0.mp4"]  # type: ignore[arg-type]
    assert op.results[0].skipped
    assert sha256_of(final) == sim.expected_video_sha256()
    assert all_objects(s3_root) == [f"videos/{job_id}/0.mp4"]


def _overwrite_with_other_bytes(final: ObjectStoragePath, size: int = SIZE) -> bytes:
    other = os.urandom(size)
    with final.open("wb") as f:
        f.write(other)
    return other


@pytest.mark.parametrize("size", [SIZE, 1234], ids=["same-size", "other-size"])
def test_skip_identical_fails_on_a_different_object(
    sim: EmpirioLabsSimulator,
    s3_root: ObjectStoragePath,
    copied_once: tuple[str, ObjectStoragePath],
    size: int,
) -> None:
    job_id, final = copied_once
    other = _overwrite_with_other_bytes(final, size)

    with pytest.raises(EmpirioLabsDestinationConflictError, match="already exists with"):
        operator(s3_root, job_id=job_id).execute({})  # type: ignore[arg-type]
    assert final.read_bytes() == other  # untouched
    assert all_objects(s3_root) == [f"videos/{job_id}/0.mp4"]


def test_fail_refuses_even_an_identical_object(
    sim: EmpirioLabsSimulator, s3_root: ObjectStoragePath, copied_once: tuple[str, ObjectStoragePath]
) -> None:
    job_id, final = copied_once
    downloads = sim.stats()["downloads"]
    with pytest.raises(EmpirioLabsDestinationConflictError, match="if_exists='fail'"):
        operator(s3_root, job_id=job_id, if_exists="fail").execute({})  # type: ignore[arg-type]
    assert sim.stats()["downloads"] == downloads  # refused before downloading anything
    assert sha256_of(final) == sim.expected_video_sha256()


@pytest.mark.parametrize("backend_root", ROOTS)
def test_replace_overwrites_a_different_object(
    sim: EmpirioLabsSimulator, backend_root: str, request: pytest.FixtureRequest
) -> None:
    root: ObjectStoragePath = request.getfixturevalue(backend_root)
    job_id, _ = finished_job(sim)
    final = root / "videos" / job_id / "0.mp4"
    final.parent.mkdir(parents=True, exist_ok=True)
    _overwrite_with_other_bytes(final, 999)

    op = operator(root, job_id=job_id, if_exists="replace")
    op.execute({})  # type: ignore[arg-type]
    assert sha256_of(final) == sim.expected_video_sha256()
    assert all_objects(root) == [f"videos/{job_id}/0.mp4"]


def _look_midway(monkeypatch: pytest.MonkeyPatch, after_bytes: int, look: Callable[[], None]) -> None:
    """Call ``look`` once per response, after ``after_bytes`` went to storage (writes are synchronous)."""
    import httpx

    original = httpx.Response.iter_raw

    def iter_raw(self: httpx.Response, chunk_size: int | None = None) -> Iterator[bytes]:
        sent = 0
        for chunk in original(self, chunk_size):
            yield chunk
            if sent < after_bytes <= sent + len(chunk):  # once per response
                look()
            sent += len(chunk)

    monkeypatch.setattr(httpx.Response, "iter_raw", iter_raw)


@pytest.mark.parametrize("backend_root", ROOTS)
def test_replace_keeps_the_old_object_intact_until_the_new_one_commits(
    sim: EmpirioLabsSimulator, backend_root: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    root: ObjectStoragePath = request.getfixturevalue(backend_root)
    sim.configure(output_size_bytes=2 * SIZE)  # cut in half, the failing run is past one block too
    job_id, _ = finished_job(sim)
    final = root / "videos" / job_id / "0.mp4"
    final.parent.mkdir(parents=True, exist_ok=True)
    old = _overwrite_with_other_bytes(final, 999)
    seen: list[tuple[bytes, list[str]]] = []

    def look() -> None:
        root.fs.invalidate_cache()
        seen.append((final.read_bytes(), all_objects(root)))

    # 5.5 MiB in: one 5 MiB block is already uploaded (an S3 part, a GCS chunk, an Azure block).
    _look_midway(monkeypatch, 5 * MiB + MiB // 2, look)
    kwargs: dict[str, Any] = {"job_id": job_id, "if_exists": "replace", "write_block_size": 5 * MiB}

    # A first run whose download breaks for good: the old object must survive it whole.
    sim.configure(fail_next_requests=[{"match": "download", "kind": "truncate"}])
    with pytest.raises(EmpirioLabsDownloadError):
        operator(root, max_attempts=1, **kwargs).execute({})  # type: ignore[arg-type]
    assert final.read_bytes() == old
    assert all_objects(root) == [f"videos/{job_id}/0.mp4"]

    # Then a run that succeeds: old bytes readable mid-copy, the new ones only after the commit.
    operator(root, **kwargs).execute({})  # type: ignore[arg-type]
    assert sha256_of(final) == sim.expected_video_sha256()
    assert all_objects(root) == [f"videos/{job_id}/0.mp4"]
    assert len(seen) == 2  # one look per run
    for midway_bytes, midway_names in seen:
        assert midway_bytes == old
        if root.protocol in ("file", "local"):  # the temp-name path: a temporary object beside it
            [temp] = [n for n in midway_names if n != f"videos/{job_id}/0.mp4"]
            assert temp.startswith(f"videos/{job_id}/.0.mp4.")
            assert temp.endswith(TEMP_SUFFIX)
        else:  # the uncommitted upload is the temporary object: nothing else is listed
            assert midway_names == [f"videos/{job_id}/0.mp4"]


# ------------------------------------------------------------------- a worker killed mid-copy

KILL_SIZE = 40 * MiB + 77
HOLD = 13 * MiB  # with 5 MiB blocks: two blocks uploaded, the rest buffered


def _upload_in_progress(backend: str, root: ObjectStoragePath, emulator: Emulator | None, key: str) -> bool:
    """Evidence that the held worker's bytes are in the store, uncommitted, where each store keeps them."""
    if backend == "file":  # a temporary file beside the final name
        temps = list(Path(root.path, key).parent.glob(f".0.mp4.*{TEMP_SUFFIX}"))
        return bool(temps) and temps[0].stat().st_size > 0
    assert emulator is not None
    if backend == "s3":  # a multipart upload to the final name, with parts
        return any(k == key and parts for k, parts in s3_uploads_in_progress(emulator, root.bucket))
    if backend == "abfs":  # blocks staged on the final name, not committed
        return azure_uncommitted_blocks(emulator, root, key) > 0
    return True  # gs: fake-gcs-server cannot list resumable uploads; the worker's log says enough


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["file", "s3", "gs", "abfs"])
def test_worker_killed_mid_copy_then_rerun_gives_one_complete_object(
    sim: EmpirioLabsSimulator, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    sim.configure(output_size_bytes=KILL_SIZE)
    emulator: Emulator | None = None
    if backend == "file":
        root: ObjectStoragePath = request.getfixturevalue("file_root")
    else:
        emulator = request.getfixturevalue(
            {"s3": "s3_emulator", "gs": "gcs_emulator", "abfs": "azure_emulator"}[backend]
        )
        root = emulator.new_root()
    job_id, _ = finished_job(sim)
    key = f"videos/{job_id}/0.mp4"
    final = root / key
    kwargs: dict[str, Any] = {
        "job_id": job_id,
        "destination": dest_url(root),
        "dest_conn_id": root.conn_id,
        "write_block_size": 5 * MiB,
    }
    worker_args = {**kwargs, "pause_after_bytes": HOLD}
    if backend == "gs":  # no Google provider: the worker attaches the emulator's gcsfs, as the fixture does
        worker_args["attach_gcs_endpoint"] = emulator.endpoint if emulator else None

    worker_log = tmp_path / "worker.log"
    with worker_log.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.transfers.copy_worker", json.dumps(worker_args)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while "holding after" not in worker_log.read_text():
            assert worker.poll() is None, worker_log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker never got going:\n" + worker_log.read_text()[-3000:]
            time.sleep(0.05)
        assert _upload_in_progress(backend, root, emulator, key), worker_log.read_text()[-3000:]
        assert not final.exists(), "the final name must not exist while the copy is in progress"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    assert not final.exists()
    if backend != "file":  # the killed upload is not listed, nothing is at the final name
        assert all_objects(root) == []

    # The task runs again (a retry, maybe on another worker).
    op = operator(root, **kwargs)
    op.execute({})  # type: ignore[arg-type]

    assert final.size() == KILL_SIZE
    assert sha256_of(final) == sim.expected_video_sha256()
    assert all_objects(root) == [key]  # one object; a stale temporary one is gone
    if backend == "s3":  # and the killed worker's multipart upload was aborted by the rerun
        assert s3_uploads_in_progress(emulator, root.bucket) == []  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ URL safety


def test_plain_http_output_is_refused_when_the_api_is_https(
    sim: EmpirioLabsSimulator, file_root: ObjectStoragePath, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, urls = finished_job(sim)
    conn = json.loads(sim.connection_json())
    conn["host"] = "https://api.empiriolabs.ai"
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", json.dumps(conn))
    downloads = sim.stats()["downloads"]

    op = operator(file_root, job_id=job_id, output_urls=urls)
    with pytest.raises(EmpirioLabsUnsafeUrlError, match="plain-http"):
        op.execute({})  # type: ignore[arg-type]
    assert sim.stats()["downloads"] == downloads
    assert all_objects(file_root) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/v.mp4", "/v1/outputs/x/0.mp4"])
def test_non_http_urls_are_refused(sim: EmpirioLabsSimulator, file_root: ObjectStoragePath, url: str) -> None:
    op = operator(file_root, output_urls=[url], object_name="{index}.mp4")
    with pytest.raises(EmpirioLabsUnsafeUrlError, match="only http"):
        op.execute({})  # type: ignore[arg-type]
    assert all_objects(file_root) == []


def test_logs_never_show_a_signed_url_or_the_api_key(
    sim: EmpirioLabsSimulator,
    file_root: ObjectStoragePath,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    job_id, urls = finished_job(sim)
    sim.expire_job(job_id, retention=False, urls=True)
    sim.configure(fail_next_requests=[{"match": "download", "kind": "truncate"}])

    op = operator(file_root, job_id=job_id, output_urls=urls, progress_interval_seconds=0)
    op.execute({})  # type: ignore[arg-type]

    out, err = capfd.readouterr()
    text = "\n".join([caplog.text, out, err])
    assert "Copied" in text  # the logs were captured at all
    assert "MB/s" in text
    assert "signature=" not in text
    assert "expires=" not in text
    assert sim.api_key not in text


# ------------------------------------------------------------------ parse time, lineage, units


def test_importing_the_module_loads_no_storage_library() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage\n"
        "heavy = ['s3fs', 'adlfs', 'gcsfs', 'boto3', 'botocore', 'aiobotocore', 'azure.storage.blob',\n"
        "         'airflow.providers.amazon.aws.hooks.s3', 'airflow.providers.microsoft.azure.fs.adls']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_openlineage_datasets(sim: EmpirioLabsSimulator, s3_root: ObjectStoragePath) -> None:
    job_id, urls = finished_job(sim)
    op = operator(s3_root, job_id=job_id)
    op.execute({})  # type: ignore[arg-type]
    host = urls[0].split("/v1/", 1)[0]
    assert lineage_dataset(op.results[0].source) == (host, f"v1/outputs/{job_id}/0.mp4")
    assert lineage_dataset(op.results[0].uri) == (f"s3://{s3_root.bucket}", f"videos/{job_id}/0.mp4")
    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        assert op.get_openlineage_facets_on_complete(None) is None  # not a dependency: no lineage
    else:
        lineage = op.get_openlineage_facets_on_complete(None)
        assert lineage is not None
        assert [d.namespace for d in lineage.outputs] == [f"s3://{s3_root.bucket}"]


def test_redact_url() -> None:
    url = "https://user:pw@cdn.example.com:8443/v1/outputs/j/0.mp4?expires=1&signature=abc#frag"
    assert redact_url(url) == "https://cdn.example.com:8443/v1/outputs/j/0.mp4"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["https://a/0.mp4", "https://a/1.mp4"], (None, ["https://a/0.mp4", "https://a/1.mp4"])),
        ("https://a/0.mp4", (None, ["https://a/0.mp4"])),
        ("['https://a/0.mp4']", (None, ["https://a/0.mp4"])),
        ('["https://a/0.mp4"]', (None, ["https://a/0.mp4"])),
        ({"job_id": "job_1", "output_urls": ["https://a/0.mp4"]}, ("job_1", ["https://a/0.mp4"])),
        ("{'job_id': 'job_1', 'output_urls': ['https://a/0.mp4']}", ("job_1", ["https://a/0.mp4"])),
    ],
)
def test_output_urls_forms(value: Any, expected: tuple[str | None, list[str]]) -> None:
    assert parse_output_urls(value) == (*expected, None)


def test_a_sealed_summary_gives_its_sealed_urls_not_the_redacted_ones() -> None:
    summary = seal_summary({"job_id": "job_1", "output_urls": ["https://a/0.mp4?signature=0123456789abcdef"]}, "sk-k")

    job_id, urls, sealed = parse_output_urls(summary)

    assert (job_id, urls) == ("job_1", [])
    assert sealed is not None and unseal(sealed, "sk-k") == ["https://a/0.mp4?signature=0123456789abcdef"]
    assert "signature" not in json.dumps({k: v for k, v in summary.items() if k != SEALED_KEY})
    with pytest.raises(ValueError, match="another API key"):
        unseal(sealed, "sk-other")


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"job_id .* or output_urls"):
        EmpirioLabsToObjectStorageOperator(task_id="t", destination="file:///tmp/x/")
    with pytest.raises(ValueError, match="if_exists must be one of"):
        EmpirioLabsToObjectStorageOperator(
            task_id="t",
            destination="file:///tmp/x/",
            job_id="j",
            if_exists="overwrite",  # type: ignore[arg-type]
        )


def test_object_name_needing_a_job_id_without_one_is_a_clear_error(
    sim: EmpirioLabsSimulator, file_root: ObjectStoragePath
) -> None:
    op = operator(file_root, output_urls=["https://cdn.example.com/v/0.mp4"])
    with pytest.raises(ValueError, match=r"uses \{job_id\} \(no job_id is known"):
        op.execute({})  # type: ignore[arg-type]


@pytest.mark.parametrize("job_id", ["..", "job\n1", "a/b", "job_\u202e1"])
def test_a_job_id_that_would_name_objects_badly_is_refused_before_anything_is_fetched(job_id: str) -> None:
    op = EmpirioLabsToObjectStorageOperator(
        task_id="store",
        output_urls={"job_id": job_id, "output_urls": ["https://a/0.mp4"]},
        destination="file:///tmp/x/",
    )
    with pytest.raises(ValueError, match="job_id"):
        op._resolve_sources(hook=None)
