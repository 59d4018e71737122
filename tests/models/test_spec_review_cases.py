"""Cases a review of the shipped specs found: a bill the rows did not cover, a rate a request could not have."""

from __future__ import annotations

import pytest

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.models.image_request import ImageRequest


def test_wan_image_sequential_sets_are_unpriced_so_a_cap_refuses_them() -> None:
    # "Generate up to 12 cohesive related images", each billed: priced as one image before.
    request = ImageRequest.build(model="wan2-7-image", prompt="a lighthouse", extra_params={"enable_sequential": True})
    assert request.estimated_cost_usd() is None
    problem = request.cost_problem(1.0)
    assert problem is not None and "enable_sequential=true" in problem


def test_wan_video_flash_mode_without_an_image_is_refused_before_sending() -> None:
    # Flash "applies to i2v and r2v only": with no image the request is text-to-video, priced at Flash before.
    with pytest.raises(EmpirioLabsRequestError, match=r"extra_params\.flash_mode: not allowed here"):
        VideoRequest.build(model="wan-2-6", prompt="a fox", duration=5, extra_params={"flash_mode": True})
    with_image = VideoRequest.build(
        model="wan-2-6",
        prompt="a fox",
        duration=5,
        images=["https://img.example.com/fox.png"],
        resolution="720p",
        extra_params={"flash_mode": True, "audio": False},
    )
    assert with_image.estimated_cost_usd() == pytest.approx(0.1125)  # Flash 720P (no audio): $0.0225 x 5 s
