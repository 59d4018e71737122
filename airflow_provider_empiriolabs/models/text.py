"""
What text may hold before it reaches a URL, a log line, a file name or the API: one rule for each.

The values come from two untrusted places: users (DAG arguments, rendered templates, XCom) and the
API's answers. A job id names a URL path, an XCom value and a stored object's folder, so it gets a
strict allow-list; an URL must be a whole ``http(s)://`` URL with nothing invisible in it; a prompt
must show something; and any value echoed in a message is shortened and escaped first.
"""

from __future__ import annotations

import re
import reprlib
import unicodedata
from typing import Any

from airflow_provider_empiriolabs.redaction import redact_log_text

#: What a job id may be, in words, for error messages.
JOB_ID_RULE = "1 to 128 letters, digits and . _ : -, starting with a letter or a digit, such as 'job_...'"
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")

_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_HTTP_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_UPLOADED_PATH = re.compile(r"bunny://\S+", re.IGNORECASE)

#: Letters and symbols that render as nothing (Hangul fillers, the blank Braille pattern).
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
#: Control characters a prompt may hold: line breaks and tabs.
_PROMPT_CONTROLS = frozenset("\t\n\r")


def is_job_id(value: object) -> bool:
    """
    Return whether ``value`` is a job id that is safe in a URL path, a log line and a file name.

    :param value: the candidate, from a user or from the API.
    """
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None and value not in {".", ".."}


def check_job_id(job_id: Any, field: str = "job_id") -> str:
    """
    Return ``job_id`` if it can name a job, else raise ``ValueError`` naming the field.

    A job id is 1 to 128 ASCII letters, digits and ``. _ : -``, starting with a letter or a
    digit: never ``.`` or ``..``, a ``/``, a blank, a control or bidirectional character.

    :param job_id: the id to check, from a user or from the API.
    :param field: the name the message gives the value.
    """
    if not is_job_id(job_id):
        raise ValueError(f"{field}: {shown(job_id)} is not a job id ({JOB_ID_RULE})")
    return str(job_id)


def is_param_name(value: object) -> bool:
    """
    Return whether ``value`` can name a field of a request body: 1 to 64 letters, digits, ``_``
    and ``-``, not starting with a digit or ``-``.

    :param value: the candidate.
    """
    return isinstance(value, str) and _PARAM_NAME.fullmatch(value) is not None


def is_http_url(value: object) -> bool:
    """
    Return whether ``value`` is a whole ``http://`` or ``https://`` URL (any case) with no blank,
    control or invisible character in it.

    :param value: the candidate.
    """
    return isinstance(value, str) and value.isprintable() and _HTTP_URL.fullmatch(value) is not None


def is_uploaded_path(value: object) -> bool:
    """
    Return whether ``value`` is a ``bunny://`` path as ``POST /v1/files/upload`` returns them.

    :param value: the candidate.
    """
    return isinstance(value, str) and value.isprintable() and _UPLOADED_PATH.fullmatch(value) is not None


def is_visible(char: str) -> bool:
    """
    Return whether one character shows on screen: not a space, a control, a format character
    (zero-width space and joiners, BOM, word joiner, bidirectional marks), a combining mark alone,
    or a blank glyph.

    :param char: one character.
    """
    return (
        char.isprintable()
        and not char.isspace()
        and unicodedata.category(char) not in {"Mn", "Me"}
        and char not in _BLANK_GLYPHS
    )


def has_visible_text(text: str) -> bool:
    """
    Return whether ``text`` holds at least one visible character.

    :param text: the text to look at.
    """
    return any(is_visible(char) for char in text)


def text_problem(text: str, max_chars: int | None = None) -> str | None:
    """
    What is wrong with ``text`` as text the API renders from (a prompt, a brief, an instruction), or ``None``.

    The rule: no control character but tabs and line breaks (:func:`forbidden_prompt_controls`), at
    most ``max_chars`` characters, and at least one visible character (:func:`has_visible_text`).

    :param text: the text.
    :param max_chars: the most characters allowed; ``None`` for no limit.
    """
    controls = forbidden_prompt_controls(text)
    if controls:
        return (
            f"must not hold control characters such as NUL (found {', '.join(controls[:3])}); "
            "tabs and line breaks are allowed"
        )
    if max_chars is not None and len(text) > max_chars:
        return f"too long: at most {max_chars:,} characters (got {len(text):,}); it is 1 to {max_chars:,} characters"
    if not has_visible_text(text):
        count = f"{len(text):,} character{'' if len(text) == 1 else 's'}"
        what = f"blank: no visible character among {count}" if text else "empty"
        rule = f"must be 1 to {max_chars:,} characters, not blank" if max_chars is not None else "must not be blank"
        return f"{what}; {rule}: at least one visible character"
    return None


def forbidden_prompt_controls(text: str) -> list[str]:
    """
    Return the control characters of ``text`` a prompt must not hold (NUL and every other C0 or C1
    control except tab and line breaks), each as ``U+XXXX``, in order of first appearance.

    :param text: the prompt.
    """
    found = dict.fromkeys(
        f"U+{ord(char):04X}" for char in text if unicodedata.category(char) == "Cc" and char not in _PROMPT_CONTROLS
    )
    return list(found)


class _Shown(reprlib.Repr):
    """``reprlib`` that shows text as a log line may (:func:`.redaction.redact_log_text`), before cutting it."""

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(redact_log_text(x), level)


_REPR = _Shown()
_REPR.maxlevel = 2
_REPR.maxstring = 57
_REPR.maxother = 57
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 5


def shown(value: Any) -> str:
    """
    Return a short, escaped ``repr`` of ``value`` for a message: control and bidirectional
    characters escaped, long text and deep nesting cut (never a ``RecursionError``); in each
    string, URL queries (signatures), credentials and registered secrets are masked before it is
    cut, so a cut never leaves a signature's tail in view.

    :param value: what to show.
    """
    try:
        return _REPR.repr(value)
    except Exception:  # a user object whose repr fails must not hide the real problem
        return f"<{type(value).__name__}>"
