"""
What the operator sends, the simulator accepts and bills at the operator's estimate: searched.

For every shipped video model with a spec (HappyHorse 1.1 keeps its own handwritten checks),
Hypothesis draws operator arguments from the spec's own values and from just outside them (a
resolution of another model, a duration past its range, a parameter it does not take, images where
it takes one). Whenever ``VideoRequest.build`` (strict) accepts, the body it would send must be
accepted by the simulator's check of ``POST /v1/videos/generations``, and billed at the request's
estimate whenever the request has one. The request and the body differ in names and shapes
(``images`` goes as ``image``, a whole ``duration`` as an int, ``extra_params`` merged in), which is
where the two sides could disagree.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.models.catalogue import packaged_spec, shipped_models
from airflow_provider_empiriolabs.testing.simulator import ApiError, validate_generation

MODELS = [m for m in shipped_models("video") if m != "happyhorse-1-1"]
IMG = "https://assets.example.com/a.png"
VID = "https://assets.example.com/a.mp4"
_COMMON = {"prompt", "mode", "resolution", "duration", "aspect_ratio", "seed", "watermark", "generate_audio", "image"}


#: Parameters that hold a media reference: drawn as URLs here (a non-URL is refused, see the test below).
_REFERENCES = {"image_end", "video", "reference_images", "reference_videos"}


def _values(name: str, model: str, *, wild: bool) -> st.SearchStrategy[Any]:
    """The spec's own values of ``name``, and, when ``wild``, values just outside them too."""
    if name in _REFERENCES:
        return st.sampled_from([IMG, VID])
    param = packaged_spec(model).parameters.get(name)
    near: list[Any] = ["4k", "480p", "1080p", 0, 2, 16, 30, 200, True, "", None, VID]
    if param is None:
        return st.sampled_from(near)
    own: list[st.SearchStrategy[Any]] = [st.sampled_from(near)] if wild else []
    low = param.min if param.min is not None else 0
    high = param.max if param.max is not None else 100
    if wild:
        low, high = low - 2, high + 2
    if param.allowed:
        own.append(st.sampled_from(list(param.allowed)))
    elif param.type in ("number", "integer"):
        own.append(st.integers(math.ceil(low), int(high)))
        if param.type == "number":
            own.append(st.floats(low, high, allow_nan=False).map(lambda x: min(max(round(x, 1), low), high)))
    elif param.type == "boolean":
        own.append(st.booleans())
    else:
        own.append(st.sampled_from([VID, IMG, "a fox", "5s: a | 3s: b"]))
    return st.one_of(own)


@st.composite
def arguments(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    model = draw(st.sampled_from(MODELS))
    spec = packaged_spec(model)
    wild = draw(st.integers(0, 3)) == 0  # a quarter of the requests reach outside the spec
    fields: dict[str, Any] = {"model": model, "prompt": draw(st.sampled_from(["a fox", "5s: a fox | 4s: a hare"]))}
    for name in ("mode", "resolution", "duration", "aspect_ratio"):
        if (name in spec.parameters or wild) and draw(st.booleans()):
            fields[name] = draw(_values(name, model, wild=wild))
    if draw(st.booleans()):
        fields["images"] = draw(st.lists(st.just(IMG), min_size=1, max_size=2 if wild else 1))
    own = sorted(set(spec.parameters) - _COMMON) + (["fps"] if wild else [])
    extra = draw(st.lists(st.sampled_from(own), max_size=3, unique=True))
    fields["extra_params"] = {name: draw(_values(name, model, wild=wild)) for name in extra}
    return model, {k: v for k, v in fields.items() if v is not None}


@settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=arguments())
def test_what_the_operator_would_send_the_simulator_accepts_at_its_estimate(case: tuple[str, dict[str, Any]]) -> None:
    _model, fields = case
    try:
        request = VideoRequest.build(**fields)
    except EmpirioLabsRequestError:
        event("refused by the operator")
        return  # refused before sending: nothing to agree on
    event(f"sent: {fields['model']}")
    body = request.to_payload()
    try:
        params = validate_generation(body, {}, {})
    except ApiError as error:  # pragma: no cover - a disagreement is the failure
        pytest.fail(f"the operator would send {body!r}; the simulator refuses it: {error.message}")
    estimate = request.estimated_cost_usd()
    if estimate is not None:
        assert params["cost"] == Decimal(str(estimate)), (body, estimate, params["cost"])


# Found by the search above: a media reference in extra_params (image_end) was checked only as a string.
def test_an_image_reference_in_extra_params_is_refused_before_sending() -> None:
    with pytest.raises(EmpirioLabsRequestError, match="image_end"):
        VideoRequest.build(model="pixverse-v5-6", prompt="a fox", extra_params={"image_end": "4k"})
