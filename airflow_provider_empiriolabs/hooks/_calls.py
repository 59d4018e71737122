"""
Each call of the API, described once: method, path, body and the parser of its answer.

The hook runs these descriptions synchronously or asynchronously (:mod:`.empiriolabs`). A job id
is checked by the one rule (:func:`~airflow_provider_empiriolabs.models.text.check_job_id`) when
it goes into a URL, and when the API gives a new one (:meth:`SubmittedJob.from_api`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import quote

from airflow_provider_empiriolabs.hooks._exchange import Call, SendGuard
from airflow_provider_empiriolabs.models import (
    AccountUsage,
    Job,
    SubmittedJob,
    UploadedFile,
    VideoRequest,
    check_job_id,
)


def submit(request: VideoRequest, guard: SendGuard | None = None) -> Call[str]:
    """The one billed POST of every kind of job: the request model names its endpoint."""
    return Call(
        "POST",
        type(request).endpoint,
        lambda body: SubmittedJob.from_api(body).job_id,  # an id that cannot name a job: ValueError
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

    :param job_id: the id (see :func:`check_job_id`, which refuses ``.`` and ``..``: URLs resolve
        them to another path).
    """
    return f"/v1/jobs/{quote(check_job_id(job_id), safe='')}"
