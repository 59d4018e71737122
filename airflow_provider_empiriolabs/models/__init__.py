"""
Typed requests and responses of the EmpirioLabs API, the job status classes and the price table.

Everything the provider knows about the API's shapes lives here, so that the hook, operators,
trigger and sensor agree. Requests are strict (a rejected request costs a round trip, an accepted
wrong one costs money); responses are parsed tolerantly, because most of their shape is not
documented (``docs/empiriolabs-api.md`` says what is known and what is assumed), but never
trust an id or a URL they hold.

The package's modules, one idea each: :mod:`.text` (what an id, a URL, a prompt may hold),
:mod:`.spec` (a model's parameters, rules and price rows, as data), :mod:`.catalogue` (the spec
files), :mod:`.pricing` (what a request costs, and what keeps it unknown), :mod:`.request` (the request),
:mod:`.errors` (the message of a refused request), :mod:`.jobs` (jobs and their status),
:mod:`.parsing` (reading the API's values safely) and :mod:`.account` (uploads and usage).
Import from here: the names below are the public ones.
"""

from __future__ import annotations

from airflow_provider_empiriolabs.models.account import AccountUsage, UploadedFile, UsageEvent
from airflow_provider_empiriolabs.models.catalogue import shipped_models, shipped_spec
from airflow_provider_empiriolabs.models.errors import describe_validation_error
from airflow_provider_empiriolabs.models.fields import MAX_SEED, FieldUse, request_fields
from airflow_provider_empiriolabs.models.jobs import (
    TRANSIENT_JOB_ERROR_CODES,
    Job,
    JobError,
    JobStatus,
    SubmittedJob,
)
from airflow_provider_empiriolabs.models.pricing import HAPPYHORSE_MODEL, billed_seconds, estimate_cost_usd
from airflow_provider_empiriolabs.models.request import (
    HAPPYHORSE_ASPECT_RATIOS,
    HAPPYHORSE_RESOLUTIONS,
    HAPPYHORSE_SECONDS,
    MAX_PROMPT_CHARS,
    MAX_REFERENCE_IMAGES,
    UNPRICED_REQUEST_FIELDS,
    VALIDATION_MODES,
    ExtendFrom,
    Mode,
    VideoRequest,
    displayed_parameters,
    request_body_fields,
)
from airflow_provider_empiriolabs.models.spec import Estimate, ModelSpec, Param, PriceRow, Rule
from airflow_provider_empiriolabs.models.text import JOB_ID_RULE, check_job_id, is_job_id

__all__ = [
    "HAPPYHORSE_ASPECT_RATIOS",
    "HAPPYHORSE_MODEL",
    "HAPPYHORSE_RESOLUTIONS",
    "HAPPYHORSE_SECONDS",
    "JOB_ID_RULE",
    "MAX_PROMPT_CHARS",
    "MAX_REFERENCE_IMAGES",
    "MAX_SEED",
    "TRANSIENT_JOB_ERROR_CODES",
    "UNPRICED_REQUEST_FIELDS",
    "VALIDATION_MODES",
    "AccountUsage",
    "Estimate",
    "ExtendFrom",
    "FieldUse",
    "Job",
    "JobError",
    "JobStatus",
    "Mode",
    "ModelSpec",
    "Param",
    "PriceRow",
    "Rule",
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
    "shipped_models",
    "shipped_spec",
]
