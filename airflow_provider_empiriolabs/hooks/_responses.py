"""
Reading the API's answers without trusting them: bounded waits, bounded bodies, typed errors.

Whatever a server sends (a wait of ``nan`` seconds, a body of 100,000 nested arrays, gzip that
was not asked for, a message holding the key), what comes out of here is a number of seconds
between 0 and :data:`MAX_RETRY_WAIT_SECONDS`, bytes no longer than :data:`MAX_ANSWER_BYTES`, a
parsed JSON value, or an :class:`~airflow_provider_empiriolabs.exceptions.EmpirioLabsError`.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
import zlib
from collections.abc import Mapping
from typing import Any

from airflow_provider_empiriolabs._outcome import error_class
from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAnswerTooLargeError,
    EmpirioLabsDeadlineError,  # noqa: F401 (re-exported; defined in exceptions.py)
    EmpirioLabsError,
    EmpirioLabsNotSentError,  # noqa: F401 (re-exported; defined in exceptions.py)
    EmpirioLabsServerError,
    EmpirioLabsTransportError,  # noqa: F401 (re-exported; defined in exceptions.py)
)
from airflow_provider_empiriolabs.hooks.rate_budget import MAX_PAUSE_SECONDS
from airflow_provider_empiriolabs.redaction import scrub

#: The longest wait a server can ask for (``Retry-After``, ``X-RateLimit-Reset``); longer is capped.
MAX_RETRY_WAIT_SECONDS = MAX_PAUSE_SECONDS
#: The largest JSON answer read (after decoding); a longer one is refused.
MAX_ANSWER_BYTES = 1024 * 1024
#: How much of what a server says goes into an error message.
MAX_MESSAGE_CHARS = 500


# ---------------------------------------------------------------------------------------------
# Waits the server asks for.
# ---------------------------------------------------------------------------------------------


def clamp_wait(seconds: Any, cap: float = MAX_RETRY_WAIT_SECONDS) -> float | None:
    """
    A wait the provider can honour: finite, at least 0, at most ``cap``; ``None`` when unusable.

    :param seconds: the wait asked for; NaN, infinities, negatives and non-numbers give ``None``.
    :param cap: the longest wait honoured.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    try:
        seconds = float(seconds)
    except OverflowError:  # an int too large for a float
        return cap
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, cap)


