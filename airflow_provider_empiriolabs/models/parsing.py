"""
Reading the API's values tolerantly, and safely.

Most of the API's answers are undocumented, so fields are read where they are seen in the wild and
ignored when unreadable. And an answer is untrusted: nothing here calls ``str`` or ``repr`` on an
arbitrary value (a deeply nested one raises ``RecursionError``), walks nesting without a bound, or
lets a control or bidirectional character through into text that reaches a log line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from airflow_provider_empiriolabs.models.text import check_job_id, is_http_url

#: How deep output URLs are looked for below the key that holds them (``data[*].url`` is 2).
MAX_URL_DEPTH = 4
_MAX_INT = 10**18


def safe_text(value: Any, limit: int = 200) -> str | None:
    """
    Return a string or a number of the API as text fit for a log line, or ``None`` for anything else.

    Characters that are not printable (controls, line breaks, zero-width and bidirectional
    characters) are escaped (``\\u202e``), and the text is cut to ``limit`` characters.

    :param value: the API's value.
    :param limit: the longest text returned.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -_MAX_INT < value < _MAX_INT else None
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value[: limit * 2]
    if not text.isprintable():
        text = "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def api_job_id(value: Any) -> str:
    """
    Return the job id the API gave, if it is a safe one (see :func:`.text.check_job_id`).

    A number is read as its digits; anything else that is not a safe id raises ``ValueError``.

    :param value: the ``job_id`` (or ``id``) of an answer.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_INT:
        value = str(value)
    return check_job_id(value, "the API's job id")


def number(value: Any) -> float | None:
    """
    Return a finite number from a number or a numeric string, else ``None``.

    :param value: the API's value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and len(value) > 64:
        return None
    try:
        result = float(value)
    except (ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def fraction(value: Any) -> float | None:
    """
    Return a progress as a fraction 0 to 1 (a percent above 1 is divided by 100), else ``None``.

    :param value: the API's value.
    """
    result = number(value)
    if result is None:
        return None
    if result > 1:  # some APIs report percent
        result /= 100
    return min(max(result, 0.0), 1.0)


def timestamp(value: Any) -> datetime | None:
    """
    Return an ISO 8601 timestamp as a ``datetime``, else ``None``.

    :param value: the API's value.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def urls_in(value: Any, depth: int = 0) -> Iterable[str]:
    """
    Yield the ``http(s)`` URLs (any case) in a value: the value itself, its ``url`` or ``video_url``,
    or those of its items, at most :data:`MAX_URL_DEPTH` levels down. Other text is skipped.

    :param value: the API's value.
    :param depth: how deep ``value`` already is.
    """
    if isinstance(value, str):
        if is_http_url(value):
            yield value
    elif depth >= MAX_URL_DEPTH:
        return
    elif isinstance(value, Mapping):
        for key in ("url", "video_url"):
            if isinstance(value.get(key), str):
                yield from urls_in(value[key], depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from urls_in(item, depth + 1)


def output_urls(result: Mapping[str, Any]) -> list[str]:
    """
    ``result.data[*].url`` as served; else the other places an output URL is seen in the wild.

    :param result: the job's ``result`` object.
    """
    for key in ("data", "url", "video_url", "output", "outputs", "videos"):
        urls = list(dict.fromkeys(urls_in(result.get(key))))
        if urls:
            return urls
    return []
