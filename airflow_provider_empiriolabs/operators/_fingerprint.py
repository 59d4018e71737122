"""
The request's fingerprint: what a cleared task compares to tell "the same video" from "a new one".

A finished video is reused, unpaid, only for the same request to the same account with the same
reference images. So the fingerprint covers the rendered request, which image files it names,
the sha256 of each image's bytes as read from storage (a file replaced under the same path is
another request), and the account: its base URL and a slow, salted hash of its API key. The
fingerprint is stored in the task state store, where DAG code can read it: the key is never in it,
and guessing the key from it costs a slow hash per guess.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.operators._reference_images import content_digests

__all__ = ["account_digest", "fingerprint", "request_fingerprint"]

#: Iterations of the slow hash that stands for the API key in the fingerprint. The fingerprint is
#: stored where DAG code can read it: guessing the key from it must cost a slow hash per guess.
_ACCOUNT_HASH_ITERATIONS = 100_000


#: The slow hashes this process computed, by base URL and the key's fast hash (the key itself is not
#: kept): a task reads its record on every try and resume, and the slow hash costs about 27 ms.
_ACCOUNT_DIGESTS: dict[tuple[str, str], str] = {}


def account_digest(base_url: str, api_key: str) -> str:
    """
    Which account a request goes to, without the key: a slow, salted hash of the key and base URL.

    Computed once per process and account (:data:`_ACCOUNT_DIGESTS`): the slowness is for whoever
    guesses keys from a stored fingerprint, not for the task that knows its key.

    :param base_url: the connection's API base URL.
    :param api_key: the connection's API key (never stored, never logged; only this digest is).
    """
    salt = b"airflow-provider-empiriolabs account v1|" + base_url.rstrip("/").encode()
    known = (salt.hex(), hashlib.sha256(api_key.encode()).hexdigest())
    digest = _ACCOUNT_DIGESTS.get(known)
    if digest is None:
        digest = _ACCOUNT_DIGESTS[known] = hashlib.pbkdf2_hmac(
            "sha256", api_key.encode(), salt, _ACCOUNT_HASH_ITERATIONS
        ).hex()
    return digest


def fingerprint(request: VideoRequest, images: Any = None, *, account: str | None = None, contents: Any = None) -> str:
    """
    A stable digest of what the request asks for (before any image upload), to tell requests apart.

    :param request: the rendered, validated request (file images in it are stand-ins).
    :param images: the image references as rendered (``s3://...``, local paths): which files.
    :param account: :func:`account_digest` of the connection the request goes to.
    :param contents: the sha256 of each reference image read from storage (``None`` for URLs).
    """
    canonical = json.dumps(
        {"request": request.model_dump(mode="json"), "images": images, "account": account, "contents": contents},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def request_fingerprint(
    request: VideoRequest, images: Any, *, base_url: str, api_key: str, images_conn_id: str | None
) -> str:
    """
    :func:`fingerprint` of a task's request to its account, its storage images read for their bytes.

    :param request: the rendered, validated request.
    :param images: the image references as rendered.
    :param base_url: the connection's API base URL.
    :param api_key: the connection's API key.
    :param images_conn_id: the connection for storage URLs that name none themselves.
    """
    return fingerprint(
        request,
        images,
        account=account_digest(base_url, api_key),
        contents=content_digests(images, images_conn_id),
    )
