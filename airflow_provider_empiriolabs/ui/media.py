"""
The view's video bytes: streamed by the API server, so the browser never holds a credential.

A video is read from the copy the transfer stored (``ObjectStoragePath``, through Airflow's
storage connections), else from the job's signed output URL, unsealed here with the EmpirioLabs
connection's key and fetched under the transfer's output-URL rules. The browser sees only the
plugin's own URL; byte ranges are honoured so that players can seek.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_empiriolabs.redaction import redact_text

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.ui.records import VideoRecord

__all__ = ["MediaStream", "MediaUnavailable", "open_media"]

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class MediaUnavailable(Exception):
    """Neither a stored copy nor the signed URL could be read (the message holds no URL)."""


@dataclass
class MediaStream:
    """
    Bytes to send, with the headers that describe them.

    :param status: 200, or 206 for a byte range.
    :param headers: ``Content-Type``, ``Content-Length``, ``Accept-Ranges`` and ``Content-Range``.
    :param body: the bytes, in chunks.
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


def _stored(uri: str, range_header: str | None) -> MediaStream:
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(uri)
    size = int(path.stat()["size"])
    span = _byte_range(range_header, size)
    start, end = span if span else (0, size - 1)
    handle = path.open("rb")

    def body() -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = handle.read(min(_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    kind = mimetypes.guess_type(uri)[0] or "video/mp4"  # a stored image is served as one
    headers = {"Content-Type": kind, "Content-Length": str(end - start + 1), "Accept-Ranges": "bytes"}
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return MediaStream(206 if span else 200, headers, body(), "stored")


def _signed(record: VideoRecord, index: int, range_header: str | None) -> MediaStream:
    import httpx

    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.sealing import unseal
    from airflow_provider_empiriolabs.transfers._guarded_http import OutputGuard
    from airflow_provider_empiriolabs.transfers._output_trust import OutputTrustPolicy

    sealed = str((record.summary or {}).get("sealed_output_urls") or "")
    hook = EmpirioLabsHook(record.conn_id)
    urls = unseal(sealed, hook.settings.api_key)
    if index >= len(urls):
        raise MediaUnavailable(f"job {record.job_id} has no output {index}")
    guard = OutputGuard(OutputTrustPolicy.from_connection(hook.get_connection(record.conn_id)))
    guard.begin(urls[index], None)
    client = guard.client(timeout=httpx.Timeout(30.0, connect=10.0), headers={"User-Agent": "empiriolabs-ui"})
    request = client.build_request("GET", urls[index], headers={"Range": range_header} if range_header else {})
    response = client.send(request, stream=True)
    if response.status_code not in (200, 206):
        response.close()
        client.close()
        raise MediaUnavailable(f"the output URL of job {record.job_id} answered {response.status_code}")
    headers = {"Content-Type": response.headers.get("content-type", "video/mp4"), "Accept-Ranges": "bytes"}
    for name in ("content-length", "content-range"):
        if name in response.headers:
            headers[name.title()] = response.headers[name]

    def body() -> Iterator[bytes]:
        try:
            yield from response.iter_bytes(_CHUNK)
        finally:
            response.close()
            client.close()

    return MediaStream(response.status_code, headers, body(), "signed-url")


def open_media(record: VideoRecord, index: int, range_header: str | None = None) -> MediaStream:
    """
    The output ``index`` of a job: from a stored copy when one reads, else from its signed URL.

    :param record: the job (the caller checked the user may read its DAG).
    :param index: which output.
    :param range_header: the browser's ``Range`` header, if any.
    """
    problems: list[str] = []
    for uri in record.stored.get(index, []):
        try:
            return _stored(uri, range_header)
        except Exception as error:  # a copy deleted or unreachable: the next source may do
            problems.append(f"{uri}: {type(error).__name__}")
    if record.summary and record.summary.get("sealed_output_urls"):
        try:
            return _signed(record, index, range_header)
        except MediaUnavailable as error:
            problems.append(str(error))
        except Exception as error:
            problems.append(f"signed URL: {type(error).__name__}: {redact_text(str(error))}")
    detail = "; ".join(problems) or "no stored copy and no output URL"
    log.warning("EmpirioLabs view: output %d of job %s unavailable: %s", index, record.job_id, detail)
    raise MediaUnavailable(f"output {index} of job {record.job_id} cannot be read ({detail})")
