"""
Redaction: the one rule for what of a URL may be shown, and the log filter that applies it.

A signed output URL's query (``expires``, ``signature``) grants access to the video for 7 days
and its user info is a credential: neither may reach a log line, an error or a page. Every URL
the provider mentions goes through :func:`redact_url`; records of the HTTP libraries' loggers go
through :class:`RedactUrlsFilter`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

__all__ = ["RedactUrlsFilter", "redact_text", "redact_url", "redacted_http_logs"]

_URL_IN_TEXT = re.compile(r"https?://[^\s'\"<>]+", re.IGNORECASE)


def redact_url(url: object) -> str:
    """
    Return ``url`` without its query string, fragment and user info, for logs and errors.

    A signed output URL's query (``expires``, ``signature``) is what grants access: it must never
    be logged, so every URL the transfer mentions goes through here first.

    :param url: a URL (``str`` or ``httpx.URL``).
    """
    parts = urlsplit(str(url))
    if not parts.scheme:
        return str(url).split("?", 1)[0].split("#", 1)[0]
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def redact_text(text: str) -> str:
    """Every URL in ``text`` redacted by :func:`redact_url`."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


class RedactUrlsFilter(logging.Filter):
    """Strips query strings from URLs in records of the ``httpx`` logger (it logs every request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(a) if type(a).__name__ == "URL" or (isinstance(a, str) and "://" in a) else a
                for a in record.args
            )
        if isinstance(record.msg, str) and "://" in record.msg:
            record.msg = redact_text(record.msg)
        return True


@contextlib.contextmanager
def redacted_http_logs() -> Iterator[None]:
    """While the block runs, the ``httpx`` logger's records are redacted."""
    httpx_logger = logging.getLogger("httpx")
    redactor = RedactUrlsFilter()
    httpx_logger.addFilter(redactor)
    try:
        yield
    finally:
        httpx_logger.removeFilter(redactor)
