"""
What the transfer checks in a response: its type, its encoding, its first bytes, how long it takes.

* **Content type.** ``Content-Type`` must be one of the allowed media types (``type/*``
  wildcards allowed): an HTML or JSON error page is not a video (:func:`check_content_type`).

* **Content encoding.** The transfer asks for ``Accept-Encoding: identity``; a CDN may answer
  gzip anyway. The stored object must be the video, so the body is decoded here (not by httpx,
  so that each network read is seen as it arrives, for the deadline) and two counts are kept
  apart: the *raw* bytes, compared with ``Content-Length`` (which counts the encoded body), and
  the *decoded* bytes, which are hashed, stored and held to ``max_size_bytes``. Each decoding
  step yields at most ``chunk_size`` bytes, so a compression bomb costs no memory before
  ``max_size_bytes`` stops it. Encodings other than gzip and deflate (and brotli when the
  ``brotli`` package is installed) are refused by name.
* **Container magic.** Whatever ``Content-Type`` said, the first bytes must be a video container
  (MP4/MOV: an ``ftyp`` box at offset 4; WebM/Matroska: EBML ``1A 45 DF A3``), or an image
  (PNG, JPEG, WebP) when the allowed content types include images. An HTML error page served as
  ``application/octet-stream`` is not stored as ``.mp4``.
* **Deadline.** Per-read timeouts do not stop a server that sends one byte a second; a total
  deadline per output does (:func:`default_deadline_seconds`).
* **What the server says.** The full size it announces (:func:`announced_length`), and the code and
  message of a small JSON error body (:func:`what_the_server_said`).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsUnexpectedContentTypeError,
    EmpirioLabsUnrecognizedContainerError,
    EmpirioLabsUnsupportedEncodingError,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CONTENT_RANGE",
    "DEADLINE_BASE_SECONDS",
    "DEADLINE_MIN_BYTES_PER_SECOND",
    "MAGIC_BYTES_NEEDED",
    "BodyDecoder",
    "announced_length",
    "check_container",
    "check_content_type",
    "default_deadline_seconds",
    "sniff_container",
    "what_the_server_said",
]

#: Fixed part of the default deadline: connection set-up, a slow start, a resume or two.
DEADLINE_BASE_SECONDS = 300.0
#: Slowest sustained rate the default deadline tolerates (256 KiB/s): a 50 MB video gets ~8 min.
DEADLINE_MIN_BYTES_PER_SECOND = 256 * 1024
#: Bytes of the body needed to recognise its container.
MAGIC_BYTES_NEEDED = 12

_VIDEO_CONTAINERS = ("mp4", "matroska")
_IMAGE_CONTAINERS = ("png", "jpeg", "webp")


def default_deadline_seconds(size: int | None, max_size_bytes: int) -> float:
    """
    The total time one output may take when ``download_timeout_seconds`` is not given.

    Derived from the size (the announced one, else ``max_size_bytes``): a fixed allowance plus the
    size at :data:`DEADLINE_MIN_BYTES_PER_SECOND`. Generous for any real link, finite for a drip.

    :param size: the announced size in bytes, if known.
    :param max_size_bytes: the operator's size limit, used when the size is not announced.
    """
    return DEADLINE_BASE_SECONDS + (size if size is not None else max_size_bytes) / DEADLINE_MIN_BYTES_PER_SECOND


def sniff_container(head: bytes) -> str | None:
    """
    The container the first bytes of a file announce: ``mp4``, ``matroska``, ``png``, ``jpeg``,
    ``webp``, or ``None``.

    :param head: the first bytes (:data:`MAGIC_BYTES_NEEDED` are enough).
    """
    if head[4:8] == b"ftyp":  # ISO BMFF: MP4, MOV (QuickTime 'qt  ' brand), 3GP...
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM, Matroska
        return "matroska"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def check_content_type(content_type: str, allowed_content_types: Sequence[str], shown_url: str) -> None:
    """
    Refuse a response whose media type is not allowed, before anything of its body is written.

    :param content_type: the ``Content-Type`` header as sent (parameters such as ``charset`` ignored).
    :param allowed_content_types: accepted media types, lower case; ``type/*`` accepts any subtype.
    :param shown_url: the redacted URL, for the error.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    for allowed in allowed_content_types:
        if media_type == allowed or (
            allowed.endswith("/*") and media_type.startswith(allowed[:-1]) and len(media_type) > len(allowed) - 1
        ):
            return
    raise EmpirioLabsUnexpectedContentTypeError(
        f"output {shown_url} has content type {media_type or '(none)'!r}, expected one of "
        f"{list(allowed_content_types)}; nothing was written"
    )


def check_container(head: bytes, allowed_content_types: Sequence[str], shown_url: str) -> str:
    """
    Refuse a body that is no video container (nor an image, when images are allowed).

    :param head: the first bytes of the (decoded) body.
    :param allowed_content_types: the operator's accepted media types: images count only when an
        ``image/...`` type is among them.
    :param shown_url: the redacted URL, for the error.
    :returns: the container's name.
    """
    found = sniff_container(head)
    images = any(t.lower().startswith("image/") for t in allowed_content_types)
    accepted = _VIDEO_CONTAINERS + (_IMAGE_CONTAINERS if images else ())
    if found in accepted:
        return found
    what = f"a {found} image" if found else f"no known container (first bytes {head[:MAGIC_BYTES_NEEDED].hex(' ')})"
    raise EmpirioLabsUnrecognizedContainerError(
        f"output {shown_url} is {what}, not a video (MP4/MOV or WebM/Matroska"
        f"{', or a PNG/JPEG/WebP image' if images else ''}); nothing was written"
    )


def _brotli() -> Any:
    try:
        import brotli
    except ImportError:
        try:
            import brotlicffi as brotli
        except ImportError:
            return None
    return brotli


class BodyDecoder:
    """
    Decodes one response body's ``Content-Encoding`` incrementally, in bounded steps.

    :param content_encoding: the response's ``Content-Encoding`` header (``""`` when absent).
    :param shown_url: the redacted URL, for errors.
    :param step: most bytes one decoding step may produce (the copier's ``chunk_size``).
    """

    def __init__(self, content_encoding: str, shown_url: str, step: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise EmpirioLabsUnsupportedEncodingError(
                f"output {shown_url} answered Content-Encoding {content_encoding!r}: stacked encodings are "
                "not decoded (the transfer asked for identity)"
            )
        self.encoding = codings[0] if codings else None
        self._step = step
        self._zlib: Any = None
        self._brotli: Any = None
        self.finished = self.encoding is None
        if self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.encoding == "deflate":
            self._zlib = None  # zlib-wrapped or raw: decided by the first byte
        elif self.encoding == "br" and _brotli() is not None:
            self._brotli = _brotli().Decompressor()
        elif self.encoding is not None:
            hint = " (install the 'brotli' package to accept it)" if self.encoding == "br" else ""
            raise EmpirioLabsUnsupportedEncodingError(
                f"output {shown_url} answered Content-Encoding {content_encoding!r}, which the transfer "
                f"cannot decode{hint}; it asked for identity"
            )
        self._shown_url = shown_url

    @property
    def identity(self) -> bool:
        """Whether the body is not encoded (its raw bytes are the video's)."""
        return self.encoding is None

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """
        The decoded bytes of ``raw``, at most ``step`` bytes at a time.

        :param raw: the next bytes as received.
        """
        if self.encoding is None:
            yield raw
            return
        if self._brotli is not None:
            out = self._brotli.process(raw) if hasattr(self._brotli, "process") else self._brotli.decompress(raw)
            yield out
            return
        if self._zlib is None:  # deflate: RFC 9110 says zlib-wrapped; some servers send it raw
            wrapped = len(raw) >= 2 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        data = raw
        try:
            while data:
                if self._zlib.eof:  # more after the end: a gzip body may hold several members
                    if self.encoding == "deflate":
                        raise zlib.error("data after the end of the deflate stream")
                    self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
                out = self._zlib.decompress(data, self._step)
                data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
                if out:
                    yield out
            self.finished = bool(self._zlib.eof)
        except zlib.error as error:
            raise EmpirioLabsUnsupportedEncodingError(
                f"output {self._shown_url} is not valid {self.encoding} data ({error})"
            ) from None

    def flush(self) -> bytes:
        """Whatever the decoder still holds at the end of the body."""
        if self._zlib is not None:
            self.finished = bool(self._zlib.eof)
            return bytes(self._zlib.flush())
        if self._brotli is not None:
            self.finished = True
        return b""


#: A ``Content-Range`` header: first byte, last byte, total (``*`` when unknown).
CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def what_the_server_said(response: httpx.Response, limit: int = 4096) -> str:
    """
    The code and message of a small JSON error body, as `` (code: message)``, else ``""``.

    :param response: an error answer whose body has not been read.
    :param limit: the most of the body looked at.
    """
    import httpx

    try:
        body = response.read()[:limit]
        payload = json.loads(body)
    except (httpx.HTTPError, ValueError):
        return ""
    error = payload.get("error", payload) if isinstance(payload, dict) else None
    if isinstance(error, str):
        return f" ({error})"
    if not isinstance(error, dict):
        return ""
    code, message = error.get("code"), error.get("message")
    text = ": ".join(str(part) for part in (code, message) if part)
    return f" ({text})" if text else ""


def announced_length(response: httpx.Response) -> int | None:
    """The full size of the output: the total of a Content-Range, else Content-Length."""
    match = CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and response.status_code == 200:
        return int(length)
    return None
