"""
Each call of the API, described once: method, path, body and the parser of its answer.

The hook runs these descriptions synchronously or asynchronously (:mod:`.empiriolabs`); the job
id is checked here, both when it goes into a URL and when the API gives a new one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import quote

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.hooks._exchange import Call, SendGuard
from airflow_provider_empiriolabs.models import (
    AccountUsage,
    Job,
    SubmittedJob,
    UploadedFile,
    VideoRequest,
    check_job_id,
)

#: The longest job id accepted from the API (real ones are ``job_`` and a few dozen characters).
MAX_JOB_ID_CHARS = 256


def submit(request: VideoRequest, guard: SendGuard | None = None) -> Call[str]:
    return Call(
        "POST",
        "/v1/videos/generations",
        lambda body: usable_job_id(SubmittedJob.from_api(body).job_id),
        json=request.to_payload(),
        creates_job=True,
        guard=guard,
    )


def job(job_id: str) -> Call[Job]:
    return Call("GET", job_path(job_id), Job.from_api)


def models() -> Call[list[dict[str, Any]]]:
    def parse(body: Any) -> list[dict[str, Any]]:
        items = body.get("data", body.get("models")) if isinstance(body, Mapping) else body
        if not isinstance(items, list):
            raise ValueError("expected a list of models")
        return [item for item in items if isinstance(item, dict)]

    return Call("GET", "/v1/models", parse)


def model(model_id: str) -> Call[dict[str, Any]]:
    def parse(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object for a model")
        return body

    return Call("GET", f"/v1/models/{model_id}", parse)


def usage(limit: int, model: str | None, since: str | None) -> Call[AccountUsage]:
    params = {"limit": limit, "model": model, "from": since}
    return Call(
        "GET",
        "/v1/account/usage",
        AccountUsage.from_api,
        params={k: v for k, v in params.items() if v is not None},
    )


def upload(content: bytes | IO[bytes], filename: str, content_type: str) -> Call[UploadedFile]:
    def files() -> Mapping[str, Any]:
        if not isinstance(content, bytes):
            content.seek(0)  # a retry sends the whole file again
        return {"file": (filename, content, content_type)}

    return Call("POST", "/v1/files/upload", UploadedFile.model_validate, files=files)


def job_path(job_id: Any) -> str:
    """
    The job's path in the API, its id percent-encoded (a newline or NUL cannot break the URL).

    :param job_id: the id (see :func:`check_job_id`); ``.`` or ``..`` are refused too, as URLs
        resolve them to another path.
    """
    segment = quote(check_job_id(job_id), safe="")
    if segment in (".", ".."):
        raise EmpirioLabsRequestError(f"job_id: {job_id!r} cannot name a job in a URL path")
    return f"/v1/jobs/{segment}"


def usable_job_id(job_id: str) -> str:
    """
    The id the API gave a new job, if it can be kept and polled safely; else ``ValueError``.

    Refused: what :func:`job_path` refuses, more than :data:`MAX_JOB_ID_CHARS` characters, and
    control, format (such as U+202E, which reverses text) or space characters. The submission is
    then reported as of unknown outcome: it was accepted, but that job cannot be followed.
    """
    shown = repr(job_id[:60]) + ("..." if len(job_id) > 60 else "")
    if len(job_id) > MAX_JOB_ID_CHARS or any(unicodedata.category(ch)[0] in "CZ" for ch in job_id):
        raise ValueError(f"the job id it returned, {shown}, cannot be kept or polled safely")
    job_path(job_id)
    return job_id
