"""
The price table, and what in a request changes the bill.

HappyHorse 1.1 is billed per second of video, by resolution (DOC), in whole seconds (the usage the
API reports counts ``billable_units`` of one ``video-second``). Everything else in a request that
could change the bill is either priced here (the number of videos asked for) or named as unpriced:
a cap cannot hold over a field whose price is unknown, so under ``max_cost_usd`` such a request is
refused, naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from airflow_provider_empiriolabs.models.text import is_param_name, shown

HAPPYHORSE_MODEL = "happyhorse-1-1"
#: The API's defaults when a request leaves them unset.
DEFAULT_RESOLUTION = "720p"
DEFAULT_SECONDS = 5

#: USD per second of generated video, by model and resolution (EmpirioLabs pricing page).
PRICE_USD_PER_SECOND: dict[str, dict[str, float]] = {
    HAPPYHORSE_MODEL: {"720p": 0.14, "1080p": 0.18},
}

#: ``extra_params`` keys that ask for several videos in one request: each video is billed, so the
#: estimate is multiplied by the count (an over-estimate if the API ignores the key: safe for a cap).
VIDEO_COUNT_PARAMS = ("n", "num_outputs")
#: The largest count of videos priced; a larger one is left unpriced (and refused under a cap).
MAX_PRICED_VIDEOS = 100
#: ``extra_params`` keys known not to change the bill: text that steers the picture.
BILL_NEUTRAL_PARAMS = frozenset({"negative_prompt"})

_NAMED_PATHS = 5  # how many nested keys of one unpriced extra_params value a message names


def billed_seconds(seconds: float | None) -> int:
    """
    Return the whole seconds the API bills for ``seconds`` of video: 5 when unset, else rounded up.

    :param seconds: seconds of video asked for; ``None`` means the API's default.
    """
    if seconds is None:
        return DEFAULT_SECONDS
    if not math.isfinite(seconds):
        raise ValueError(f"duration: must be a finite number of seconds (got {seconds!r})")
    return max(0, math.ceil(seconds))


def estimate_cost_usd(model: str, resolution: str | None, seconds: float | None, videos: int = 1) -> float | None:
    """
    Return what a request will cost, or ``None`` when the price table does not know the model.

    :param model: model id, e.g. ``happyhorse-1-1``.
    :param resolution: ``720p`` or ``1080p``; ``None`` means the API's default, 720p.
    :param seconds: seconds of video, billed in whole seconds (5.5 is billed as 6); ``None`` means
        the API's default, 5.
    :param videos: how many videos the request asks for.
    """
    prices = PRICE_USD_PER_SECOND.get(model)
    if prices is None:
        return None
    price = prices.get(resolution or DEFAULT_RESOLUTION)
    if price is None or (seconds is not None and not math.isfinite(seconds)):
        return None
    return round(price * billed_seconds(seconds) * videos, 4)


def video_count(extra_params: Mapping[str, Any]) -> int:
    """
    Return how many videos ``extra_params`` asks for (1 unless a count key says more).

    Counts that cannot be priced (see :func:`unpriced_extra_params`) are left out here.

    :param extra_params: the request's further body fields.
    """
    count = 1
    for key in VIDEO_COUNT_PARAMS:
        value = extra_params.get(key)
        if _is_priced_count(value):
            count *= value
    return count


def unpriced_extra_params(extra_params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """
    Return each field of ``extra_params`` that may change the bill and has no known price, with why.

    Fields are named by their path (``extra_params.n``, ``extra_params.parameters.duration``).

    :param extra_params: the request's further body fields.
    """
    unpriced: list[tuple[str, str]] = []
    for key, value in extra_params.items():
        if key in BILL_NEUTRAL_PARAMS:
            continue
        if key in VIDEO_COUNT_PARAMS:
            if not _is_priced_count(value):
                why = f"is priced only as a whole number of videos, 1 to {MAX_PRICED_VIDEOS} (got {shown(value)})"
                unpriced.append((f"extra_params.{key}", why))
            continue
        for path in _paths(value, f"extra_params.{key}"):
            unpriced.append((path, "may change the bill and has no known price"))
    return unpriced


def describe_cost_problem(
    *,
    model: str,
    estimate: float | None,
    unpriced: list[tuple[str, str]],
    max_cost_usd: float | None,
    unpriced_fields: Sequence[str],
) -> str | None:
    """
    Return why a request may not be sent under ``max_cost_usd``, or ``None`` when it may.

    :param model: the request's model.
    :param estimate: the request's estimate (``None`` when unknown).
    :param unpriced: the fields without a known price, with why (see ``VideoRequest.unpriced``).
    :param max_cost_usd: the cap in USD; ``None`` means no cap.
    :param unpriced_fields: the request fields whose price is unknown (``UNPRICED_REQUEST_FIELDS``,
        from the request model): the message says to leave them unset.
    """
    if max_cost_usd is None:
        return None
    if isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, (int, float)) or not max_cost_usd >= 0:
        return f"max_cost_usd: must be a number of USD, 0 or more (got {shown(max_cost_usd)})"
    if not math.isfinite(max_cost_usd):
        return f"max_cost_usd: must be a finite number of USD (got {shown(max_cost_usd)})"
    if model not in PRICE_USD_PER_SECOND:
        rest = "".join(f"; {field} {why}" for field, why in unpriced if field != "model")  # every field, not the first
        return (
            f"max_cost_usd: the estimated cost is unknown (no price for this model, {shown(model)}){rest}; "
            f"under a cap the model must be one with a known price: {', '.join(PRICE_USD_PER_SECOND)}"
        )
    if unpriced or estimate is None:
        named = "; ".join(f"{field} {why}" for field, why in unpriced) or "resolution has no known price"
        return (
            f"max_cost_usd: the estimated cost is unknown: {named}. Under a cap, leave "
            f"{' and '.join(unpriced_fields)} unset, and give extra_params only "
            f"{', '.join(sorted(BILL_NEUTRAL_PARAMS))} or a count of videos "
            f"({', '.join(VIDEO_COUNT_PARAMS)}: 1 to {MAX_PRICED_VIDEOS})"
        )
    if estimate > max_cost_usd:
        return f"max_cost_usd: the estimated cost ${estimate:.2f} exceeds the limit of ${max_cost_usd:.2f}"
    return None


def _is_priced_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PRICED_VIDEOS


def _paths(value: Any, prefix: str, depth: int = 3) -> list[str]:
    """The dotted paths of a value's nested keys (a few, not too deep), or the value's own path."""
    if not isinstance(value, Mapping) or not value or depth == 0:
        return [prefix]
    paths: list[str] = []
    for key, item in value.items():
        name = key if is_param_name(key) else shown(key)
        paths.extend(_paths(item, f"{prefix}.{name}", depth - 1))
        if len(paths) >= _NAMED_PATHS:
            return paths[:_NAMED_PATHS]
    return paths
