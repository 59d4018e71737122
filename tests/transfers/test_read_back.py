"""
The read-back checks of a commit: a storage that keeps a short object is caught, not trusted.

A storage can accept every byte and still keep fewer (a proxy that cuts a body, a rename that
copies part, a multipart upload completed with a part missing). The transfer reads back the size
of what it committed and compares it with the bytes it downloaded; "the object exists" or "it is
not empty" is not that check. These tests make the storage itself keep a truncated object (the
storage's own write, close or rename is patched; the provider's code is not) and expect the
transfer to fail, say so, and leave no short object at the final name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_empiriolabs.exceptions import EmpirioLabsTransferError
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator
from tests.support import submit_job, wait_until_terminal

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator

SIZE = 600_000  # above the sample video, below one write block: a single part on S3


@pytest.fixture
def finished_job(empiriolabs_connection: EmpirioLabsSimulator) -> str:
    empiriolabs_connection.configure(render_base_seconds=0, render_seconds_per_video_second=0, output_size_bytes=SIZE)
    job_id = submit_job()
    assert wait_until_terminal(job_id).status.is_success()
    return job_id


def _objects(root: ObjectStoragePath) -> list[str]:
    fs = root.fs
    fs.invalidate_cache()
    base = root.path.rstrip("/")
    return sorted(p[len(base) :].lstrip("/") for p in fs.find(base))


def _copy(root: ObjectStoragePath, job_id: str) -> None:
    destination = f"file://{root.path.rstrip('/')}/videos/" if root.protocol in ("file", "local") else None
    op = EmpirioLabsToObjectStorageOperator(
        task_id="copy_videos",
        job_id=job_id,
        destination=destination or f"{root.protocol}://{root.bucket}/videos/",
        dest_conn_id=root.conn_id,
        retry_backoff_seconds=0.01,
        max_attempts=1,
    )
    op.execute({})  # type: ignore[arg-type]


def _truncate(fs: Any, path: str) -> None:
    """Keep the first half of the object at ``path`` (on the storage, as the storage would)."""
    if hasattr(fs, "local_file") and fs.local_file:
        os.truncate(path, SIZE // 2)
        return
    data = fs.cat_file(path)
    fs.pipe_file(path, data[: len(data) // 2])


def keep_short_after_close(monkeypatch: pytest.MonkeyPatch, fs: Any) -> None:
    """The storage keeps half of every object written, once the writer closes (commits) it."""
    original = type(fs).open

    def open_(self: Any, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        f = original(self, path, mode, *args, **kwargs)
        if "w" not in mode:
            return f
        close = f.close

        def close_then_truncate() -> None:
            was_closed = f.closed
            close()
            if not was_closed:
                _truncate(self, self._strip_protocol(path))

        f.close = close_then_truncate
        return f

    monkeypatch.setattr(type(fs), "open", open_)


def keep_short_after_move(monkeypatch: pytest.MonkeyPatch, fs: Any) -> None:
    """The storage's rename keeps half of the object it moves."""
    original: Callable[..., Any] = type(fs).mv

    def mv(self: Any, path1: str, path2: str, *args: Any, **kwargs: Any) -> Any:
        result = original(self, path1, path2, *args, **kwargs)
        _truncate(self, self._strip_protocol(path2))
        return result

    monkeypatch.setattr(type(fs), "mv", mv)


@pytest.mark.parametrize(
    ("backend_root", "storage_fault", "what"),
    [
        # file://: written to a temporary object, read back, then renamed to the final name.
        pytest.param("file_root", keep_short_after_close, "of the temporary object", id="file-temp-kept-short"),
        pytest.param("file_root", keep_short_after_move, "removed it", id="file-rename-kept-short"),
        # s3://: the multipart upload commits at the final name on close; only the last read-back sees it.
        pytest.param("s3_root", keep_short_after_close, "removed it", id="s3-upload-kept-short"),
    ],
)
def test_a_storage_that_keeps_a_short_object_fails_the_transfer(
    finished_job: str,
    backend_root: str,
    storage_fault: Callable[[pytest.MonkeyPatch, Any], None],
    what: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root: ObjectStoragePath = request.getfixturevalue(backend_root)
    storage_fault(monkeypatch, root.fs)

    with pytest.raises(EmpirioLabsTransferError) as caught:
        _copy(root, finished_job)

    message = str(caught.value.__cause__ if caught.value.__cause__ is not None else caught.value)
    assert "read-back size" in message, message
    assert what in message, message
    assert f"{SIZE // 2:,} bytes" in message and f"{SIZE:,} were" in message, message
    assert _objects(root) == []  # neither the short object nor a temporary one is left


def keep_short_while_writing(monkeypatch: pytest.MonkeyPatch, fs: Any) -> None:
    """The storage's writer takes half of each block it is handed (and says so by its position)."""
    original = type(fs).open

    def open_(self: Any, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        f = original(self, path, mode, *args, **kwargs)
        if "w" in mode:
            write = f.write
            f.write = lambda data: write(bytes(data)[: max(1, len(data) // 2)])
        return f

    monkeypatch.setattr(type(fs), "open", open_)


@pytest.mark.parametrize("backend_root", ["file_root", "s3_root"])
def test_a_writer_that_takes_fewer_bytes_fails_before_the_commit_and_the_old_object_stays(
    finished_job: str, backend_root: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    root: ObjectStoragePath = request.getfixturevalue(backend_root)
    final = root / "videos" / finished_job / "0.mp4"
    final.parent.mkdir(parents=True, exist_ok=True)
    final.write_bytes(b"the old, good object")
    keep_short_while_writing(monkeypatch, root.fs)

    op = EmpirioLabsToObjectStorageOperator(
        task_id="copy_videos",
        job_id=finished_job,
        destination=f"file://{root.path.rstrip('/')}/videos/"
        if root.protocol in ("file", "local")
        else f"{root.protocol}://{root.bucket}/videos/",
        dest_conn_id=root.conn_id,
        if_exists="replace",
        retry_backoff_seconds=0.01,
        max_attempts=1,
    )
    with pytest.raises(EmpirioLabsTransferError) as caught:
        op.execute({})  # type: ignore[arg-type]

    message = str(caught.value.__cause__ if caught.value.__cause__ is not None else caught.value)
    assert "took" in message and f"{SIZE:,} were downloaded" in message, message
    monkeypatch.undo()
    root.fs.invalidate_cache()
    assert final.read_bytes() == b"the old, good object"  # nothing was committed over it
    assert _objects(root) == [f"videos/{finished_job}/0.mp4"]
