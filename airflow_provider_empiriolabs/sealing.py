"""
Signed output URLs at rest: sealed with the account's key wherever Airflow keeps them.

A signed output URL downloads the video for 7 days, whoever holds it. Airflow keeps task results
in XCom, the job record in the task state store and templated values in rendered fields, and its
task supervisor logs each of those messages at DEBUG, structured, past the secrets masker. So a
summary never holds a signed URL in the clear: ``output_urls`` are redacted (readable, powerless)
and ``sealed_output_urls`` holds them encrypted (Fernet) under a key derived from the account's
API key. Whatever can read the EmpirioLabs connection (the transfer, the sensor, a task of yours
through :func:`unseal_output_urls`) can open them; a log, the database or the UI cannot.

The key is derived, not stored: nothing to configure, and rotating the API key retires every
sealed URL (the transfer then reads fresh URLs from the job while the API keeps it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_empiriolabs.redaction import redact_url

__all__ = ["SEALED_KEY", "seal_summary", "unseal", "unseal_output_urls"]

#: The summary key that holds the sealed URLs.
SEALED_KEY = "sealed_output_urls"
_PREFIX = "elseal1:"


def _fernet(api_key: str) -> Any:
    from cryptography.fernet import Fernet  # not on the DAG-parse path

    digest = hmac.new(api_key.encode(), b"airflow-provider-empiriolabs sealed output URLs v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal_summary(summary: Mapping[str, Any], api_key: str) -> dict[str, Any]:
    """
    The summary with its output URLs redacted, and sealed under ``api_key`` beside them.

    :param summary: a job summary (``job_id``, ``status``, ``output_urls``...).
    :param api_key: the account's API key (from the EmpirioLabs connection).
    """
    urls = [str(url) for url in summary.get("output_urls") or []]
    sealed = dict(summary)
    sealed["output_urls"] = [redact_url(url) for url in urls]
    sealed[SEALED_KEY] = _PREFIX + _fernet(api_key).encrypt(json.dumps(urls).encode()).decode("ascii")
    return sealed


def unseal(token: str, api_key: str) -> list[str]:
    """
    The signed URLs sealed in ``token``; ``ValueError`` when it was not sealed with this key.

    :param token: a summary's ``sealed_output_urls``.
    :param api_key: the account's API key.
    """
    if not isinstance(token, str) or not token.startswith(_PREFIX):
        raise ValueError(f"{SEALED_KEY}: not a sealed value of this provider")
    from cryptography.fernet import InvalidToken

    try:
        urls = json.loads(_fernet(api_key).decrypt(token.removeprefix(_PREFIX).encode("ascii")))
    except (InvalidToken, ValueError, UnicodeError):
        raise ValueError(f"{SEALED_KEY}: sealed under another API key (was the connection's key changed?)") from None
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise ValueError(f"{SEALED_KEY}: the sealed value is not a list of URLs")
    return urls


def unseal_output_urls(summary: Mapping[str, Any], empiriolabs_conn_id: str = "empiriolabs_default") -> list[str]:
    """
    The signed output URLs of a summary the generate operator or the sensor returned.

    For a task of your own that needs the URLs themselves; mind that each one is a credential.

    :param summary: the task's return value.
    :param empiriolabs_conn_id: the connection of the account that made the job.
    """
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.redaction import mask_signed_url

    urls = unseal(str(summary.get(SEALED_KEY) or ""), EmpirioLabsHook(empiriolabs_conn_id).settings.api_key)
    for url in urls:
        mask_signed_url(url)
    return urls
