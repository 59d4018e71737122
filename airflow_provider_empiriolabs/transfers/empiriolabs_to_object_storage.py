"""
Copy EmpirioLabs outputs to durable storage (S3, GCS, Azure Blob, local files), streaming.

Output URLs die after 7 days and job state after 1 hour: a video that is not copied somewhere
durable is lost, and it was paid for. :class:`EmpirioLabsToObjectStorageOperator` is that copy.

The storage side goes only through Airflow's ``ObjectStoragePath`` and the filesystems the
Airflow providers register (``amazon`` for ``s3://``, ``google`` for ``gs://``,
``microsoft-azure`` for ``abfs://``); nothing here imports a storage library, and nothing heavier
than ``airflow.sdk`` is imported when a DAG file is parsed: httpx, tenacity, the hook and the
storage filesystems load when the task runs.

How a copy stays safe:

* the body streams in fixed-size chunks (``chunk_size``) into the ObjectStoragePath's filesystem
  (``open("wb")``), so memory stays flat whatever the video's size;
* a broken download resumes with ``Range`` (or restarts when the server ignores it), a bounded
  number of times with exponential backoff; an expired URL (403/404/410) is replaced by a fresh
  one from the job, while the API still retains it;
* the byte count is checked against the announced length and against what the storage file took,
  and only then is the object committed at its final name; its size is read back after. A crash,
  a kill or a truncated download never leaves a partial object at the final name.

How a copy trusts nothing from the network (the rules live in ``_output_trust``, ``_guarded_http``
and ``_body``):

* output URLs and every redirect are checked: https only (http only against an http simulator),
  no user info, no host resolving to a private, loopback, link-local, reserved or cloud-metadata
  address (connections go to the very address that was checked), no redirect to another host
  unless the EmpirioLabs connection's extra ``allowed_output_hosts`` lists it (once set, that
  list also bounds where first output URLs may point). The extra
  ``allow_private_output_hosts`` opens non-public addresses (a local simulator);
* a ``Content-Encoding`` the server sends although identity was asked for is decoded: the raw
  bytes are compared with ``Content-Length``, the decoded ones are stored, hashed and size-limited;
* the first bytes must be a video container (MP4/MOV, WebM/Matroska) whatever ``Content-Type`` said;
* each output has a total deadline (``download_timeout_seconds``, by default derived from its
  size) enforced on every socket read, so a server that drips bytes is cut off.

Where the bytes go before that commit depends on the store (the guarantee is what matters, not
the literal "temporary name"):

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
  object; the next run removes leftovers of a killed one.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, get_args
from urllib.parse import urlsplit

from airflow.sdk import BaseOperator

from airflow_provider_empiriolabs.redaction import redact_text, redact_url
from airflow_provider_empiriolabs.transfers import _errors
from airflow_provider_empiriolabs.transfers._body import (
    MAGIC_BYTES_NEEDED,
    BodyDecoder,
    check_container,
    default_deadline_seconds,
)
from airflow_provider_empiriolabs.transfers._errors import (
    EmpirioLabsDestinationConflictError,
    EmpirioLabsDownloadError,
    EmpirioLabsDownloadTimeoutError,
    EmpirioLabsOutputExpiredError,
    EmpirioLabsOutputTooLargeError,
    EmpirioLabsTransferError,
    EmpirioLabsUnexpectedContentTypeError,
    EmpirioLabsUnrecognizedContainerError,
    EmpirioLabsUnsafeUrlError,
    EmpirioLabsUnsupportedEncodingError,
)
from airflow_provider_empiriolabs.transfers._errors import RetryableDownloadError as _RetryableDownloadError
from airflow_provider_empiriolabs.transfers._guarded_http import OutputGuard
from airflow_provider_empiriolabs.transfers._helpers import (
    _parse_output_urls,
    _user_agent,
    _what_the_server_said,
    _with_alias_outlet,
    lineage_dataset,
)
from airflow_provider_empiriolabs.transfers._output_trust import OutputTrustPolicy

if TYPE_CHECKING:
    import httpx
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath

__all__ = [
    "DEFAULT_ALLOWED_CONTENT_TYPES",
    "DEFAULT_MAX_SIZE_BYTES",
    "DEFAULT_OBJECT_NAME",
    "CopyResult",
    "EmpirioLabsDestinationConflictError",
    "EmpirioLabsDownloadError",
    "EmpirioLabsDownloadTimeoutError",
    "EmpirioLabsOutputExpiredError",
    "EmpirioLabsOutputTooLargeError",
    "EmpirioLabsToObjectStorageOperator",
    "EmpirioLabsTransferError",
    "EmpirioLabsUnexpectedContentTypeError",
    "EmpirioLabsUnrecognizedContainerError",
    "EmpirioLabsUnsafeUrlError",
    "EmpirioLabsUnsupportedEncodingError",
    "IfExists",
    "OutputGuard",
    "OutputTrustPolicy",
    "StreamingCopier",
    "redact_url",
]

MiB = 1024 * 1024

#: What to do when an object already exists at the final name.
#:
#: * ``skip_identical`` (default): keep it if it holds exactly the same bytes (SHA-256), fail if not;
#: * ``fail``: fail whatever it holds;
#: * ``replace``: replace it.
IfExists = Literal["skip_identical", "fail", "replace"]

DEFAULT_OBJECT_NAME = "{job_id}/{index}.mp4"
DEFAULT_MAX_SIZE_BYTES = 2 * 1024 * MiB
DEFAULT_ALLOWED_CONTENT_TYPES: tuple[str, ...] = ("video/*", "application/octet-stream")
DEFAULT_CHUNK_SIZE = 1 * MiB
#: The storage file's block: the S3 part size (5 MiB minimum), the GCS chunk, the Azure block. s3fs
#: holds a few copies of one block while sending it, so this sets most of the copy's own memory
#: (1 GB to moto S3: ~54 MB at 8 MiB, ~88 MB at 16 MiB, same throughput; see docs/benchmarks.md).
#: 8 MiB is also the AWS CLI's part size; smaller parts mean more round trips on a real S3.
DEFAULT_WRITE_BLOCK_SIZE = 8 * MiB
DEFAULT_ASSET_ALIAS = "empiriolabs_videos"

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

# Statuses after which a signed URL is dead but the job may hold a fresh one (at most this often).
_MAX_URL_REFRESHES = 2
_EXPIRED_STATUSES = frozenset({403, 404, 410})
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


# The errors live in ``_errors`` (the helper modules raise them too); this module is their public
# home, where the API reference documents them.
for _error in vars(_errors).values():
    if isinstance(_error, type) and _error.__name__.startswith("EmpirioLabs") and _error.__module__ == _errors.__name__:
        _error.__module__ = __name__


# ---------------------------------------------------------------------------------------------
# The copy routine
# ---------------------------------------------------------------------------------------------


def storage_uri(path: ObjectStoragePath) -> str:
    """``scheme://bucket/key`` of a path, without the connection id ``str(path)`` would embed."""
    if path.protocol in ("file", "local", ""):
        return f"file://{path.path}"
    return f"{path.protocol}://{path.bucket}/{path.key}"


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
    :param source: the source URL without its query string.
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


