"""A refused request names its field as data (the error's context), never parsed back out of text."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_empiriolabs.models import VideoRequest, describe_validation_error
from airflow_provider_empiriolabs.models.errors import RULE_ERROR_TYPE


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"duration": 99}, "duration"),
        ({"resolution": "4k"}, "resolution"),
        ({"mode": "i2v"}, "images"),
        ({"mode": "i2v", "images": ["https://example.com/a.png"], "aspect_ratio": "16:9"}, "aspect_ratio"),
        ({"extra_params": {"duration": 5}}, "extra_params"),
        ({"model": "other-model", "watermark": True}, "watermark"),
    ],
)
def test_a_rule_over_several_fields_carries_the_field_it_names(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        VideoRequest.model_validate({"prompt": "A horse", **fields})
    (problem,) = caught.value.errors(include_url=False)
    assert problem["type"] == RULE_ERROR_TYPE
    assert problem["ctx"]["field"] == field
    assert describe_validation_error(caught.value).startswith(f"Invalid EmpirioLabs request: {field}: ")


def test_a_message_that_looks_like_a_field_is_not_taken_for_one() -> None:
    """Text such as ``seconds: 5`` in a prompt rule's message stays text; the field is the prompt's."""
    with pytest.raises(ValidationError) as caught:
        VideoRequest.model_validate({"prompt": "", "duration": 5})
    assert describe_validation_error(caught.value).startswith("Invalid EmpirioLabs request: prompt: ")


def test_a_key_of_extra_params_is_named_under_it() -> None:
    with pytest.raises(ValidationError) as caught:
        VideoRequest.model_validate({"prompt": "A horse", "extra_params": {"cfg": float("nan")}})
    assert "extra_params.cfg: must be a JSON value" in describe_validation_error(caught.value)
