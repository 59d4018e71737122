"""
The view's read of a job's signed output URL: under the transfer's rules, checked before it is sent.

Split from :mod:`.media` (which decides where a video is read from, and holds the checks and
headers shared with stored copies): the output host's answer is fetched through the transfer's
:class:`~..transfers._guarded_http.OutputGuard` under the answer's total deadline, its status,
``Content-Type`` and encoding checked as the transfer checks them, its first bytes through the
container check, its length held to what it announced and to the largest video.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.redaction import redact_text, redact_url
from airflow_provider_empiriolabs.ui import media
from airflow_provider_empiriolabs.ui.media import (
    _CHUNK,
    CONFIG_SECTION,
    MediaStream,
    MediaUnavailable,
    _check_head,
    _headers,
    _past,
    _starts_at_zero,
)

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.ui.records import VideoRecord

__all__ = ["stream_signed_url"]

log = logging.getLogger(__name__)


def stream_signed_url(record: VideoRecord, index: int, range_header: str | None, deadline: float) -> MediaStream:
    """The output `index` of a finished job, from its signed URL (see the module)."""
    import httpx

    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook, user_agent
    from airflow_provider_empiriolabs.sealing import unseal
    from airflow_provider_empiriolabs.transfers._guarded_http import OutputGuard
    from airflow_provider_empiriolabs.transfers._output_trust import OutputTrustPolicy

    sealed = str((record.summary or {}).get("sealed_output_urls") or "")
    hook = EmpirioLabsHook(record.conn_id)
    urls = unseal(sealed, hook.settings.api_key)
    if index >= len(urls):
        raise MediaUnavailable(f"job {record.job_id} has no output {index}")
    url = urls[index]
    guard = OutputGuard(OutputTrustPolicy.from_connection(hook.get_connection(record.conn_id)))
    client = guard.client(timeout=httpx.Timeout(30.0, connect=10.0), headers={"User-Agent": user_agent()})
    try:
        head = b"" if _starts_at_zero(range_header) else _probe_head(client, guard, url, deadline, record)
        response = _get(client, guard, url, deadline, range_header)
    except BaseException:
        client.close()
        raise
    return _relay(record, index, client, response, head, redact_url(url), deadline)


def _get(client: Any, guard: Any, url: str, deadline: float, range_header: str | None) -> Any:
    """One GET under the guard and the answer's total deadline, its headers read."""
    import httpx

    from airflow_provider_empiriolabs.exceptions import EmpirioLabsError

    guard.begin(url, deadline)
    headers = {"Accept-Encoding": "identity", **({"Range": range_header} if range_header else {})}
    try:
        return client.send(client.build_request("GET", url, headers=headers), stream=True)
    except httpx.TimeoutException:
        raise MediaUnavailable(
            f"the output host of {redact_url(url)} did not answer within [{CONFIG_SECTION}] view_media_timeout_seconds"
        ) from None
    except (httpx.HTTPError, EmpirioLabsError) as error:
        raise MediaUnavailable(f"{type(error).__name__}: {redact_text(str(error))}") from None


def _probe_head(client: Any, guard: Any, url: str, deadline: float, record: VideoRecord) -> bytes:
    """The first bytes of the output (a ranged answer starts elsewhere: its container is checked here)."""
    from airflow_provider_empiriolabs.transfers._body import MAGIC_BYTES_NEEDED

    response = _get(client, guard, url, deadline, f"bytes=0-{MAGIC_BYTES_NEEDED - 1}")
    try:
        _check_answer(response, record, redact_url(url))
        head = b""
        for raw in response.iter_raw():
            head += raw
            if len(head) >= MAGIC_BYTES_NEEDED:
                break
        return head[:MAGIC_BYTES_NEEDED]
    finally:
        response.close()


