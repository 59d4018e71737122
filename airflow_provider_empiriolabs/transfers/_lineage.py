"""
What the transfer tells Airflow about the objects it wrote: asset events and OpenLineage datasets.

Downstream DAGs are scheduled on the videos through an ``AssetAlias`` the operator declares in its
``outlets``; OpenLineage (when its provider is installed) sees the output URLs as inputs and the
objects as outputs. Recording either never fails a copy whose video landed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from airflow_provider_empiriolabs.redaction import redact_text

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_empiriolabs.transfers._copier import CopyResult

__all__ = [
    "STORED_COPY_XCOM_PREFIX",
    "TRANSFER_OPERATOR",
    "emit_asset_event",
    "lineage_dataset",
    "openlineage_facets",
    "stored_copy_key",
    "with_alias_outlet",
]

#: XCom key prefix of the transfer's record of each stored copy (``<prefix><output index>``): the
#: EmpirioLabs view reads it, with the asset events, from the transfer's task instances only.
STORED_COPY_XCOM_PREFIX = "empiriolabs_stored_copy_"
#: The operator class whose records of stored copies the EmpirioLabs view believes (``TaskInstance.operator``).
TRANSFER_OPERATOR = "EmpirioLabsToObjectStorageOperator"


def stored_copy_key(index: int) -> str:
    """The XCom key of the transfer's record of output ``index``'s stored copy."""
    return f"{STORED_COPY_XCOM_PREFIX}{index}"


def with_alias_outlet(kwargs: dict[str, Any], asset_alias: str | None) -> None:
    """
    Add ``AssetAlias(asset_alias)`` to ``kwargs["outlets"]`` unless it is there already.

    :param kwargs: an operator's keyword arguments, changed in place.
    :param asset_alias: the alias's name; ``None`` or empty adds nothing.
    """
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


def emit_asset_event(
    outlets: Iterable[Any], context: Context, result: CopyResult, job_id: str | None, index: int, log: Any
) -> None:
    """
    Record the copied object as an asset event (and an XCom of the transfer's task, for the
    EmpirioLabs view); a failure is a warning, never a failed copy.

    The video is in place and was paid for: failing the task now would make a retry copy it
    again, and would hide a video that landed behind a red task.

    :param outlets: the operator's outlets (its alias, or an ``Asset`` naming the very object).
    :param context: the task's context, whose ``outlet_events`` receive the event.
    :param result: the copy.
    :param job_id: the job the output came from, when known.
    :param index: the output's position in the job.
    :param log: where a failure is reported.
    """
    for what, record in (("asset event", _add_asset_event), ("record for the EmpirioLabs view", _record_stored_copy)):
        try:
            record(outlets, context, result, job_id, index)
        except Exception as error:
            log.warning(
                "%s is in place, but recording its %s failed (%s: %s); the copy stands",
                result.uri,
                what,
                type(error).__name__,
                redact_text(str(error)),
            )


def _record_stored_copy(
    outlets: Iterable[Any], context: Context, result: CopyResult, job_id: str | None, index: int
) -> None:
    """The copy as an XCom of the transfer's task (the view shows it even with no asset alias)."""
    ti = context.get("ti")
    if ti is None or job_id is None:
        return
    record = {"job_id": job_id, "output_index": index, "uri": result.uri, "size_bytes": result.size}
    ti.xcom_push(key=stored_copy_key(index), value=record)


def _add_asset_event(
    outlets: Iterable[Any], context: Context, result: CopyResult, job_id: str | None, index: int
) -> None:
    outlet_events = cast("Mapping[Any, Any] | None", context.get("outlet_events"))
    if outlet_events is None:
        return
    from airflow.sdk import Asset, AssetAlias

    extra: dict[str, Any] = {
        "job_id": job_id,
        "output_index": index,
        "size_bytes": result.size,
        "sha256": result.sha256,
        "source": result.source,
    }
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            outlet_events[outlet].add(Asset(uri=result.uri), extra=extra)
        elif isinstance(outlet, Asset) and outlet.uri == result.uri:
            outlet_events[outlet].extra.update(extra)


def openlineage_facets(results: Iterable[CopyResult]) -> OperatorLineage | None:
    """
    The output URLs as inputs and the written objects as outputs, for OpenLineage.

    :param results: the copies of one run.
    :returns: ``None`` when the ``openlineage`` provider (not a dependency) is not installed.
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return None
    inputs = []
    outputs = []
    for result in results:
        namespace, name = lineage_dataset(result.source)
        inputs.append(Dataset(namespace=namespace, name=name))
        namespace, name = lineage_dataset(result.uri)
        outputs.append(Dataset(namespace=namespace, name=name))
    return OperatorLineage(inputs=inputs, outputs=outputs)