@dataclass
class _Download:
    url: str
    out: Any = None  # the storage file being written (uncommitted until closed)
    temp: ObjectStoragePath | None = None  # where it is written, when not at the final name
    written: int = 0
    total: int | None = None
    hasher: Any = field(default_factory=hashlib.sha256)
    validator: str | None = None
    requests: int = 0
    refreshes: int = 0
    deadline: float = float("inf")  # time.monotonic() after which the download is abandoned
    head: bytes = b""  # the first bytes of the (decoded) body, for the container check
    container: str | None = None  # what the head was recognised as
    encoded: bool = False  # the server sent a Content-Encoding: the decoded size is not announced
    complete: bool = False  # an encoded body ended whole (an identity one: written == total)


class StreamingCopier:
    """
    Streams one HTTP(S) URL into one ObjectStoragePath, safely (see the module docstring).

    The operator's engine, one output at a time; usable on its own with any httpx client.

    :param client: the httpx client for the downloads. It must not carry the EmpirioLabs API key:
        output URLs are signed and may point at a CDN that has no business seeing the key.
    :param if_exists: what to do with an object already at the final name (see :data:`IfExists`).
    :param max_size_bytes: refuse outputs larger than this, before writing anything when the
        server announces the length, else as soon as the body exceeds it.
    :param allowed_content_types: media types accepted (``type/*`` wildcards allowed); anything
        else is an error page, not a video.
    :param chunk_size: bytes read from the network per write; bounds the copy's own memory.
    :param write_block_size: block size for the storage file (multipart part size on S3).
        Smaller means less memory, larger means fewer requests. At least 5 MiB for S3.
    :param max_attempts: HTTP attempts per output, the first included, before giving up.
    :param retry_backoff_seconds: first wait between attempts; doubles each time, capped at 30 s.
    :param progress_interval_seconds: how often a long copy logs its progress.
    :param allow_plain_http: whether plain-http URLs may be followed; only read when no ``guard``
        is given.
    :param log: where progress goes (a stdlib or structlog logger; the operator passes its own).
    :param guard: the URL and address rules, and the deadline, for ``client``. Best built with the
        client (:meth:`OutputGuard.client`): then connections are pinned to checked addresses. When
        ``None``, the production defaults apply through a request hook added to ``client``.
    :param download_timeout_seconds: total time one output may take, attempts and waits included;
        ``None`` derives it from the size: 300 s plus the size at 256 KiB/s.
    :param verify_container: refuse a body whose first bytes are not a video container.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        if_exists: IfExists = "skip_identical",
        max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES,
        allowed_content_types: Sequence[str] = DEFAULT_ALLOWED_CONTENT_TYPES,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        write_block_size: int = DEFAULT_WRITE_BLOCK_SIZE,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 1.0,
        progress_interval_seconds: float = 15.0,
        allow_plain_http: bool | Callable[[], bool] = False,
        log: Any = None,
        guard: OutputGuard | None = None,
        download_timeout_seconds: float | None = None,
        verify_container: bool = True,
    ) -> None:
        _check_settings(if_exists, max_size_bytes, chunk_size, write_block_size, max_attempts)
        _check_timeout(download_timeout_seconds)
        if guard is None:
            allowed = allow_plain_http() if callable(allow_plain_http) else allow_plain_http
            guard = OutputGuard(OutputTrustPolicy(allow_plain_http=allowed))
            client.event_hooks = {**client.event_hooks, "request": [*client.event_hooks["request"], guard.on_request]}
        self.guard = guard
        self.download_timeout_seconds = download_timeout_seconds
        self.verify_container = verify_container
        self.client = client
        self.if_exists = if_exists
        self.max_size_bytes = max_size_bytes
        self.allowed_content_types = tuple(t.strip().lower() for t in allowed_content_types)
        self.chunk_size = chunk_size
        self.write_block_size = write_block_size
        self.max_attempts = max_attempts
        self.retry_backoff_seconds = retry_backoff_seconds
        self.progress_interval_seconds = progress_interval_seconds
        self.log: Any = log or logging.getLogger(__name__)

    # -- public -------------------------------------------------------------------------------

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
            sibling moved here then (see the module docstring).
        :param refresh_url: returns a fresh URL for the same output when this one answers
            403/404/410 (the operator passes a re-fetch of the job); ``None`` when the job is unknown.
        """
        self.guard.policy.check_url(url)
        started = time.monotonic()
        uri = storage_uri(destination)
        source = redact_url(url)
        self.log.info("Copying %s to %s", source, uri)

        existing_size = self._existing_size(destination)
        if existing_size is not None and self.if_exists == "fail":
            raise EmpirioLabsDestinationConflictError(
                f"{uri} already exists ({existing_size:,} bytes) and if_exists='fail'"
            )
        if destination.protocol in ("file", "local"):
            destination.parent.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers(destination)

        limit = self.download_timeout_seconds or default_deadline_seconds(None, self.max_size_bytes)
        state = _Download(url=url, deadline=started + limit)
        try:
            self._download(state, destination, existing_size, refresh_url, started)
            if self.verify_container and state.container is None:  # a body shorter than the magic
                check_container(state.head, self.allowed_content_types, redact_url(state.url))
            sha = state.hasher.hexdigest()
            out = state.out
            if out.tell() != state.written:  # before anything is committed
                raise EmpirioLabsTransferError(
                    f"the storage file for {uri} took {out.tell():,} bytes, but {state.written:,} were downloaded"
                )

            existing_size = self._existing_size(destination)
            if existing_size is not None and self.if_exists != "replace":
                if self.if_exists == "skip_identical" and self._same_content(
                    destination, existing_size, state.written, sha
                ):
                    self._abandon(state)
                    elapsed = time.monotonic() - started
                    self.log.info("%s already holds identical bytes (sha256 %s): kept", uri, sha)
                    return CopyResult(uri, existing_size, sha, True, elapsed, state.requests, source)
                raise EmpirioLabsDestinationConflictError(
                    f"{uri} already exists with different content ({existing_size:,} bytes) and "
                    f"if_exists={self.if_exists!r}; the new output ({state.written:,} bytes, sha256 {sha}) "
                    "was not written"
                )

            # The one step that makes the object appear at its final name, whole.
            committing = time.monotonic()
            out.close()  # commits the upload at the final name, or completes the temporary file
            state.out = None
            if state.temp is not None:
                temp_size = state.temp.size()
                if temp_size != state.written:
                    raise EmpirioLabsTransferError(
                        f"read-back size of the temporary object for {uri} is {temp_size:,} bytes, "
                        f"but {state.written:,} were written"
                    )
                destination.fs.mv(state.temp.path, destination.path)  # rename, or copy + delete
                state.temp = None
            commit_seconds = time.monotonic() - committing
        except BaseException:
            self._abandon(state)
            raise

        final_size = destination.size()
        if final_size != state.written:
            self._delete_quietly(destination)  # a wrong object is worse than none: a retry rewrites it
            raise EmpirioLabsTransferError(
                f"read-back size of {uri} is {final_size:,} bytes, but {state.written:,} were copied; removed it"
            )
        elapsed = time.monotonic() - started
        self.log.info(
            "Copied %s to %s: %.1f MB in %.1f s (%.1f MB/s), sha256 %s, %d request(s)",
            source,
            uri,
            state.written / 1e6,
            elapsed,
            state.written / 1e6 / max(elapsed, 1e-9),
            sha,
            state.requests,
        )
        return CopyResult(uri, state.written, sha, False, elapsed, state.requests, source, commit_seconds)

    # -- download -----------------------------------------------------------------------------

    def _download(
        self,
        state: _Download,
        destination: ObjectStoragePath,
        existing_size: int | None,
        refresh_url: Callable[[], str] | None,
        started: float,
    ) -> None:
        """Fill ``state.out`` with the whole body, retrying; leaves it open (uncommitted)."""
        import tenacity

        def say_why(retry_state: tenacity.RetryCallState) -> None:
            outcome = retry_state.outcome
            error = outcome.exception() if outcome is not None else None
            self.log.warning(
                "Download of %s interrupted at %.1f MB (%s); attempt %d of %d in %.1f s",
                redact_url(state.url),
                state.written / 1e6,
                error,
                retry_state.attempt_number + 1,
                self.max_attempts,
                retry_state.upcoming_sleep,
            )

        backoff = tenacity.wait_exponential(multiplier=self.retry_backoff_seconds, max=30)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            # Never sleep past the deadline: the next attempt would only report it passed.
            wait=lambda retry_state: min(backoff(retry_state), max(0.0, state.deadline - time.monotonic())),
            retry=tenacity.retry_if_exception_type(_RetryableDownloadError),
            before_sleep=say_why,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._attempt(state, destination, existing_size, refresh_url, started)
        except _RetryableDownloadError as err:
            if time.monotonic() >= state.deadline:
                self._deadline_passed(state)
            raise EmpirioLabsDownloadError(
                f"download of {redact_url(state.url)} failed after {state.requests} attempt(s), "
                f"{state.written:,} bytes in: {err}"
            ) from None

    def _attempt(
        self,
        state: _Download,
        destination: ObjectStoragePath,
        existing_size: int | None,
        refresh_url: Callable[[], str] | None,
        started: float,
    ) -> None:
        import httpx

        if state.complete or (not state.encoded and state.total is not None and state.written >= state.total):
            return  # the body was complete; the connection broke after its last byte
        if time.monotonic() >= state.deadline:
            self._deadline_passed(state)
        headers = {"Accept-Encoding": "identity"}
        if state.written and not state.encoded:  # an encoded body's ranges are not the video's: restart
            headers["Range"] = f"bytes={state.written}-"
            if state.validator:
                headers["If-Range"] = state.validator
        state.requests += 1
        self.guard.begin(state.url, state.deadline)
        try:
            with self.client.stream("GET", state.url, headers=headers) as response:
                self._check_status(state, response, refresh_url)
                decoder = self._start_or_resume(state, response, destination, existing_size, started)
                self._pump(state, response, decoder, destination, started)
        except httpx.TransportError as err:
            if time.monotonic() >= state.deadline:
                self._deadline_passed(state)
            raise _RetryableDownloadError(f"{type(err).__name__}: {redact_text(str(err))}") from None
        if not state.encoded and state.total is not None and state.written < state.total:
            raise _RetryableDownloadError(f"body ended at {state.written:,} of {state.total:,} bytes")

    def _check_status(self, state: _Download, response: httpx.Response, refresh_url: Callable[[], str] | None) -> None:
        status = response.status_code
        if status in (200, 206):
            return
        if status in _EXPIRED_STATUSES:
            said = _what_the_server_said(response)
            if refresh_url is None:
                raise EmpirioLabsOutputExpiredError(
                    f"output URL {redact_url(state.url)} answered HTTP {status}{said} and no "
                    "job_id was given to fetch a fresh one",
                    status_code=status,
                )
            if state.refreshes >= _MAX_URL_REFRESHES:
                raise EmpirioLabsOutputExpiredError(
                    f"output URL {redact_url(state.url)} still answers HTTP {status}{said} after "
                    f"{state.refreshes} fresh URL(s) from the job",
                    status_code=status,
                )
            state.refreshes += 1
            self.log.warning(
                "Output URL %s answered HTTP %d%s: fetching the job again for a fresh URL",
                redact_url(state.url),
                status,
                said,
            )
            new_url = refresh_url()
            self.guard.policy.check_url(new_url)
            state.url = new_url
            raise _RetryableDownloadError(f"HTTP {status}; got a fresh URL from the job")
        if status in _RETRYABLE_STATUSES:
            raise _RetryableDownloadError(f"HTTP {status}")
        raise EmpirioLabsTransferError(f"output URL {redact_url(state.url)} answered HTTP {status}", status_code=status)

    def _start_or_resume(
        self,
        state: _Download,
        response: httpx.Response,
        destination: ObjectStoragePath,
        existing_size: int | None,
        started: float,
    ) -> BodyDecoder:
        """Check the answer's headers; resume or (re)start the storage file; return the body's decoder."""
        decoder = BodyDecoder(response.headers.get("Content-Encoding", ""), redact_url(state.url), self.chunk_size)
        if state.written and response.status_code == 206 and decoder.identity and not state.encoded:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == state.written:
                self.log.info("Resuming %s at %.1f MB", redact_url(state.url), state.written / 1e6)
                return decoder
        if state.written:
            # The server ignored Range (or answered another range, or encodes): start over from byte 0.
            self.log.info("Server did not resume %s: restarting from byte 0", redact_url(state.url))
            self._abandon(state)
            state.written, state.hasher, state.head, state.container = 0, hashlib.sha256(), b"", None

        self._check_content_type(response, state)
        state.encoded = not decoder.identity
        if state.encoded:
            self.log.warning(
                "%s answered Content-Encoding %r although identity was asked for: decoding it",
                redact_url(state.url),
                decoder.encoding,
            )
        total = _announced_length(response)  # of the encoded body, when encoded
        if total is not None and total > self.max_size_bytes:
            raise EmpirioLabsOutputTooLargeError(
                f"output {redact_url(state.url)} is {total:,} bytes, over max_size_bytes="
                f"{self.max_size_bytes:,}; nothing was written"
            )
        if self.download_timeout_seconds is None and total is not None:  # the size is known: tighten
            state.deadline = min(state.deadline, started + default_deadline_seconds(total, self.max_size_bytes))
        if (
            existing_size is not None
            and self.if_exists == "skip_identical"
            and total is not None
            and not state.encoded
            and total != existing_size
        ):
            raise EmpirioLabsDestinationConflictError(
                f"{storage_uri(destination)} already exists with a different size ({existing_size:,} "
                f"bytes, the output has {total:,}) and if_exists='skip_identical'; nothing was written"
            )
        state.total = total
        state.validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if state.validator and state.validator.startswith("W/"):
            state.validator = None  # a weak validator cannot guard a byte range
        if state.out is None:
            self._open(state, destination)
        return decoder

    def _check_content_type(self, response: httpx.Response, state: _Download) -> None:
        raw = response.headers.get("Content-Type", "")
        media_type = raw.split(";", 1)[0].strip().lower()
        for allowed in self.allowed_content_types:
            if media_type == allowed or (
                allowed.endswith("/*") and media_type.startswith(allowed[:-1]) and len(media_type) > len(allowed) - 1
            ):
                return
        raise EmpirioLabsUnexpectedContentTypeError(
            f"output {redact_url(state.url)} has content type {media_type or '(none)'!r}, expected one of "
            f"{list(self.allowed_content_types)}; nothing was written"
        )

    def _pump(
        self,
        state: _Download,
        response: httpx.Response,
        decoder: BodyDecoder,
        destination: ObjectStoragePath,
        started: float,
    ) -> None:
        """
        Stream the body into the storage file, one network read at a time.

        Raw reads (not httpx's decoded, re-chunked stream) so that the deadline is looked at after
        every read however slowly bytes come, and so that ``Content-Length`` is compared with the
        bytes it counts: the encoded ones. What is stored, hashed and size-limited is decoded.
        """
        next_report = time.monotonic() + self.progress_interval_seconds
        raw_count = 0
        pending = bytearray()  # network reads are small: store and hash in chunk_size batches
        try:
            for raw in response.iter_raw():
                raw_count += len(raw)
                if state.encoded and state.total is not None and raw_count > state.total:
                    raise EmpirioLabsTransferError(
                        f"output {redact_url(state.url)} sent more than its announced {state.total:,} "
                        f"({decoder.encoding}-encoded) bytes"
                    )
                for piece in decoder.feed(raw):
                    self._accept(state, piece, len(pending))
                    pending += piece
                    if len(pending) >= self.chunk_size:
                        self._store(state, pending)
                now = time.monotonic()
                if now >= state.deadline:
                    self._deadline_passed(state)
                if now >= next_report:
                    next_report = now + self.progress_interval_seconds
                    self._report(state, destination, now - started)
            if state.encoded:
                tail = decoder.flush()
                self._accept(state, tail, len(pending))
                pending += tail
        finally:
            if pending and state.out is not None:  # what arrived before a break counts for the resume
                self._store(state, pending)
        if state.encoded:
            if (state.total is not None and raw_count < state.total) or not decoder.finished:
                raise _RetryableDownloadError(
                    f"{decoder.encoding}-encoded body ended after {raw_count:,} bytes"
                    + (f" of {state.total:,}" if state.total is not None else " before its end")
                )
            state.complete = True

    def _accept(self, state: _Download, piece: bytes, pending: int) -> None:
        """Check decoded bytes before they are kept: size limits, announced length, container."""
        if not piece:
            return
        size = pending + len(piece)
        if state.written + size > self.max_size_bytes:
            raise EmpirioLabsOutputTooLargeError(
                f"output {redact_url(state.url)} exceeded max_size_bytes={self.max_size_bytes:,} "
                "while downloading; nothing was written"
            )
        if not state.encoded and state.total is not None and state.written + size > state.total:
            raise EmpirioLabsTransferError(
                f"output {redact_url(state.url)} sent more than its announced {state.total:,} bytes"
            )
        if len(state.head) < MAGIC_BYTES_NEEDED:
            state.head += piece[: MAGIC_BYTES_NEEDED - len(state.head)]
            if self.verify_container and len(state.head) >= MAGIC_BYTES_NEEDED:
                # Before the first byte is stored: garbage never reaches the storage file.
                state.container = check_container(state.head, self.allowed_content_types, redact_url(state.url))

    @staticmethod
    def _store(state: _Download, pending: bytearray) -> None:
        """Write, hash and count accepted bytes, and empty ``pending``."""
        data = bytes(pending)  # the storage file may keep what it is given: never a buffer reused
        pending.clear()
        state.out.write(data)
        state.hasher.update(data)
        state.written += len(data)

    def _deadline_passed(self, state: _Download) -> None:
        limit = (
            f"download_timeout_seconds={self.download_timeout_seconds:g}"
            if self.download_timeout_seconds
            else "the default deadline (derived from the size; set download_timeout_seconds to change it)"
        )
        raise EmpirioLabsDownloadTimeoutError(
            f"download of {redact_url(state.url)} did not finish within {limit}: {state.written:,} bytes "
            f"in after {state.requests} request(s); nothing was written"
        )

    def _report(self, state: _Download, destination: ObjectStoragePath, elapsed: float) -> None:
        done = state.written / 1e6
        rate = done / max(elapsed, 1e-9)
        if state.total and not state.encoded:
            self.log.info(
                "%s: %.1f of %.1f MB (%d%%), %.1f MB/s",
                storage_uri(destination),
                done,
                state.total / 1e6,
                100 * state.written // state.total,
                rate,
            )
        else:
            self.log.info("%s: %.1f MB, %.1f MB/s", storage_uri(destination), done, rate)

    # -- storage helpers ------------------------------------------------------------------------

    @staticmethod
    def _existing_size(path: ObjectStoragePath) -> int | None:
        try:
            if not path.exists():
                return None
            return int(path.size())
        except FileNotFoundError:
            return None

    def _same_content(self, path: ObjectStoragePath, size: int, new_size: int, new_sha: str) -> bool:
        if size != new_size:
            return False
        hasher = hashlib.sha256()
        with path.fs.open(path.path, "rb", block_size=self.write_block_size) as existing:
            while chunk := existing.read(self.chunk_size):
                hasher.update(chunk)
        return hasher.hexdigest() == new_sha

    def _open(self, state: _Download, destination: ObjectStoragePath) -> None:
        """
        Open the storage file: at the final name where writes commit only on close, else a temp.

        The ObjectStoragePath's own (connection-authenticated) filesystem is opened directly:
        ``ObjectStoragePath.open`` would also report every write to the hook-lineage collector, and
        the operator reports the final objects itself.
        """
        fs = destination.fs
        if type(fs).__module__.partition(".")[0] in _COMMIT_ON_CLOSE_PACKAGES:
            # Opening for writing sends nothing on these; the file's class tells whether this
            # bucket commits on close (gcsfs hands out a ZonalFile, visible while written, for
            # zonal buckets).
            out = fs.open(destination.path, "wb", block_size=self.write_block_size)
            if (type(out).__module__, type(out).__name__) in _COMMIT_ON_CLOSE_FILES:
                state.out = out
                return
            out.closed = True  # never close(): closing is what would commit it
        if state.temp is None:
            state.temp = destination.parent / f".{destination.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
        state.out = fs.open(state.temp.path, "wb", block_size=self.write_block_size)

    def _abandon(self, state: _Download) -> None:
        """Throw away what was written so far, committing nothing at the final name."""
        out, state.out = state.out, None
        if out is not None and state.temp is None:
            # An upload to the final name: discard() aborts an S3 multipart upload or a GCS
            # resumable one (Azure's staged blocks are dropped by the service within a week), and
            # the file is marked closed so that neither we nor its finaliser close() (commit) it.
            with contextlib.suppress(Exception):
                out.discard()
            out.closed = True
        elif out is not None:
            with contextlib.suppress(Exception):
                out.close()
        if state.temp is not None:
            self._delete_quietly(state.temp)
            state.temp = None

    def _remove_leftovers(self, destination: ObjectStoragePath) -> None:
        """
        Clean up after an earlier run that was killed mid-copy.

        Temporary objects beside the final name are deleted. On S3, a killed writer's multipart
        upload to the final name stays (invisible, but its parts are billed) until aborted: it is
        aborted here. A bucket lifecycle rule (``AbortIncompleteMultipartUpload``) is the backstop
        for uploads no rerun comes back for.
        """
        prefix = f".{destination.name}."
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for stale in destination.parent.iterdir():
                if stale.name.startswith(prefix) and stale.name.endswith(TEMP_SUFFIX):
                    self.log.info("Removing %s left by an interrupted copy", storage_uri(stale))
                    self._delete_quietly(stale)
        fs = destination.fs
        if not hasattr(fs, "list_multipart_uploads"):
            return
        try:
            for upload in fs.list_multipart_uploads(destination.bucket):
                if upload.get("Key") == destination.key:
                    self.log.info(
                        "Aborting an unfinished upload to %s left by an interrupted copy", storage_uri(destination)
                    )
                    fs.abort_mpu(destination.bucket, destination.key, upload["UploadId"])
        except Exception:
            self.log.warning(
                "Could not list or abort unfinished uploads to %s", storage_uri(destination), exc_info=True
            )

    def _delete_quietly(self, path: ObjectStoragePath) -> None:
        try:
            if path.exists():
                path.unlink()
        except FileNotFoundError:
            pass
        except Exception:
            self.log.warning("Could not remove %s", storage_uri(path), exc_info=True)


