"""
The view's video bytes: streamed by the API server, so the browser never holds a credential.

What the API server reads is never DAG code's choice, and what it sends is only ever a video:

* **Stored copies** are read (``ObjectStoragePath``, through the API server's storage connections)
  only when the provider's transfer recorded them (:mod:`.records`) *and* their URI lies under a
  prefix the deployment's administrator listed in ``[empiriolabs] view_allowed_storage``
  (:func:`allowed_storage`; empty by default: no stored copy is read).
* **Signed output URLs** are unsealed with the EmpirioLabs connection's key and fetched
  (:mod:`._signed_url`) under the transfer's own rules: its :class:`~..transfers._output_trust.OutputTrustPolicy` and
  :class:`~..transfers._guarded_http.OutputGuard` (addresses, redirects, a total
  :class:`~.._socket_deadline.Deadline` on every socket operation), its ``Content-Type`` check,
  and the provider's one User-Agent.
* **Before the first byte goes out**, the body's first bytes pass the transfer's container check
  (:func:`~..transfers._body.check_container`, videos only); the answer's ``Content-Type`` is the
  container's, never the upstream header's nor a URI's extension; the size is held to the
  transfer's ``DEFAULT_MAX_SIZE_BYTES`` and to what was announced.
* Every media answer carries :data:`MEDIA_SECURITY_HEADERS` (``nosniff``, a sandboxing CSP) and a
  ``Content-Disposition`` built from the job id alone.

The byte-reading runs on a small pool of the view's own (:mod:`.app`), never on Airflow's shared
thread pool; :func:`media_timeout_seconds` bounds each answer in total.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow_provider_empiriolabs.redaction import redact_text

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.ui.records import VideoRecord

__all__ = [
    "CONFIG_SECTION",
    "MEDIA_SECURITY_HEADERS",
    "MEDIA_TYPES",
    "MediaStream",
    "MediaUnavailable",
    "allowed_storage",
    "is_allowed_storage",
    "media_streams",
    "media_timeout_seconds",
    "open_media",
]

log = logging.getLogger(__name__)

#: The provider's section of Airflow's configuration (declared in ``get_provider_info``).
CONFIG_SECTION = "empiriolabs"

#: The answer's ``Content-Type`` for each container the transfer's check recognises (videos, and an image job's images).
MEDIA_TYPES = {
    "mp4": "video/mp4",
    "matroska": "video/webm",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
_EXTENSIONS = {"mp4": "mp4", "matroska": "webm", "png": "png", "jpeg": "jpg", "webp": "webp"}

#: Only videos: the transfer's check is asked with no image type allowed...
_VIDEO_ONLY: tuple[str, ...] = ("video/*",)
#: ...unless the job is an image job (its summary says so): then its images (PNG, JPEG, WebP) too.
_IMAGE_JOB: tuple[str, ...] = ("video/*", "image/png", "image/jpeg", "image/webp")


def is_image_job(record: VideoRecord) -> bool:
    """Whether the job made images (the image operator's summary says ``media: image``)."""
    return (record.summary or {}).get("media") == "image"


#: Headers of every media answer: no sniffing, nothing runs even if opened as a page.
MEDIA_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'self'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}

_CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class MediaUnavailable(Exception):
    """Neither a stored copy nor the signed URL could be read (the message holds no signed URL)."""


def _conf() -> Any:
    from airflow.configuration import conf

    return conf


def allowed_storage() -> tuple[str, ...]:
    """The URI prefixes of ``[empiriolabs] view_allowed_storage`` (empty: no stored copy is read)."""
    raw = _conf().get(CONFIG_SECTION, "view_allowed_storage", fallback="") or ""
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def media_timeout_seconds() -> float:
    """``[empiriolabs] view_media_timeout_seconds``: the total time of one media answer."""
    return float(_conf().getfloat(CONFIG_SECTION, "view_media_timeout_seconds", fallback=300.0))


def media_streams() -> int:
    """``[empiriolabs] view_media_streams``: media answers at once per API server process."""
    return max(1, int(_conf().getint(CONFIG_SECTION, "view_media_streams", fallback=8)))


