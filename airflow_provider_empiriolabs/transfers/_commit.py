"""
How an object appears at its final name whole, or not at all: the storage commit strategies.

This is the one module that knows how s3fs, gcsfs and adlfs files behave; the rest of the transfer
sees a :class:`PendingObject` that is opened, written, then either committed or discarded. Where
the bytes go before the commit depends on the store (the guarantee is what matters, not the
literal "temporary name"):

* **Object stores whose uploads become visible only when committed write straight to the final
  name**: S3 (s3fs: a multipart upload, completed in ``close()``; a single PUT at ``close()``
  below one block), GCS (gcsfs: a resumable upload, finalised by the last chunk ``close()``
  sends), Azure Blob (adlfs: staged blocks, committed by Put Block List in ``close()``). There
  the uncommitted upload *is* the temporary object: nobody can read it, and an existing object at
  that name stays intact, readable, until the new one commits. Every failure path *discards* the
  upload (aborts the S3 multipart upload, cancels the GCS resumable session; Azure drops staged
  blocks nobody commits within a week) and never closes it, since closing commits; a killed
  process commits nothing. This saves the server-side copy a rename costs on an object store
  (CopyObject + DeleteObject on S3: a second pass over every byte). A rerun aborts S3 multipart
  uploads that a killed run left on the final name (their parts are billed while they exist).
* **Everything else writes a temporary object then renames it**: ``file://`` (a rename is atomic
  there, and ``open("wb")`` would create the final file at once), gcsfs's zonal buckets (it
  writes them as appendable objects, readable while being written), and any filesystem not
  known to commit on close. The temporary name is ``.<name>.<token>.partial`` beside the final
  object; the next run removes leftovers of a killed one (:func:`remove_leftovers`).

The ObjectStoragePath's own (connection-authenticated) filesystem is opened directly:
``ObjectStoragePath.open`` would also report every write to the hook-lineage collector, and the
operator reports the final objects itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.exceptions import EmpirioLabsTransferError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = [
    "TEMP_SUFFIX",
    "PendingObject",
    "check_destination",
    "delete_quietly",
    "existing_size",
    "remove_leftovers",
    "same_content",
    "storage_uri",
]

#: Marks temporary objects: ``.<final name>.<token>.partial`` beside the final object.
TEMP_SUFFIX = ".partial"

#: Filesystem packages whose ``open(path, "wb")`` sends nothing to the store.
_COMMIT_ON_CLOSE_PACKAGES = frozenset({"s3fs", "gcsfs", "adlfs"})
#: Their file classes (module, name) whose writes stay invisible until ``close()`` commits them,
#: as read in the installed sources: s3fs completes the multipart upload (or sends its one PUT) in
#: ``commit()``, called by the final flush of ``close()``; gcsfs finalises the resumable upload with
#: the last chunk sent by ``close()`` (or sends one simple upload); adlfs commits the staged blocks
#: with Put Block List in the final flush of ``close()``.
_COMMIT_ON_CLOSE_FILES = frozenset(
    {("s3fs.core", "S3File"), ("gcsfs.core", "GCSFile"), ("adlfs.spec", "AzureBlobFile")}
)


def storage_uri(path: ObjectStoragePath) -> str:
    """
    ``scheme://bucket/key`` of a path, without the connection id ``str(path)`` would embed.

    :param path: an object's path.
    """
    if path.protocol in ("file", "local", ""):
        return f"file://{path.path}"
    return f"{path.protocol}://{path.bucket}/{path.key}"


def existing_size(path: ObjectStoragePath) -> int | None:
    """
    The size of the object at ``path``, ``None`` when there is none.

    :param path: the final name, looked at before and after the download (``if_exists``).
    """
    try:
        if not path.exists():
            return None
        return int(path.size())
    except FileNotFoundError:
        return None


def same_content(
    path: ObjectStoragePath, size: int, new_size: int, new_sha: str, *, block_size: int, chunk_size: int
) -> bool:
    """
    Whether the object at ``path`` holds exactly the downloaded bytes (``skip_identical``).

    :param path: the existing object.
    :param size: its size, so that a different size is told without reading a byte.
    :param new_size: bytes downloaded.
    :param new_sha: their hex SHA-256.
    :param block_size: the storage file's block, so a large object costs few requests.
    :param chunk_size: bytes hashed at a time, which bounds memory as the download's reads do.
    """
    if size != new_size:
        return False
    hasher = hashlib.sha256()
    with path.fs.open(path.path, "rb", block_size=block_size) as existing:
        while chunk := existing.read(chunk_size):
            hasher.update(chunk)
    return hasher.hexdigest() == new_sha


def delete_quietly(path: ObjectStoragePath, log: Any) -> None:
    """
    Remove ``path`` if it exists; a failure is a warning, since the error being handled matters more.

    :param path: a temporary object, or a final one found wrong after its commit.
    :param log: where the warning goes.
    """
    try:
        if path.exists():
            path.unlink()
    except FileNotFoundError:
        pass
    except Exception:
        log.warning("Could not remove %s", storage_uri(path), exc_info=True)


def remove_leftovers(destination: ObjectStoragePath, log: Any) -> None:
    """
    Clean up after an earlier run that was killed mid-copy.

    Temporary objects beside the final name are deleted. On S3, a killed writer's multipart upload
    to the final name stays (invisible, but its parts are billed) until aborted: it is aborted here.
    A bucket lifecycle rule (``AbortIncompleteMultipartUpload``) is the backstop for uploads no
    rerun comes back for.

    :param destination: the final name about to be written.
    :param log: where what was removed is said.
    """
    prefix = f".{destination.name}."
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for stale in destination.parent.iterdir():
            if stale.name.startswith(prefix) and stale.name.endswith(TEMP_SUFFIX):
                log.info("Removing %s left by an interrupted copy", storage_uri(stale))
                delete_quietly(stale, log)
    fs = destination.fs
    if not hasattr(fs, "list_multipart_uploads"):
        return
    try:
        for upload in fs.list_multipart_uploads(destination.bucket):
            if upload.get("Key") == destination.key:
                log.info("Aborting an unfinished upload to %s left by an interrupted copy", storage_uri(destination))
                fs.abort_mpu(destination.bucket, destination.key, upload["UploadId"])
    except Exception:
        log.warning("Could not list or abort unfinished uploads to %s", storage_uri(destination), exc_info=True)


def check_destination(root: ObjectStoragePath, conn_id: str | None) -> None:
    """
    Before any output is fetched: can objects be written under ``root``? Raise, saying how to fix it.

    A local destination's folder is created (the copy would create it anyway) and must be
    writable; an object store's bucket (or container) must exist and be reachable with the
    connection. Nothing is written to an object store. A bucket the connection may write to but not
    look at (a 403 on the bucket itself) passes: least-privilege roles often grant only
    ``PutObject``, and the copy says what the store answers then.

    :param root: the destination folder (``destination`` as an ObjectStoragePath).
    :param conn_id: the destination's connection (``dest_conn_id``), named in the message.
    """
    where = storage_uri(root).rstrip("/") + "/"
    if root.protocol in ("file", "local", ""):
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise EmpirioLabsTransferError(
                f"destination {where}: the folder cannot be created ({type(error).__name__}: "
                f"{error.strerror or error}); give a destination on a disk the worker can write "
                "to, e.g. file:///data/videos/ (nothing was downloaded)"
            ) from None
        if not (root.is_dir() and os.access(root.path, os.W_OK | os.X_OK)):
            raise EmpirioLabsTransferError(
                f"destination {where}: the folder is not writable by the worker's user; give one it "
                "can write to (nothing was downloaded)"
            )
        return
    bucket = root.bucket
    try:
        root.fs.info(bucket)
    except FileNotFoundError:
        raise EmpirioLabsTransferError(
            f"destination {where}: the bucket {bucket!r} does not exist (as seen with "
            f"{_connection_said(conn_id)}); create it or fix destination (nothing was downloaded)"
        ) from None
    except PermissionError:
        return
    except Exception as error:  # no endpoint, no credentials...: of the store's own types
        from airflow_provider_empiriolabs.redaction import redact_log_text

        raise EmpirioLabsTransferError(
            f"destination {where}: the storage cannot be reached with {_connection_said(conn_id)} "
            f"({type(error).__name__}: {redact_log_text(str(error))}); nothing was downloaded"
        ) from None


def _connection_said(conn_id: str | None) -> str:
    """Which connection reached the store, and, when it is not defined, how to add it."""
    if not conn_id:
        return "the filesystem's default credentials (dest_conn_id is not set; set it to the connection to use)"
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        env = "AIRFLOW_CONN_" + "".join(ch if ch.isalnum() else "_" for ch in conn_id).upper()
        return (
            f"dest_conn_id {conn_id!r}: the Airflow connection {conn_id!r} is not defined, so the storage "
            f"library's default credentials and endpoint were tried; add it (Admin > Connections, "
            f"`airflow connections add {conn_id} ...`, or {env} on every worker) or pass the id of an "
            "existing one as dest_conn_id"
        )
    return f"dest_conn_id {conn_id!r}"


class PendingObject:
    """
    The object being written at ``destination``: invisible to readers until :meth:`commit`.

    :param destination: the final name.
    :param block_size: the storage file's block (the S3 part size, the GCS chunk, the Azure block).
    :param log: where a failed clean-up is reported.
    """

    def __init__(self, destination: ObjectStoragePath, block_size: int, log: Any) -> None:
        self.destination = destination
        self.block_size = block_size
        self.log = log
        self._out: Any = None  # the storage file being written (uncommitted until closed)
        self._temp: ObjectStoragePath | None = None  # where it is written, when not at the final name

    @property
    def uri(self) -> str:
        """The final name, as logs show it."""
        return storage_uri(self.destination)

    @property
    def is_open(self) -> bool:
        """Whether a storage file is open (between :meth:`open` and a commit or discard)."""
        return self._out is not None

    def open(self) -> None:
        """Open the storage file: at the final name where writes commit only on close, else a temporary."""
        fs = self.destination.fs
        if type(fs).__module__.partition(".")[0] in _COMMIT_ON_CLOSE_PACKAGES:
            # Opening for writing sends nothing on these; the file's class tells whether this
            # bucket commits on close (gcsfs hands out a ZonalFile, visible while written, for
            # zonal buckets).
            out = fs.open(self.destination.path, "wb", block_size=self.block_size)
            if (type(out).__module__, type(out).__name__) in _COMMIT_ON_CLOSE_FILES:
                self._out = out
                return
            out.closed = True  # never close(): closing is what would commit it
        if self._temp is None:
            name = f".{self.destination.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
            self._temp = self.destination.parent / name
        self._out = fs.open(self._temp.path, "wb", block_size=self.block_size)

    def write(self, data: bytes) -> None:
        """
        Append to the storage file.

        :param data: bytes the storage file may keep (never a buffer that is reused).
        """
        self._out.write(data)

    def tell(self) -> int:
        """Bytes the storage file has taken, to compare with the bytes downloaded before committing."""
        return int(self._out.tell())

    def commit(self, written: int) -> None:
        """
        The one step that makes the object appear at its final name, whole.

        :param written: bytes written; the temporary object's read-back size must match it before it
            is moved to the final name.
        """
        self._out.close()  # commits the upload at the final name, or completes the temporary file
        self._out = None
        if self._temp is None:
            return
        temp_size = self._temp.size()
        if temp_size != written:
            raise EmpirioLabsTransferError(
                f"read-back size of the temporary object for {storage_uri(self.destination)} is "
                f"{temp_size:,} bytes, but {written:,} were written"
            )
        self.destination.fs.mv(self._temp.path, self.destination.path)  # rename, or copy + delete
        self._temp = None

    def discard(self) -> None:
        """Throw away what was written so far, committing nothing at the final name."""
        out, self._out = self._out, None
        if out is not None and self._temp is None:
            # An upload to the final name: discard() aborts an S3 multipart upload or a GCS
            # resumable one (Azure's staged blocks are dropped by the service within a week), and
            # the file is marked closed so that neither we nor its finaliser close() (commit) it.
            with contextlib.suppress(Exception):
                out.discard()
            out.closed = True
        elif out is not None:
            with contextlib.suppress(Exception):
                out.close()
        if self._temp is not None:
            delete_quietly(self._temp, self.log)
            self._temp = None
