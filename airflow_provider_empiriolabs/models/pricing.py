"""
What a request will cost, and what in it keeps the cost unknown.

Prices live in the model specs (:mod:`.spec`, files in ``models/specs/``; the live catalogue's
values replace them at run time): a model is priced by the rows of its spec that apply to the
request. Whatever could change the bill and has no price (a model without a spec, a parameter its
spec does not know, a template's defaults before they are read) is named as unpriced: a cap
cannot hold over it, so under ``max_cost_usd`` such a request is refused, naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_empiriolabs.models.catalogue import shipped_models, shipped_spec
from airflow_provider_empiriolabs.models.spec import PLATFORM_FIELDS, ModelSpec, whole_seconds
from airflow_provider_empiriolabs.models.text import shown

HAPPYHORSE_MODEL = "happyhorse-1-1"
#: The API's default seconds when a request leaves ``duration`` unset (a model's spec may say otherwise).
DEFAULT_SECONDS = 5


def billed_seconds(seconds: float | None) -> int:
    """
    Return the whole seconds the API bills for ``seconds`` of video: 5 when unset, else rounded up.

    :param seconds: seconds of video asked for; ``None`` means the API's default.
    """
    if seconds is None:
        return DEFAULT_SECONDS
    if not math.isfinite(seconds):
        raise ValueError(f"duration: must be a finite number of seconds (got {seconds!r})")
    return whole_seconds(seconds)


def estimate_cost_usd(model: str, resolution: str | None, seconds: float | None) -> float | None:
    """
    Return what a video of ``model`` at ``resolution`` for ``seconds`` costs, by its spec's price
    rows and defaults; ``None`` when unknown (no spec, no single row, or a row needing more).

    :param model: model id, e.g. ``happyhorse-1-1``.
    :param resolution: e.g. ``720p``; ``None`` means the model's default.
    :param seconds: seconds of video, billed in whole seconds (5.5 is billed as 6); ``None`` means
        the model's default.
    """
    spec = shipped_spec(model)
    if spec is None or (seconds is not None and not math.isfinite(seconds)):
        return None
    body = {name: value for name, value in (("resolution", resolution), ("duration", seconds)) if value is not None}
    return spec.estimate(body).usd


def unpriced_fields_of(spec: ModelSpec | None, model: str, body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """
    Each field of ``body`` that may change the bill and has no known price under ``spec``, with why.

    :param spec: the model's spec (``None``: the model has none, so nothing in the body is priced).
    :param model: the model id, named when it has no spec.
    :param body: the JSON body to be sent.
    """
    if spec is None:
        return [("model", f"{shown(model)} has no known price (no model spec)")]
    known = set(spec.parameters) | PLATFORM_FIELDS[spec.kind]
    unpriced = [(name, "may change the bill and is not in the model's spec") for name in body if name not in known]
    estimate = spec.estimate(body)
    if estimate.usd is None and not unpriced:
        unpriced.append(("model", f"{model} has no price here: {estimate.why}"))
    return unpriced


def describe_cost_problem(
    *,
    model: str,
    estimate: float | None,
    unpriced: list[tuple[str, str]],
    max_cost_usd: float | None,
    unpriced_fields: Sequence[str],
    kind: str = "video",
) -> str | None:
    """
    Return why a request may not be sent under ``max_cost_usd``, or ``None`` when it may.

    :param model: the request's model.
    :param estimate: the request's estimate (``None`` when unknown).
    :param unpriced: the fields without a known price, with why (see ``VideoRequest.unpriced``).
    :param max_cost_usd: the cap in USD; ``None`` means no cap.
    :param unpriced_fields: the request fields whose price is unknown (``UNPRICED_REQUEST_FIELDS``,
        from the request model): the message says to leave them unset.
    :param kind: the kind of model (``video``, ``image``): the priced ones are named.
    """
    if max_cost_usd is None:
        return None
    if isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, (int, float)) or not max_cost_usd >= 0:
        return f"max_cost_usd: must be a number of USD, 0 or more (got {shown(max_cost_usd)})"
    if not math.isfinite(max_cost_usd):
        return f"max_cost_usd: must be a finite number of USD (got {shown(max_cost_usd)})"
    if model not in shipped_models(kind) and any(field == "model" for field, _ in unpriced):
        rest = "".join(f"; {field} {why}" for field, why in unpriced if field != "model")  # every field, not the first
        return (
            f"max_cost_usd: the estimated cost is unknown (no price for this model, {shown(model)}: it has no "
            f"model spec){rest}; under a cap the model must be one with a known price: "
            f"{', '.join(shipped_models(kind))}"
        )
    if unpriced or estimate is None:
        named = "; ".join(f"{field} {why}" for field, why in unpriced) or "no price row applies"
        return (
            f"max_cost_usd: the estimated cost is unknown: {named}. Under a cap, leave "
            f"{' and '.join(unpriced_fields)} unset, and give extra_params only the parameters of the model's spec"
        )
    if estimate > max_cost_usd:
        return f"max_cost_usd: the estimated cost ${estimate:.2f} exceeds the limit of ${max_cost_usd:.2f}"
    return None