def _normalised(uri: str) -> tuple[str, str, str] | None:
    """``(scheme, netloc, path)`` of a URI, or ``None`` when it cannot be compared safely."""
    parts = urlsplit(uri.strip())
    path = unquote(parts.path)
    if parts.query or parts.fragment or "\\" in path or "\x00" in path:
        return None
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    scheme = {"local": "file"}.get(parts.scheme.lower(), parts.scheme.lower())
    return scheme, parts.netloc.lower(), path


def is_allowed_storage(uri: str, prefixes: tuple[str, ...] | None = None) -> bool:
    """
    Whether ``uri`` lies under one of the administrator's prefixes (whole path segments only).

    ``s3://videos/pub/`` allows ``s3://videos/pub/a.mp4``, not ``s3://videos/public/a.mp4`` nor
    ``s3://videos/pub/../secret``; a URI with a query, a fragment or a dot segment never matches.

    :param uri: a stored copy's URI.
    :param prefixes: the allowed prefixes; ``None`` reads :func:`allowed_storage`.
    """
    target = _normalised(uri)
    if target is None:
        return False
    for prefix in allowed_storage() if prefixes is None else prefixes:
        allowed = _normalised(prefix)
        if allowed is None or not allowed[0]:
            continue  # a prefix with no scheme allows nothing
        root = allowed[2] if allowed[2].endswith("/") else allowed[2] + "/"
        if target[:2] == allowed[:2] and target[2].startswith(root):
            return True
    return False


@dataclass
class MediaStream:
    """
    Bytes to send, with the headers that describe them.

    :param status: 200, or 206 for a byte range.
    :param headers: ``Content-Type`` (the container's), ``Content-Length``, ``Accept-Ranges``,
        ``Content-Range``, ``Content-Disposition`` and :data:`MEDIA_SECURITY_HEADERS`.
    :param body: the bytes, in chunks (checked already: the first chunk is the checked head).
    :param source: ``stored`` or ``signed-url`` (for the response header and the tests).
    """

    status: int
    headers: dict[str, str]
    body: Iterator[bytes]
    source: str


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``Range: bytes=`` header within ``size``, else ``None`` (whole body)."""
    match = _RANGE.match((header or "").strip())
    if not match or size <= 0:
        return None
    first, last = match.groups()
    if first == "":
        if last == "":
            return None
        start = max(size - int(last), 0)
        return start, size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None


def _starts_at_zero(range_header: str | None) -> bool:
    """Whether the answer to ``range_header`` starts at the body's first byte (no range: it does)."""
    match = _RANGE.match((range_header or "").strip())
    return match is None or match.group(1) == "0" or match.groups() == ("", "")


def _headers(record: VideoRecord, index: int, container: str) -> dict[str, str]:
    """The media answer's fixed headers: the container's type, a safe name, the security headers."""
    extension = _EXTENSIONS[container]
    name = _SAFE_NAME.sub("_", f"{record.job_id}-{index}")[:100]
    return {
        **MEDIA_SECURITY_HEADERS,
        "Content-Type": MEDIA_TYPES[container],
        "Content-Disposition": f'inline; filename="{name}.{extension}"',
        "Accept-Ranges": "bytes",
    }


def _check_head(head: bytes, shown: str, record: VideoRecord) -> str:
    """The transfer's own container check, videos only (and an image job's images); ``MediaUnavailable`` else."""
    from airflow_provider_empiriolabs.exceptions import EmpirioLabsUnrecognizedContainerError
    from airflow_provider_empiriolabs.transfers._body import check_container

    try:
        return check_container(head, _IMAGE_JOB if is_image_job(record) else _VIDEO_ONLY, shown)
    except EmpirioLabsUnrecognizedContainerError:
        # Not the transfer's message: it shows the first bytes, and no byte of what is not a video
        # leaves the API server (in a page, an answer or its log).
        what = "not a video nor an image" if is_image_job(record) else "not a video"
        raise MediaUnavailable(f"{shown}: {what}; nothing was sent") from None


def _max_size() -> int:
    from airflow_provider_empiriolabs.transfers._copier import DEFAULT_MAX_SIZE_BYTES

    return DEFAULT_MAX_SIZE_BYTES


def _past(deadline: float, what: str) -> None:
    if time.monotonic() >= deadline:
        raise MediaUnavailable(f"{what} did not finish within [{CONFIG_SECTION}] view_media_timeout_seconds")


