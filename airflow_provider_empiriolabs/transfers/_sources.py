"""
What the transfer operator is told to copy: ``output_urls`` in the shapes a DAG can hand it.

A list of URLs, one URL, a list rendered by Jinja as text (JSON, or a Python ``repr`` when the DAG
does not render native objects), or the generate operator's summary mapping (``job_id`` and
``output_urls``, whose URLs may be sealed: see :mod:`airflow_provider_empiriolabs.sealing`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_empiriolabs.sealing import SEALED_KEY

__all__ = ["parse_output_urls"]


def parse_output_urls(value: Any) -> tuple[str | None, list[str], str | None]:
    """
    Accept a list, one URL, a rendered list (repr or JSON), or a summary mapping.

    :param value: the operator's ``output_urls``, rendered.
    :returns: the job id (from a summary), the URLs given in the clear, and a summary's sealed URLs.
    """
    job_id: str | None = None
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{(":
            parsed: Any = None
            for parse in (json.loads, ast.literal_eval):
                try:
                    parsed = parse(text)
                    break
                except (ValueError, SyntaxError):
                    continue
            if parsed is None:
                raise ValueError("output_urls looks like a list or mapping but could not be parsed")
            value = parsed
        else:
            value = [text] if text else []
    if isinstance(value, Mapping):
        job_id = str(value["job_id"]) if value.get("job_id") else None
        if value.get(SEALED_KEY):
            return job_id, [], str(value[SEALED_KEY])  # the clear URLs beside it are redacted
        value = value.get("output_urls") or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(u, str) for u in value):
        raise ValueError(f"output_urls must be a list of URLs, got {type(value).__name__}")
    return job_id, [u.strip() for u in value if u.strip()], None