def _seconds_from(value: str, now: float, *, dates: bool) -> float | None:
    """Seconds to wait from one header value: a delay, a Unix time (s or ms), or an HTTP date."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number) or number < 0:
            return None
        if number >= 1e11:  # a Unix time in milliseconds (from 1973 on)
            return max(number / 1000.0 - now, 0.0)
        if number >= 1e9:  # a Unix time in seconds (from 2001 on): no API asks for 31 years
            return max(number - now, 0.0)
        return number
    if not dates:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:
            return None
        return max(when.timestamp() - now, 0.0)
    except Exception:  # the header is the server's: any failure to read it means "not said"
        return None


def server_wait(headers: Mapping[str, str], status_code: int, cap: float = MAX_RETRY_WAIT_SECONDS) -> float | None:
    """
    The wait the server asked for, clamped to ``[0, cap]``, or ``None`` when it said nothing usable.

    The one place a server-requested wait is read: ``Retry-After`` (seconds or an HTTP date), else,
    on a 429, ``X-RateLimit-Reset`` (seconds from now, or a Unix time in seconds or milliseconds).
    A Unix time in either header is recognised by its size; NaN, infinities, negatives and
    garbage are ignored (the caller's backoff decides); anything longer than ``cap`` is ``cap``.

    :param headers: the answer's headers (case-insensitive mapping).
    :param status_code: the answer's status.
    :param cap: the longest wait honoured.
    """
    now = time.time()
    candidates = [(headers.get("retry-after"), True)]
    if status_code == 429:
        candidates.append((headers.get("x-ratelimit-reset"), True))
    for value, dates in candidates:
        if value:
            seconds = clamp_wait(_seconds_from(value, now, dates=dates), cap)
            if seconds is not None:
                return seconds
    return None


# ---------------------------------------------------------------------------------------------
# Bodies.
# ---------------------------------------------------------------------------------------------


class BoundedBody:
    """
    A body read chunk by chunk, never more than ``limit`` bytes, before and after decoding.

    :param headers: the answer's headers (``Content-Length``, ``Content-Encoding``).
    :param strict: refuse a body that is too large or cannot be decoded
        (:class:`EmpirioLabsAnswerTooLargeError`, :class:`EmpirioLabsServerError`); otherwise (the
        body of an error answer, whose status says enough) drop it: :attr:`dropped`, content ``None``.
    :param limit: the most bytes kept.
    """

    def __init__(self, headers: Mapping[str, str], *, strict: bool = True, limit: int = MAX_ANSWER_BYTES) -> None:
        self.headers = headers
        self.strict = strict
        self.limit = limit
        self.dropped = False
        self._chunks: list[bytes] = []
        self._size = 0
        announced = headers.get("content-length", "").strip()
        if announced.isdigit() and int(announced) > limit:
            self._too_large(f"the answer announces {announced} bytes; at most {limit} are read")

    def _too_large(self, message: str) -> None:
        if self.strict:
            raise EmpirioLabsAnswerTooLargeError(message)
        self.dropped = True
        self._chunks.clear()

    def add(self, chunk: bytes) -> None:
        """Keep one more raw chunk (once :attr:`dropped`, stop reading)."""
        if self.dropped:
            return
        self._size += len(chunk)
        if self._size > self.limit:
            self._too_large(f"the answer is larger than {self.limit} bytes")
            return
        self._chunks.append(chunk)

    def content(self) -> bytes | None:
        """The whole body, decoded (see :func:`decode_body`); ``None`` when dropped."""
        if self.dropped:
            return None
        try:
            return decode_body(self.headers, b"".join(self._chunks), self.limit)
        except EmpirioLabsServerError:
            if self.strict:
                raise
            return None


def decode_body(headers: Mapping[str, str], raw: bytes, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """
    The body as sent before any ``Content-Encoding`` (asked for: ``identity``, but gzip or deflate
    are undone anyway), never longer than ``limit``: a compressed bomb is refused, not inflated.
    """
    encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",") if e.strip()]
    body = raw
    for encoding in reversed(encodings):
        if encoding == "identity":
            continue
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise EmpirioLabsServerError(f"the answer is encoded with {encoding[:40]!r}, which is not read")
        wbits = zlib.MAX_WBITS | 16 if encoding != "deflate" else (zlib.MAX_WBITS if body[:1] == b"\x78" else -15)
        inflater = zlib.decompressobj(wbits)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as error:
            raise EmpirioLabsServerError(f"the answer's {encoding} encoding is broken ({error})") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise EmpirioLabsAnswerTooLargeError(f"the answer inflates to more than {limit} bytes")
    return body


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; any failure (including ``RecursionError``) raises ``ValueError``."""
    try:
        return json.loads(body)
    except Exception as error:
        raise ValueError(f"not JSON ({type(error).__name__}: {str(error)[:200]})") from None


# ---------------------------------------------------------------------------------------------
# Errors.
# ---------------------------------------------------------------------------------------------


def _shown(text: Any, secret: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """What the server said, as an error message may hold it: without the key, short."""
    return scrub(text, secret, limit)


def describe(error: BaseException, secret: str) -> str:
    """``Type: message`` of an exception, without the key, short."""
    return f"{type(error).__name__}: {_shown(error, secret, 200)}"


def error_for(
    status_code: int, reason: str, headers: Mapping[str, str], body: bytes | None, secret: str
) -> EmpirioLabsError:
    """
    The typed error for a non-2xx answer, from the API's envelope where it can be read, without the key.

    :param status_code: the answer's status.
    :param reason: the answer's reason phrase.
    :param headers: the answer's headers (for the wait it asks for).
    :param body: the (decoded, bounded) body, or ``None`` when it could not be read.
    :param secret: the API key, removed from everything the server said.

    Which error class a status becomes is the outcome policy's (:func:`._outcome.error_class`),
    beside the statuses it retries, so one edit there changes the API's calls and the downloads alike.
    """
    code: Any = None
    message: Any = None
    try:
        payload = parse_json(body) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, Mapping):
        error = payload.get("error")
        if isinstance(error, Mapping):
            code = error.get("code") or error.get("type")
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        code = code or payload.get("code")
        message = message or payload.get("message") or payload.get("detail")
    if not message:
        message = reason or "no message"
    if 300 <= status_code < 400:
        location = _shown(headers.get("location", "nowhere"), secret, 200)
        message = f"{_shown(message, secret)} (redirect to {location}, not followed)"
    return error_class(status_code)(
        _shown(message, secret),
        status_code=status_code,
        code=_shown(code, secret, 100) if code else None,
        retry_after=server_wait(headers, status_code),
    )