def _open_local(uri: str, prefixes: tuple[str, ...]) -> tuple[Any, int]:
    """
    A local stored copy, opened only as the regular file it really is, under an allowed prefix.

    Workers write where the API server reads, so a task can leave a symlink (to ``airflow.cfg``, a
    secret, a FIFO) under an allowed folder: the path is resolved and checked again, the last
    component is opened without following a link and without blocking, and only a regular file
    is read.
    """
    path = unquote(urlsplit(uri).path)
    real = os.path.realpath(path)
    real_prefixes = tuple(
        Path(os.path.realpath(unquote(urlsplit(p).path))).as_uri() + "/"
        for p in prefixes
        if (_normalised(p) or ("",))[0] == "file"
    )
    if not is_allowed_storage(Path(real).as_uri(), real_prefixes):
        raise MediaUnavailable(f"{uri}: resolves outside [{CONFIG_SECTION}] view_allowed_storage, not read")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise MediaUnavailable(f"{uri}: cannot be opened ({error.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise MediaUnavailable(f"{uri}: not a regular file, not read")
    return os.fdopen(fd, "rb"), info.st_size


def _stored(
    record: VideoRecord, index: int, uri: str, range_header: str | None, deadline: float, prefixes: tuple[str, ...]
) -> MediaStream:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_empiriolabs.transfers._body import MAGIC_BYTES_NEEDED

    local = (_normalised(uri) or ("",))[0] == "file"
    if local:
        handle, size = _open_local(uri, prefixes)
    else:
        path = ObjectStoragePath(uri)
        size = int(path.stat()["size"])
    if size > _max_size():
        if local:
            handle.close()
        raise MediaUnavailable(f"{uri} is {size:,} bytes, over the {_max_size():,} a video may have")
    if not local:
        handle = path.open("rb")
    try:
        container = _check_head(handle.read(MAGIC_BYTES_NEEDED), uri, record)
    except BaseException:
        handle.close()
        raise
    span = _byte_range(range_header, size)
    start, end = span if span else (0, size - 1)

    def body() -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                _past(deadline, f"reading {uri}")
                chunk = handle.read(min(_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    headers = {**_headers(record, index, container), "Content-Length": str(end - start + 1)}
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return MediaStream(206 if span else 200, headers, body(), "stored")


def open_media(
    record: VideoRecord, index: int, range_header: str | None = None, *, deadline: float | None = None
) -> MediaStream:
    """
    The output ``index`` of a job: from an allowed stored copy when one reads, else from its signed URL.

    Blocking (storage and network reads): the app calls it on its own pool.

    :param record: the job (the caller checked the user may read its DAG).
    :param index: which output.
    :param range_header: the browser's ``Range`` header, if any.
    :param deadline: ``time.monotonic()`` by which the whole answer must be sent (default: now plus
        :func:`media_timeout_seconds`).
    """
    at = deadline if deadline is not None else time.monotonic() + media_timeout_seconds()
    problems: list[str] = []
    prefixes = allowed_storage()
    for uri in record.stored.get(index, []):
        if not is_allowed_storage(uri, prefixes):
            problems.append(f"{uri}: not under [{CONFIG_SECTION}] view_allowed_storage, not read")
            continue
        try:
            return _stored(record, index, uri, range_header, at, prefixes)
        except MediaUnavailable as error:
            problems.append(str(error))
        except Exception as error:  # a copy deleted or unreachable: the next source may do
            problems.append(f"{uri}: {type(error).__name__}")
    if record.summary and record.summary.get("sealed_output_urls"):
        try:
            from airflow_provider_empiriolabs.ui._signed_url import stream_signed_url

            return stream_signed_url(record, index, range_header, at)
        except MediaUnavailable as error:
            problems.append(str(error))
        except Exception as error:
            problems.append(f"signed URL: {type(error).__name__}: {redact_text(str(error))}")
    detail = "; ".join(problems) or "no stored copy and no output URL"
    log.warning("EmpirioLabs view: output %d of job %s unavailable: %s", index, record.job_id, detail)
    raise MediaUnavailable(f"output {index} of job {record.job_id} cannot be read ({detail})")
