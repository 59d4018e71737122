"""
Small pieces of the transfer operator that need none of its state: reading ``output_urls``, the
API's error messages, lineage names, the asset alias in ``outlets``, the User-Agent.

Re-exported by :mod:`airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage`.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_empiriolabs.sealing import SEALED_KEY
from airflow_provider_empiriolabs.transfers._output_trust import OutputTrustPolicy

if TYPE_CHECKING:
    import httpx

__all__ = ["check_output_url", "lineage_dataset"]


def _what_the_server_said(response: httpx.Response, limit: int = 4096) -> str:
    """The code and message of a small JSON error body, as `` (code: message)``, else ``""``."""
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


def check_output_url(url: str, *, allow_plain_http: bool | Callable[[], bool]) -> None:
    """
    Refuse an output URL by its shape: anything but http(s), plain http unless allowed, user info,
    cloud-metadata host names, literal non-public addresses (see :class:`OutputTrustPolicy`).

    :param url: the output URL to check.
    :param allow_plain_http: whether plain http is acceptable (or a callable deciding it lazily).
    """
    allowed = allow_plain_http() if callable(allow_plain_http) else allow_plain_http
    OutputTrustPolicy(allow_plain_http=allowed).check_url(url)


def _with_alias_outlet(kwargs: dict[str, Any], asset_alias: str | None) -> None:
    """Add ``AssetAlias(asset_alias)`` to ``kwargs["outlets"]`` unless it is there already."""
    if not asset_alias:
        return
    from airflow.sdk import AssetAlias

    outlets = kwargs.pop("outlets", None)
    outlets = [] if outlets is None else list(outlets) if isinstance(outlets, (list, tuple)) else [outlets]
    if not any(isinstance(o, AssetAlias) and o.name == asset_alias for o in outlets):
        outlets.append(AssetAlias(asset_alias))
    kwargs["outlets"] = outlets


def lineage_dataset(uri: str) -> tuple[str, str]:
    """
    OpenLineage ``(namespace, name)`` of a URI, following its naming conventions.

    ``s3://bucket/key`` -> (``s3://bucket``, ``key``); ``file:///p`` -> (``file``, ``/p``);
    ``https://host/path`` -> (``https://host``, ``path``).

    :param uri: an object URI or a (redacted) source URL.
    """
    parts = urlsplit(uri)
    if parts.scheme in ("file", "local", ""):
        return "file", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"


def _parse_output_urls(value: Any) -> tuple[str | None, list[str], str | None]:
    """
    Accept a list, one URL, a rendered list (repr or JSON), or a summary mapping.

    Returns the job id (from a summary), the URLs given in the clear, and a summary's sealed URLs.
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


def _user_agent() -> str:
    from airflow_provider_empiriolabs import __version__

    return f"airflow-provider-empiriolabs/{__version__} (object-storage transfer)"
