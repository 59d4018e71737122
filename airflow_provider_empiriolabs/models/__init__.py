"""
Typed requests and responses of the EmpirioLabs API, the job status classes and the price table.

Everything the provider knows about the API's shapes lives here, so that the hook, operators,
trigger and sensor agree. Requests are strict (a rejected request costs a round trip, an accepted
wrong one costs money); responses are parsed tolerantly, because most of their shape is not
documented (``docs/empiriolabs-api.md`` says what is known and what is assumed), but never
trust an id or a URL they hold.

The package's modules, one idea each: :mod:`.text` (what an id, a URL, a prompt may hold),
:mod:`.pricing` (the price table and what changes the bill), :mod:`.request` (the request),
:mod:`.errors` (the message of a refused request), :mod:`.jobs` (jobs and their status),
:mod:`.parsing` (reading the API's values safely), :mod:`.account` (uploads and usage) and
:mod:`.compose_request` (Compose: its request and what its job's result holds).
Import from here: the names below are the public ones.
"""

from __future__ import annotations

from airflow_provider_empiriolabs.models import pricing as _pricing
from airflow_provider_empiriolabs.models.account import AccountUsage, UploadedFile, UsageEvent
from airflow_provider_empiriolabs.models.compose_request import ComposeRequest, ComposeResult, Storyboard
from airflow_provider_empiriolabs.models.errors import describe_validation_error
from airflow_provider_empiriolabs.models.fields import MAX_SEED, FieldUse, request_fields
from airflow_provider_empiriolabs.models.jobs import (
    TRANSIENT_JOB_ERROR_CODES,
    Job,
    JobError,
    JobStatus,
    SubmittedJob,
)
from airflow_provider_empiriolabs.models.pricing import (
    BILL_NEUTRAL_PARAMS,
    HAPPYHORSE_MODEL,
    MAX_PRICED_VIDEOS,
    VIDEO_COUNT_PARAMS,
    billed_seconds,
    estimate_cost_usd,
)
from airflow_provider_empiriolabs.models.request import (
    HAPPYHORSE_ASPECT_RATIOS,
    HAPPYHORSE_RESOLUTIONS,
    HAPPYHORSE_SECONDS,
    MAX_PROMPT_CHARS,
    MAX_REFERENCE_IMAGES,
    UNPRICED_REQUEST_FIELDS,
    ExtendFrom,
    Mode,
    VideoRequest,
    displayed_parameters,
    request_body_fields,
)
from airflow_provider_empiriolabs.models.text import JOB_ID_RULE, check_job_id, is_job_id

#: USD per second of generated video, by model and resolution (EmpirioLabs pricing page); the same
#: table as :mod:`.pricing`'s, named here for the docs and for code that imports it from here.
PRICE_USD_PER_SECOND: dict[str, dict[str, float]] = _pricing.PRICE_USD_PER_SECOND

__all__ = [
    "BILL_NEUTRAL_PARAMS",
    "HAPPYHORSE_ASPECT_RATIOS",
    "HAPPYHORSE_MODEL",
    "HAPPYHORSE_RESOLUTIONS",
    "HAPPYHORSE_SECONDS",
    "JOB_ID_RULE",
    "MAX_PRICED_VIDEOS",
    "MAX_PROMPT_CHARS",
    "MAX_REFERENCE_IMAGES",
    "MAX_SEED",
    "PRICE_USD_PER_SECOND",
    "TRANSIENT_JOB_ERROR_CODES",
    "UNPRICED_REQUEST_FIELDS",
    "VIDEO_COUNT_PARAMS",
    "AccountUsage",
    "ComposeRequest",
    "ComposeResult",
    "ExtendFrom",
    "FieldUse",
    "Job",
    "JobError",
    "JobStatus",
    "Mode",
    "Storyboard",
    "SubmittedJob",
    "UploadedFile",
    "UsageEvent",
    "VideoRequest",
    "billed_seconds",
    "check_job_id",
    "describe_validation_error",
    "displayed_parameters",
    "estimate_cost_usd",
    "is_job_id",
    "request_body_fields",
    "request_fields",
]