def _check_answer(response: Any, record: VideoRecord, shown: str) -> None:
    """Status, ``Content-Type`` (the transfer's check) and encoding of an output host's answer."""
    from airflow_provider_empiriolabs.exceptions import EmpirioLabsError
    from airflow_provider_empiriolabs.transfers._body import BodyDecoder, check_content_type
    from airflow_provider_empiriolabs.transfers._copier import DEFAULT_ALLOWED_CONTENT_TYPES
    from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import IMAGE_CONTENT_TYPES

    if response.status_code not in (200, 206):
        raise MediaUnavailable(f"the output URL of job {record.job_id} answered {response.status_code}")
    try:
        image_job = (*DEFAULT_ALLOWED_CONTENT_TYPES, *IMAGE_CONTENT_TYPES)  # an image job's outputs too
        allowed = image_job if media.is_image_job(record) else DEFAULT_ALLOWED_CONTENT_TYPES
        check_content_type(response.headers.get("Content-Type", ""), allowed, shown)
        identity = BodyDecoder(response.headers.get("Content-Encoding", ""), shown, _CHUNK).identity
    except EmpirioLabsError as error:
        raise MediaUnavailable(str(error).replace("nothing was written", "nothing was sent")) from None
    if not identity:
        raise MediaUnavailable(f"output {shown} came encoded although identity was asked for; nothing was sent")


def _relay(
    record: VideoRecord, index: int, client: Any, response: Any, head: bytes, shown: str, deadline: float
) -> MediaStream:
    """The checked answer of an output host: its head read and checked before anything is sent."""
    import httpx

    from airflow_provider_empiriolabs.transfers._body import CONTENT_RANGE, MAGIC_BYTES_NEEDED

    def close() -> None:
        response.close()
        client.close()

    try:
        _check_answer(response, record, shown)
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header is not None and length_header.strip().isdigit() else None
        if length_header is not None and length is None:
            raise MediaUnavailable(f"output {shown} announced Content-Length {length_header[:40]!r}")
        if length is not None and length > media._max_size():
            raise MediaUnavailable(
                f"output {shown} announces {length:,} bytes, over the {media._max_size():,} a video may have; "
                "nothing was sent"
            )
        content_range = ""
        if response.status_code == 206:
            match = CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match:
                raise MediaUnavailable(f"output {shown} answered 206 without a valid Content-Range")
            first, last, total = match.groups()
            content_range = f"bytes {int(first)}-{int(last)}/{total}"
            if int(first) == 0:
                head = b""  # the answer starts at byte 0: its own first bytes are checked
        else:
            head = b""  # a whole body (the host may have ignored the Range): its own first bytes
        limit = length if length is not None else media._max_size()
        raw = response.iter_raw(_CHUNK)
        first_chunk = b""
        try:
            while (not head and len(first_chunk) < MAGIC_BYTES_NEEDED) and len(first_chunk) < limit:
                piece = next(raw, None)
                if piece is None:
                    break
                first_chunk += piece
        except httpx.TimeoutException:
            raise MediaUnavailable(
                f"output {shown} did not send its first bytes within [{CONFIG_SECTION}] view_media_timeout_seconds"
            ) from None
        except httpx.HTTPError as error:
            raise MediaUnavailable(f"output {shown}: {type(error).__name__}") from None
        container = _check_head(head or first_chunk, shown, record)
    except BaseException:
        close()
        raise

    def body() -> Iterator[bytes]:
        sent = 0
        try:
            if first_chunk:
                piece = first_chunk[:limit]
                sent += len(piece)
                yield piece
            for chunk in raw if sent < limit else ():
                _past(deadline, f"streaming output {shown}")
                piece = chunk[: limit - sent]
                if piece:
                    sent += len(piece)
                    yield piece
                if sent >= limit:
                    return  # never more than announced, never more than a video may have
        except httpx.HTTPError as error:
            log.warning("EmpirioLabs view: output %s cut off after %d bytes (%s)", shown, sent, type(error).__name__)
        finally:
            close()

    headers = _headers(record, index, container)
    if length is not None:
        headers["Content-Length"] = str(length)
    if content_range:
        headers["Content-Range"] = content_range
    return MediaStream(response.status_code, headers, body(), "signed-url")