def _announced_length(response: httpx.Response) -> int | None:
    """The full size of the output: the total of a Content-Range, else Content-Length."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and response.status_code == 200:
        return int(length)
    return None


def _check_timeout(download_timeout_seconds: float | None) -> None:
    if download_timeout_seconds is not None and not download_timeout_seconds > 0:
        raise ValueError(f"download_timeout_seconds must be positive or None, got {download_timeout_seconds!r}")


def _check_settings(
    if_exists: str, max_size_bytes: int, chunk_size: int, write_block_size: int, max_attempts: int
) -> None:
    """Refuse bad settings where the operator is built (DAG parse time), not mid-copy."""
    allowed = get_args(IfExists)
    if if_exists not in allowed:
        raise ValueError(f"if_exists must be one of {list(allowed)}, got {if_exists!r}")
    if max_size_bytes <= 0 or chunk_size <= 0 or write_block_size <= 0:
        raise ValueError("max_size_bytes, chunk_size and write_block_size must be positive")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")


# ---------------------------------------------------------------------------------------------
# The operator
# ---------------------------------------------------------------------------------------------


class EmpirioLabsToObjectStorageOperator(BaseOperator):
    """
    Copy the outputs of an EmpirioLabs job to durable storage, streaming, and verified.

    Give ``job_id`` (the job is fetched for its current output URLs, and fetched again should a
    URL have expired), or ``output_urls`` (for instance the generate operator's XCom summary), or
    both. Each output lands at ``destination`` / ``object_name``. Returns the destination URIs
    and emits them as Airflow asset events (through ``asset_alias``) and as OpenLineage datasets.

    Storage goes through ``ObjectStoragePath``: install the provider extra for the scheme
    (``amazon`` for ``s3://``, ``google`` for ``gs://``, ``azure`` for ``abfs://``; ``file://``
    needs nothing). It is imported when the task runs, never when the DAG file is parsed.

    :param destination: where outputs go, an ObjectStoragePath URL such as
        ``s3://bucket/videos/`` (templated).
    :param dest_conn_id: Airflow connection for the destination (``aws``, ``google_cloud_platform``,
        ``wasb`` ...); ``None`` for ``file://`` or the filesystem's own default credentials.
    :param job_id: the EmpirioLabs job whose outputs to copy (templated). Also lets an expired
        URL be replaced while the API still retains the job (1 hour after completion).
    :param output_urls: output URLs to copy, when they come from elsewhere (templated). A list,
        a single URL, a rendered list/JSON string, or a summary mapping with ``output_urls``
        (and ``job_id``, used unless ``job_id`` is given).
    :param object_name: name of each object under ``destination``, a ``str.format`` template
        with ``{job_id}``, ``{index}``, ``{filename}`` (last segment of the URL path), ``{stem}``
        and ``{ext}`` (templated, so Jinja works too). Default ``{job_id}/{index}.mp4``.
    :param if_exists: what to do when an object is already at the final name:
        ``skip_identical`` (default: keep it if it holds the same bytes, fail on different ones,
        so a rerun is harmless but nothing is silently clobbered), ``fail`` or ``replace``.
    :param empiriolabs_conn_id: the EmpirioLabs connection: used to fetch the job; its base URL
        decides whether plain-http output URLs may be followed (only for an http simulator), and its
        extras ``allowed_output_hosts`` (hosts or ``*.suffix`` patterns redirects may lead to and,
        once set, every host outputs may come from; the API's own host always may) and
        ``allow_private_output_hosts`` (follow hosts resolving to non-public addresses; the
        simulator's connection sets it) which hosts may serve outputs.
    :param max_size_bytes: refuse an output larger than this (default 2 GiB, far above a 15 s
        1080p video), so a wrong URL cannot fill the bucket.
    :param allowed_content_types: accepted media types; an HTML or JSON error page is not a video.
    :param chunk_size: bytes per network read and storage write; bounds the copy's memory.
    :param write_block_size: storage block size (the multipart part size on S3; at least 5 MiB
        there; default 8 MiB). Larger blocks mean fewer requests, smaller ones less memory.
    :param max_attempts: HTTP attempts per output before giving up on a broken download.
    :param retry_backoff_seconds: first wait between attempts; doubles each time (capped at 30 s).
    :param request_timeout_seconds: network timeout for each read (not for the whole download).
    :param download_timeout_seconds: total time one output may take, retries included, so a server
        that drips bytes cannot hold the task forever; ``None`` (default) derives it from the size:
        300 s plus the size at 256 KiB/s (~8 minutes for 50 MB).
    :param verify_container: refuse a body whose first bytes are not a video container (MP4/MOV,
        WebM/Matroska; PNG/JPEG/WebP too when ``allowed_content_types`` holds an ``image/`` type),
        whatever its ``Content-Type``. On by default: an error page is not a video.
    :param progress_interval_seconds: how often a long copy logs MB copied and MB/s.
    :param asset_alias: name of the AssetAlias the destination URIs are emitted through (added to
        ``outlets``, also by ``.partial()`` for mapped tasks, so the DAG processor creates the alias
        once instead of concurrent task completions racing to), so downstream DAGs can be scheduled
        on the videos; ``None`` to emit nothing. Failing to record an event never fails a copy whose
        video landed: it is logged as a warning.
    """

    template_fields: Sequence[str] = ("job_id", "output_urls", "destination", "object_name", "dest_conn_id")
    ui_color = "#e6f0ff"

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """
        Like ``BaseOperator.partial``, with the asset alias declared in ``outlets`` at parse time.

        ``__init__`` adds the alias to ``outlets``, but a mapped task's ``__init__`` runs only on
        the worker: the serialized DAG then declares no alias, the DAG processor never creates it,
        and concurrent mapped completions each try to create it on the first event (a unique
        violation on Postgres that failed task instances whose video had landed). Declaring it
        here makes the DAG processor create it once, before any task runs.
        """
        alias = kwargs.get("asset_alias", DEFAULT_ASSET_ALIAS)
        if isinstance(alias, str) or alias is None:  # a mapped asset_alias cannot be known here
            _with_alias_outlet(kwargs, alias)
        return super().partial(**kwargs)

    def __init__(
        self,
        *,
        destination: str,
        dest_conn_id: str | None = None,
        job_id: str | None = None,
        output_urls: Sequence[str] | str | Mapping[str, Any] | None = None,
        object_name: str = DEFAULT_OBJECT_NAME,
        if_exists: IfExists = "skip_identical",
        empiriolabs_conn_id: str = "empiriolabs_default",
        max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES,
        allowed_content_types: Sequence[str] = DEFAULT_ALLOWED_CONTENT_TYPES,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        write_block_size: int = DEFAULT_WRITE_BLOCK_SIZE,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 1.0,
        request_timeout_seconds: float = 60.0,
        download_timeout_seconds: float | None = None,
        verify_container: bool = True,
        progress_interval_seconds: float = 15.0,
        asset_alias: str | None = DEFAULT_ASSET_ALIAS,
        **kwargs: Any,
    ) -> None:
        _with_alias_outlet(kwargs, asset_alias)
        super().__init__(**kwargs)
        if not job_id and not output_urls:
            raise ValueError("give job_id (the job is fetched for its output URLs) or output_urls")
        if not destination:
            raise ValueError("destination is required, e.g. 's3://bucket/videos/' or 'file:///data/videos/'")
        _check_settings(if_exists, max_size_bytes, chunk_size, write_block_size, max_attempts)
        _check_timeout(download_timeout_seconds)
        self.destination = destination
        self.dest_conn_id = dest_conn_id
        self.job_id = job_id
        self.output_urls = output_urls
        self.object_name = object_name
        self.if_exists = if_exists
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.max_size_bytes = max_size_bytes
        self.allowed_content_types = tuple(allowed_content_types)
        self.chunk_size = chunk_size
        self.write_block_size = write_block_size
        self.max_attempts = max_attempts
        self.retry_backoff_seconds = retry_backoff_seconds
        self.request_timeout_seconds = request_timeout_seconds
        self.download_timeout_seconds = download_timeout_seconds
        self.verify_container = verify_container
        self.progress_interval_seconds = progress_interval_seconds
        self.asset_alias = asset_alias
        #: What the last ``execute`` did for each output (size, sha256, skipped...), in order.
        self.results: list[CopyResult] = []

    # -- execution ------------------------------------------------------------------------------

    def execute(self, context: Context) -> list[str]:
        """Copy every output; return the destination URIs in output order."""
        import httpx

        from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

        hook = EmpirioLabsHook(empiriolabs_conn_id=self.empiriolabs_conn_id)
        job_id, urls = self._resolve_sources(hook)
        root = self._destination_root()
        targets = [root / self._object_name(job_id, index, url) for index, url in enumerate(urls)]
        if len({storage_uri(t) for t in targets}) != len(targets):
            raise ValueError(f"object_name {self.object_name!r} gives several outputs the same name; include {{index}}")

        guard = OutputGuard(self._trust_policy(hook))
        timeout = httpx.Timeout(self.request_timeout_seconds, connect=min(self.request_timeout_seconds, 15.0))
        self.results = []
        with guard.client(timeout=timeout, headers={"User-Agent": _user_agent()}) as client:
            copier = StreamingCopier(
                client,
                if_exists=self.if_exists,
                max_size_bytes=self.max_size_bytes,
                allowed_content_types=self.allowed_content_types,
                chunk_size=self.chunk_size,
                write_block_size=self.write_block_size,
                max_attempts=self.max_attempts,
                retry_backoff_seconds=self.retry_backoff_seconds,
                progress_interval_seconds=self.progress_interval_seconds,
                log=self.log,
                guard=guard,
                download_timeout_seconds=self.download_timeout_seconds,
                verify_container=self.verify_container,
            )
            for index, (url, target) in enumerate(zip(urls, targets, strict=True)):
                refresh = self._refresher(hook, job_id, index) if job_id else None
                result = copier.copy(url, target, refresh_url=refresh)
                self.results.append(result)
                self._emit_asset_event(context, result, job_id, index)

        uris = [r.uri for r in self.results]
        copied = sum(not r.skipped for r in self.results)
        self.log.info(
            "%d output(s) in place (%d copied, %d identical already there): %s",
            len(uris),
            copied,
            len(uris) - copied,
            ", ".join(uris),
        )
        return uris

    def _trust_policy(self, hook: Any) -> OutputTrustPolicy:
        """
        The output-URL rules of the EmpirioLabs connection (its host and extras).

        Without the connection (only ``output_urls`` given, no EmpirioLabs connection defined) the
        production defaults apply: public https hosts only.
        """
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = hook.get_connection(self.empiriolabs_conn_id)
        except AirflowNotFoundException:
            conn = None
        return OutputTrustPolicy.from_connection(conn)

    def _resolve_sources(self, hook: Any) -> tuple[str | None, list[str]]:
        job_id = str(self.job_id).strip() if self.job_id else None
        urls: list[str] = []
        sealed: str | None = None
        if self.output_urls:
            summary_job_id, urls, sealed = _parse_output_urls(self.output_urls)
            job_id = job_id or summary_job_id
        if job_id:
            from airflow_provider_empiriolabs.models import check_job_id

            job_id = check_job_id(job_id)  # it names objects: no "..", separators or control characters
        if sealed:
            urls = self._unsealed(hook, sealed, job_id)
        if not urls:
            if not job_id:
                raise ValueError("output_urls is empty and no job_id was given: nothing to copy")
            job = self._fetch_job(hook, job_id)
            urls = list(job.output_urls)
            if not urls:
                raise EmpirioLabsTransferError(f"job {job_id} succeeded but lists no output URL")
        self.log.info("Job %s: %d output(s) to copy", job_id or "(unknown)", len(urls))
        return job_id, urls

    def _unsealed(self, hook: Any, sealed: str, job_id: str | None) -> list[str]:
        """A summary's sealed URLs; if another key sealed them, the job's fresh ones (empty: fetched)."""
        from airflow_provider_empiriolabs.redaction import mask_signed_url
        from airflow_provider_empiriolabs.sealing import unseal

        try:
            urls = unseal(sealed, hook.settings.api_key)
        except ValueError as error:
            if not job_id:
                raise
            self.log.warning("%s: reading fresh output URLs from job %s instead", error, job_id)
            return []
        for url in urls:
            mask_signed_url(url)
        return urls

    @staticmethod
    def _fetch_job(hook: Any, job_id: str) -> Any:
        from airflow_provider_empiriolabs.exceptions import EmpirioLabsNotFoundError

        try:
            job = hook.get_job(job_id)
        except EmpirioLabsNotFoundError as error:
            raise EmpirioLabsOutputExpiredError(
                f"job {job_id} is unknown or past the API's retention (1 hour after completion; the API "
                f"said: {error}): its output URLs can no longer be fetched from the job; pass output_urls "
                "from the generate task's XCom instead (they stay valid 7 days)",
                status_code=404,
            ) from None
        if not job.status.is_success():
            raise EmpirioLabsTransferError(
                f"job {job_id} is {job.raw_status!r}, not finished successfully: nothing to copy yet "
                "(run this after the generate operator or sensor)"
            )
        return job

    def _refresher(self, hook: Any, job_id: str, index: int) -> Callable[[], str]:
        def refresh() -> str:
            job = self._fetch_job(hook, job_id)
            if index >= len(job.output_urls):
                raise EmpirioLabsOutputExpiredError(
                    f"job {job_id} now lists {len(job.output_urls)} output(s); output {index} is gone"
                )
            return str(job.output_urls[index])

        return refresh

    def _destination_root(self) -> ObjectStoragePath:
        from airflow.sdk import ObjectStoragePath

        destination = str(self.destination).strip()
        if "://" not in destination:
            raise ValueError(
                f"destination must be a URL with a scheme (s3://, gs://, abfs://, file://), got {destination!r}"
            )
        if not destination.endswith("/"):
            destination += "/"
        try:
            return ObjectStoragePath(destination, conn_id=self.dest_conn_id or None)
        except ValueError as error:
            scheme = destination.split("://", 1)[0]
            raise ValueError(
                f"destination: no filesystem handles {scheme}:// ({error}); use s3:// (extra [amazon]), "
                "gs:// ([google]), abfs:// ([azure]) or file://"
            ) from None

    def _object_name(self, job_id: str | None, index: int, url: str) -> str:
        filename = urlsplit(url).path.rsplit("/", 1)[-1] or f"{index}"
        stem, dot, ext = filename.rpartition(".")
        if not dot:
            stem, ext = filename, ""
        fields = {"index": index, "filename": filename, "stem": stem, "ext": ext}
        if job_id:
            fields["job_id"] = job_id
        try:
            name = str(self.object_name).format(**fields)
        except KeyError as err:
            hint = " (no job_id is known: pass job_id)" if err.args[0] == "job_id" else ""
            raise ValueError(
                f"object_name {self.object_name!r} uses {{{err.args[0]}}}{hint}; available: {sorted(fields)}"
            ) from None
        name = name.strip().lstrip("/")
        if not name or name.endswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
            raise ValueError(f"object_name {self.object_name!r} gives an invalid object name {name!r}")
        return name

    def _emit_asset_event(self, context: Context, result: CopyResult, job_id: str | None, index: int) -> None:
        """
        Record the copied object as an asset event; a failure is a warning, never a failed copy.

        The video is in place and was paid for: failing the task now would make a retry copy it
        again, and would hide a video that landed behind a red task.
        """
        try:
            self._add_asset_event(context, result, job_id, index)
        except Exception as error:
            self.log.warning(
                "%s is in place, but recording its asset event failed (%s: %s); the copy stands",
                result.uri,
                type(error).__name__,
                redact_text(str(error)),
            )

    def _add_asset_event(self, context: Context, result: CopyResult, job_id: str | None, index: int) -> None:
        outlet_events = cast("Mapping[Any, Any] | None", context.get("outlet_events"))
        if outlet_events is None:
            return
        from airflow.sdk import Asset, AssetAlias

        extra: dict[str, Any] = {
            "job_id": job_id,
            "output_index": index,
            "size_bytes": result.size,
            "sha256": result.sha256,
            "source": result.source,
        }
        for outlet in self.outlets:
            if isinstance(outlet, AssetAlias):
                outlet_events[outlet].add(Asset(uri=result.uri), extra=extra)
            elif isinstance(outlet, Asset) and outlet.uri == result.uri:
                outlet_events[outlet].extra.update(extra)

    # -- lineage --------------------------------------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """
        Report the output URLs as inputs and the written objects as outputs, for OpenLineage.

        Only meaningful when the ``openlineage`` provider is installed (it calls this); it is not a
        dependency, so without it this returns ``None``.
        """
        try:
            from airflow.providers.openlineage.extractors import OperatorLineage
            from openlineage.client.event_v2 import Dataset
        except ImportError:
            return None
        inputs = []
        outputs = []
        for result in self.results:
            namespace, name = lineage_dataset(result.source)
            inputs.append(Dataset(namespace=namespace, name=name))
            namespace, name = lineage_dataset(result.uri)
            outputs.append(Dataset(namespace=namespace, name=name))
        return OperatorLineage(inputs=inputs, outputs=outputs)
