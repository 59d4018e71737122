"""
One output from its URL to its final object: the copy routine behind the transfer operator.

:class:`StreamingCopier` glues the two halves of a copy together and decides what may be kept:
the download (:mod:`._download`: resume, URL refresh, size, type, encoding and container checks,
deadline) fills a pending object (:mod:`._commit`: invisible until committed, discarded on any
failure), and only a body that is whole and verified, and allowed by ``if_exists`` to replace
what is there, is committed at its final name; its size is read back after. A crash, a kill or a
truncated download never leaves a partial object at the final name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

from airflow_provider_empiriolabs.exceptions import EmpirioLabsDestinationConflictError, EmpirioLabsTransferError
from airflow_provider_empiriolabs.redaction import redact_url
from airflow_provider_empiriolabs.transfers._commit import (
    PendingObject,
    delete_quietly,
    existing_size,
    remove_leftovers,
    same_content,
    storage_uri,
)
from airflow_provider_empiriolabs.transfers._download import Download, DownloadSettings
from airflow_provider_empiriolabs.transfers._guarded_http import OutputGuard
from airflow_provider_empiriolabs.transfers._output_trust import OutputTrustPolicy
from airflow_provider_empiriolabs.transfers._units import human_rate, human_size

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import ObjectStoragePath

__all__ = [
    "DEFAULT_ALLOWED_CONTENT_TYPES",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_SIZE_BYTES",
    "DEFAULT_WRITE_BLOCK_SIZE",
    "CopyResult",
    "IfExists",
    "StreamingCopier",
    "check_settings",
    "check_timeout",
]

MiB = 1024 * 1024

#: What to do when an object already exists at the final name.
#:
#: * ``skip_identical`` (default): keep it if it holds exactly the same bytes (SHA-256), fail if not;
#: * ``fail``: fail whatever it holds;
#: * ``replace``: replace it.
IfExists = Literal["skip_identical", "fail", "replace"]

DEFAULT_MAX_SIZE_BYTES = 2 * 1024 * MiB
DEFAULT_ALLOWED_CONTENT_TYPES: tuple[str, ...] = ("video/*", "application/octet-stream")
DEFAULT_CHUNK_SIZE = 1 * MiB
#: The storage file's block: the S3 part size (5 MiB minimum), the GCS chunk, the Azure block. s3fs
#: holds a few copies of one block while sending it, so this sets most of the copy's own memory
#: (1 GB to moto S3: ~54 MB at 8 MiB, ~88 MB at 16 MiB, same throughput; see docs/benchmarks.md).
#: 8 MiB is also the AWS CLI's part size; smaller parts mean more round trips on a real S3.
DEFAULT_WRITE_BLOCK_SIZE = 8 * MiB


@dataclass(frozen=True)
class CopyResult:
    """
    One copied output.

    :param uri: the object's URI (``s3://bucket/key``, ``file:///path``...), without connection id.
    :param size: bytes in the object.
    :param sha256: hex SHA-256 of the bytes downloaded (of the existing object when skipped).
    :param skipped: an identical object was already there and was kept.
    :param seconds: wall time of the copy.
    :param attempts: HTTP requests made for the body (1 when nothing went wrong).
    :param source: the source URL as logs may show it (``redact_url``: no query, fragment or user info).
    :param commit_seconds: of ``seconds``, the time spent making the verified object appear at its
        final name: committing the upload (its last block included) and, on the temp-name path,
        the rename (or server-side copy) of the temporary object.
    """

    uri: str
    size: int
    sha256: str
    skipped: bool
    seconds: float
    attempts: int
    source: str
    commit_seconds: float = 0.0


class StreamingCopier:
    """
    Streams one HTTP(S) URL into one ObjectStoragePath, safely (see the module docstring).

    The operator's engine, one output at a time; usable on its own with any httpx client.

    :param client: the httpx client for the downloads. It must not carry the EmpirioLabs API key:
        output URLs are signed and may point at a CDN that has no business seeing the key.
    :param settings: the download's limits (size, media types, chunk, attempts, backoff, progress
        interval, total deadline, container check), as the operator was given them.
    :param if_exists: what to do with an object already at the final name (see :data:`IfExists`).
    :param write_block_size: block size for the storage file (multipart part size on S3).
        Smaller means less memory, larger means fewer requests. At least 5 MiB for S3.
    :param allow_plain_http: whether plain-http URLs may be followed; only read when no ``guard``
        is given.
    :param log: where progress goes (a stdlib or structlog logger; the operator passes its own).
    :param guard: the URL and address rules, and the deadline, for ``client``. Best built with the
        client (:meth:`OutputGuard.client`): then connections are pinned to checked addresses. When
        ``None``, the production defaults apply through a request hook added to ``client``.
    """

    def __init__(
        self,
        client: httpx.Client,
        settings: DownloadSettings,
        *,
        if_exists: IfExists = "skip_identical",
        write_block_size: int = DEFAULT_WRITE_BLOCK_SIZE,
        allow_plain_http: bool | Callable[[], bool] = False,
        log: Any = None,
        guard: OutputGuard | None = None,
    ) -> None:
        check_settings(if_exists, settings.max_size_bytes, settings.chunk_size, write_block_size, settings.max_attempts)
        check_timeout(settings.download_timeout_seconds)
        if guard is None:
            allowed = allow_plain_http() if callable(allow_plain_http) else allow_plain_http
            guard = OutputGuard(OutputTrustPolicy(allow_plain_http=allowed))
            client.event_hooks = {**client.event_hooks, "request": [*client.event_hooks["request"], guard.on_request]}
        self.guard = guard
        self.client = client
        self.settings = replace(
            settings, allowed_content_types=tuple(t.strip().lower() for t in settings.allowed_content_types)
        )
        self.if_exists = if_exists
        self.write_block_size = write_block_size
        self.log: Any = log or logging.getLogger(__name__)

    def copy(
        self,
        url: str,
        destination: ObjectStoragePath,
        *,
        refresh_url: Callable[[], str] | None = None,
    ) -> CopyResult:
        """
        Copy ``url`` to ``destination``; return what was done.

        :param url: the output's (signed) URL.
        :param destination: the final object. Nothing partial ever appears there: the bytes go to
            an upload that is committed only once complete and verified, or to a temporary
            sibling moved here then (see :mod:`._commit`).
        :param refresh_url: returns a fresh URL for the same output when this one answers
            403/404/410 (the operator passes a re-fetch of the job); ``None`` when the job is unknown.
        """
        self.guard.policy.check_url(url)
        started = time.monotonic()
        uri = storage_uri(destination)
        source = redact_url(url)
        self.log.info("Copying %s to %s", source, uri)

        size_before = existing_size(destination)
        if size_before is not None and self.if_exists == "fail":
            raise EmpirioLabsDestinationConflictError(
                f"{uri} already exists ({size_before:,} bytes) and if_exists='fail'"
            )
        if destination.protocol in ("file", "local"):
            destination.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(destination, self.log)

        def refuse_another_size(total: int | None, encoded: bool) -> None:
            """Before a byte is written: an object of another size cannot be identical."""
            if size_before is None or self.if_exists != "skip_identical" or total is None or encoded:
                return
            if total != size_before:
                raise EmpirioLabsDestinationConflictError(
                    f"{uri} already exists with a different size ({size_before:,} bytes, the output has "
                    f"{total:,}) and if_exists='skip_identical'; nothing was written"
                )

        pending = PendingObject(destination, self.write_block_size, self.log)
        download = Download(
            url,
            client=self.client,
            guard=self.guard,
            settings=self.settings,
            sink=pending,
            log=self.log,
            started=started,
            refresh_url=refresh_url,
            before_writing=refuse_another_size,
        )
        try:
            download.run()
            sha, written = download.hasher.hexdigest(), download.written
            if pending.tell() != written:  # before anything is committed
                raise EmpirioLabsTransferError(
                    f"the storage file for {uri} took {pending.tell():,} bytes, but {written:,} were downloaded"
                )
            size_now = existing_size(destination)
            if size_now is not None and self.if_exists != "replace":
                block, chunk = self.write_block_size, self.settings.chunk_size
                if self.if_exists == "skip_identical" and same_content(
                    destination, size_now, written, sha, block_size=block, chunk_size=chunk
                ):
                    pending.discard()
                    elapsed = time.monotonic() - started
                    self.log.info("%s already holds identical bytes (sha256 %s): kept", uri, sha)
                    return CopyResult(uri, size_now, sha, True, elapsed, download.requests, source)
                raise EmpirioLabsDestinationConflictError(
                    f"{uri} already exists with different content ({size_now:,} bytes) and "
                    f"if_exists={self.if_exists!r}; the new output ({written:,} bytes, sha256 {sha}) "
                    "was not written"
                )
            committing = time.monotonic()
            pending.commit(written)
            commit_seconds = time.monotonic() - committing
        except BaseException:
            pending.discard()
            raise

        final_size = destination.size()
        if final_size != written:
            delete_quietly(destination, self.log)  # a wrong object is worse than none: a retry rewrites it
            raise EmpirioLabsTransferError(
                f"read-back size of {uri} is {final_size:,} bytes, but {written:,} were copied; removed it"
            )
        elapsed = time.monotonic() - started
        self.log.info(
            "Copied %s to %s: %s in %.1f s (%s), sha256 %s, %d request(s)",
            source,
            uri,
            human_size(written),
            elapsed,
            human_rate(written, elapsed),
            sha,
            download.requests,
        )
        return CopyResult(uri, written, sha, False, elapsed, download.requests, source, commit_seconds)


def check_timeout(download_timeout_seconds: float | None) -> None:
    """
    Refuse a total deadline that is not a positive number of seconds.

    :param download_timeout_seconds: as given; ``None`` (derived from the size) is fine.
    """
    if download_timeout_seconds is not None and not download_timeout_seconds > 0:
        raise ValueError(f"download_timeout_seconds must be positive or None, got {download_timeout_seconds!r}")


def check_settings(
    if_exists: str, max_size_bytes: int, chunk_size: int, write_block_size: int, max_attempts: int
) -> None:
    """
    Refuse bad settings where the operator is built (DAG parse time), not mid-copy.

    :param if_exists: one of :data:`IfExists`.
    :param max_size_bytes: positive.
    :param chunk_size: positive.
    :param write_block_size: positive.
    :param max_attempts: at least 1.
    """
    allowed = get_args(IfExists)
    if if_exists not in allowed:
        raise ValueError(f"if_exists must be one of {list(allowed)}, got {if_exists!r}")
    if max_size_bytes <= 0 or chunk_size <= 0 or write_block_size <= 0:
        raise ValueError("max_size_bytes, chunk_size and write_block_size must be positive")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
