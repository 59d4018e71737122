"""What a generate task asked for, as the EmpirioLabs view shows it: pushed as XCom ``request``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.redaction import redact_text, redact_url

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.models import VideoRequest

__all__ = ["request_record"]


def _redacted(value: Any) -> Any:
    """The value with every URL in it redacted (an image URL may be signed: a credential)."""
    if isinstance(value, str):
        return redact_url(value) if "://" in value and " " not in value.strip() else redact_text(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _redacted(item) for key, item in value.items()}
    return value


def request_record(request: VideoRequest, conn_id: str, billed: VideoRequest | None = None) -> dict[str, Any]:
    """
    The rendered request (prompt, model, parameters, seed), its estimate and the connection id.

    The prompt is kept as written (it is what the user typed); images and ``extend_from`` URLs are
    redacted, since a signed image URL reads like any other.

    :param request: the validated request that was (or is about to be) sent.
    :param conn_id: the EmpirioLabs connection: the view unseals the job's URLs with it.
    :param billed: the request as it will be billed (a template's defaults merged), whose estimate
        and seconds are recorded; ``request`` itself by default.
    """
    billed = request if billed is None else billed
    fields = request.model_dump(mode="json", exclude_none=True)
    record = {
        key: (value if key == "prompt" else _redacted(value)) for key, value in fields.items() if value not in ([], {})
    }
    record["estimated_cost_usd"] = billed.estimated_cost_usd()
    if hasattr(billed, "image_count"):  # an image request: its count of images, not seconds of video
        record["image_count"] = billed.image_count
    else:
        record["billed_seconds"] = billed.billed_seconds
    record["empiriolabs_conn_id"] = conn_id
    return record
