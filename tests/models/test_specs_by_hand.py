"""
Each shipped video spec agrees with its model page, as typed here BY HAND from the page.

The spec files price and check every request twice: in the provider (``VideoRequest``) and in
the simulator (which reads the same files). A wrong number in a spec file would pass both, so
these tables are typed again from /work/shared/empiriolabs-catalogue.md section 2 (the model
pages' own words), never read from the files, and the files' ``estimate()`` and ``problems()``
must agree with them.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_provider_empiriolabs.models.catalogue import packaged_spec
from airflow_provider_empiriolabs.models.spec import ModelSpec

IMG = "https://assets.example.com/a.png"
VID = "https://assets.example.com/a.mp4"


def _spec(model_id: str) -> ModelSpec:
    return packaged_spec(model_id)


def _usd(model_id: str, body: dict[str, Any]) -> float | None:
    return _spec(model_id).estimate({"model": model_id, "prompt": "a fox", **body}).usd


def _problems(model_id: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    return _spec(model_id).problems({"model": model_id, "prompt": "a fox", **body})


# -- per-second models: rate per second, by the page --------------------------------------------

#: (model, body, USD per second) typed from each page's price list.
PER_SECOND: list[tuple[str, dict[str, Any], float]] = [
    # happyhorse-1-1: 720p $0.14/s, 1080p $0.18/s
    ("happyhorse-1-1", {"resolution": "720p"}, 0.14),
    ("happyhorse-1-1", {"resolution": "1080p"}, 0.18),
    # happyhorse-1-0: "All Modes 720P" $0.14/s, "All Modes 1080P" $0.24/s; default 1080p
    ("happyhorse-1-0", {"resolution": "720p"}, 0.14),
    ("happyhorse-1-0", {"resolution": "1080p"}, 0.24),
    ("happyhorse-1-0", {}, 0.24),
    ("happyhorse-1-0", {"mode": "i2v", "image": IMG}, 0.24),
    # kling-3-0-turbo: 720p $0.18/s, 1080p $0.225/s; default 720p
    ("kling-3-0-turbo", {}, 0.18),
    ("kling-3-0-turbo", {"resolution": "1080p"}, 0.225),
    ("kling-3-0-turbo", {"resolution": "1080p", "image": IMG}, 0.225),
    # wan-2-6: the six rows (Standard follows flash_mode=false whatever audio; Flash splits on audio)
    ("wan-2-6", {"resolution": "720p"}, 0.09),
    ("wan-2-6", {"resolution": "1080p"}, 0.138),
    ("wan-2-6", {"resolution": "720p", "audio": False}, 0.09),
    ("wan-2-6", {"mode": "i2v", "image": IMG, "flash_mode": True, "resolution": "720p"}, 0.045),
    ("wan-2-6", {"mode": "i2v", "image": IMG, "flash_mode": True, "resolution": "720p", "audio": False}, 0.0225),
    ("wan-2-6", {"mode": "r2v", "image": IMG, "flash_mode": True, "resolution": "1080p"}, 0.069),
    ("wan-2-6", {"mode": "i2v", "image": IMG, "flash_mode": True, "resolution": "1080p", "audio": False}, 0.0345),
    # seedance-2-0-fast: T2V/I2V 480P $0.122, 720P $0.260; Video Input 480P $0.284, 720P $0.610; default 720p
    ("seedance-2-0-fast", {}, 0.26),
    ("seedance-2-0-fast", {"resolution": "480p"}, 0.122),
    ("seedance-2-0-fast", {"mode": "edit", "video": VID, "resolution": "480p"}, 0.284),
    ("seedance-2-0-fast", {"mode": "extend", "video": VID}, 0.61),
    # kling-o3 (newer copy): tier x sound x video input
    ("kling-o3", {"model_tier": "standard", "sound": False}, 0.168),
    ("kling-o3", {"model_tier": "standard"}, 0.224),
    ("kling-o3", {"model_tier": "standard", "workflow": "video_edit", "video": VID}, 0.252),
    ("kling-o3", {"sound": False}, 0.224),
    ("kling-o3", {}, 0.28),
    ("kling-o3", {"workflow": "video_edit", "video": VID}, 0.336),
    ("kling-o3", {"model_tier": "4k"}, 0.525),
]


@pytest.mark.parametrize("seconds", [5, 8, 15])
@pytest.mark.parametrize(("model_id", "body", "rate"), PER_SECOND, ids=lambda v: str(v) if isinstance(v, str) else None)
def test_a_per_second_model_costs_its_page_rate_times_the_seconds(
    model_id: str, body: dict[str, Any], rate: float, seconds: int
) -> None:
    request = {**body, "duration": seconds}
    assert _problems(model_id, request) == []
    assert _usd(model_id, request) == pytest.approx(rate * seconds)


def test_a_fractional_duration_is_billed_in_whole_seconds() -> None:
    assert _usd("kling-3-0-turbo", {"duration": 5.5}) == pytest.approx(0.18 * 6)


# -- pixverse-v5-6: per clip, and the missing 1080p 10 s row -----------------------------------

#: The page's "per video" grid: resolution -> {(seconds, audio): USD}; 1080p at 10 s has no row.
PIXVERSE: dict[str, dict[tuple[int, bool], float]] = {
    "360p": {(5, False): 0.40, (5, True): 0.80, (8, False): 0.80, (8, True): 1.60, (10, False): 0.88, (10, True): 1.76},
    "540p": {(5, False): 0.40, (5, True): 0.80, (8, False): 0.80, (8, True): 1.60, (10, False): 0.88, (10, True): 1.76},
    "720p": {(5, False): 0.65, (5, True): 1.30, (8, False): 1.30, (8, True): 2.60, (10, False): 1.43, (10, True): 2.86},
    "1080p": {(5, False): 0.75, (5, True): 1.50, (8, False): 1.50, (8, True): 3.00},
}


@pytest.mark.parametrize("resolution", list(PIXVERSE))
@pytest.mark.parametrize("seconds", [5, 8, 10])
@pytest.mark.parametrize("audio", [False, True])
def test_pixverse_costs_the_page_grid_per_clip(resolution: str, seconds: int, audio: bool) -> None:
    body = {"resolution": resolution, "duration": seconds, "audio": audio}
    price = PIXVERSE[resolution].get((seconds, audio))
    if price is None:  # no row: refused, naming the combination, and not priced
        (problem,) = _problems("pixverse-v5-6", body)
        assert problem[0] == "resolution"
        assert "no price row for resolution='1080p', duration=10" in problem[1]
        assert _usd("pixverse-v5-6", body) is None
    else:
        assert _problems("pixverse-v5-6", body) == []
        assert _usd("pixverse-v5-6", body) == pytest.approx(price)


@pytest.mark.parametrize("seconds", [4, 6, 9, 11])
def test_pixverse_takes_only_the_durations_it_prices(seconds: int) -> None:
    assert [name for name, _ in _problems("pixverse-v5-6", {"duration": seconds})] == ["duration"]


# -- svi-2-0-pro: per second by pixel resolution, plus the T2V fee -----------------------------

SVI_RATE = {"832x480": 0.057, "480x832": 0.057, "720x1280": 0.17, "1280x720": 0.17}
SVI_T2V_FEE = {"fast": 0.065, "quality": 0.13}


@pytest.mark.parametrize("resolution", list(SVI_RATE))
@pytest.mark.parametrize("quality", [None, "fast", "quality"])
@pytest.mark.parametrize("image", [None, IMG])
@pytest.mark.parametrize("duration", [18, 40, 121.5])
def test_svi_costs_its_rate_per_second_plus_the_t2v_fee(
    resolution: str, quality: str | None, image: str | None, duration: float
) -> None:
    body = {"resolution": resolution, "duration": duration, "t2v_quality": quality, "image": image}
    body = {k: v for k, v in body.items() if v is not None}
    fee = 0.0 if image else SVI_T2V_FEE[quality or "quality"]  # default quality; i2v skips the step
    assert _problems("svi-2-0-pro", body) == []
    assert _usd("svi-2-0-pro", body) == pytest.approx(SVI_RATE[resolution] * math.ceil(duration) + fee)


def test_svi_worst_case_and_default() -> None:
    # 121.5 s at 720p, T2V quality: 122 billed seconds x $0.17 + $0.13 (the page's "~$20.79" is at 121.5 s)
    assert _usd("svi-2-0-pro", {"resolution": "1280x720", "duration": 121.5}) == pytest.approx(122 * 0.17 + 0.13)
    assert _usd("svi-2-0-pro", {}) == pytest.approx(18 * 0.057 + 0.13)  # defaults: 832x480, 18 s, quality
    assert [n for n, _ in _problems("svi-2-0-pro", {"duration": 17.9})] == ["duration"]
    assert [n for n, _ in _problems("svi-2-0-pro", {"duration": 122})] == ["duration"]
    assert [n for n, _ in _problems("svi-2-0-pro", {"resolution": "480p"})] == ["resolution"]


# -- kling-o3: multi-scene seconds --------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "duration", "seconds"),
    [
        ("one scene", 7, 7),
        ("5s: a fox | 10s: a hare", 5, 15),
        ("a fox | a hare | a hound", 4, 12),  # no scene names its seconds: duration each
        ("3s: a fox\na hare", 6, 9),  # new lines separate scenes too
        ("3.5s: a | 3.5s: b", 5, 8),  # each scene in whole seconds
        ("a|b|c|d|e|f", 3, 18),  # six scenes: the most
    ],
)
def test_kling_o3_bills_the_sum_of_its_scenes(prompt: str, duration: int, seconds: int) -> None:
    body = {"prompt": prompt, "duration": duration}
    assert _problems("kling-o3", body) == []
    assert _usd("kling-o3", body) == pytest.approx(0.28 * seconds)  # pro, sound on, no video: the defaults


def test_kling_o3_refuses_seven_scenes_and_has_no_4k_video_input_row() -> None:
    assert _problems("kling-o3", {"prompt": "a|b|c|d|e|f|g"}) == [("prompt", "at most 6 scenes (got 7)")]
    assert _usd("kling-o3", {"model_tier": "4k", "workflow": "video_edit", "video": VID}) is None
    assert [n for n, _ in _problems("kling-o3", {"model_tier": "ultra"})] == ["model_tier"]
    assert [n for n, _ in _problems("kling-o3", {"workflow": "video_edit"})] == ["video"]


# -- the prose rules ------------------------------------------------------------------------------


def test_seedance_custom_duration() -> None:
    # "If false, the model decides clip length"; duration "Only used when custom_duration=true"; 4 to 15 s
    assert _problems("seedance-2-0-fast", {"custom_duration": False}) == []
    assert _usd("seedance-2-0-fast", {"custom_duration": False}) is None
    assert [n for n, _ in _problems("seedance-2-0-fast", {"custom_duration": False, "duration": 5})] == ["duration"]
    assert _usd("seedance-2-0-fast", {"custom_duration": True, "duration": 4}) == pytest.approx(4 * 0.26)
    assert [n for n, _ in _problems("seedance-2-0-fast", {"duration": 3})] == ["duration"]
    assert [n for n, _ in _problems("seedance-2-0-fast", {"mode": "i2v_both", "image": IMG})] == ["image_end"]


def test_happyhorse_1_0_videoedit() -> None:
    # "Reference image URL. Required for i2v / r2v / videoedit"; "Reference video URL. Required for videoedit / r2v"
    assert {n for n, _ in _problems("happyhorse-1-0", {"mode": "videoedit"})} == {"image", "video"}
    assert [n for n, _ in _problems("happyhorse-1-0", {"mode": "r2v", "image": IMG})] == ["video"]
    assert _problems("happyhorse-1-0", {"mode": "videoedit", "image": IMG, "video": VID}) == []
    # billed by the input video's length (INFERRED): not priced before sending
    assert _usd("happyhorse-1-0", {"mode": "videoedit", "image": IMG, "video": VID}) is None
    # auto with a video may be an edit, billed the same way; the mode that takes a video for a reference is priced
    assert _usd("happyhorse-1-0", {"image": IMG, "video": VID}) is None
    assert _usd("happyhorse-1-0", {"mode": "r2v", "image": IMG, "video": VID}) == pytest.approx(5 * 0.24)
    assert [n for n, _ in _problems("happyhorse-1-0", {"duration": 16})] == ["duration"]
    assert [n for n, _ in _problems("happyhorse-1-0", {"audio_setting": "none"})] == ["audio_setting"]


def test_kling_o3_scene_seconds_obey_the_per_scene_duration() -> None:
    # "duration: number, default 5, range 3-15. Per-scene duration"; scenes "optionally prefixed with duration"
    assert _problems("kling-o3", {"prompt": "5s: a | 15s: b | c"}) == []
    assert [n for n, _ in _problems("kling-o3", {"prompt": "5s: a | 40s: b"})] == ["prompt"]
    assert [n for n, _ in _problems("kling-o3", {"prompt": "2s: a"})] == ["prompt"]


def test_kling_o3_reference_videos_are_not_priced_as_text_to_video() -> None:
    # Rows: "T2V/I2V" (no video), "Video Input" (a video); reference videos are neither, by the page's words
    assert _usd("kling-o3", {"model_tier": "standard", "sound": False, "reference_videos": [VID]}) is None
    assert _usd("kling-o3", {"model_tier": "standard", "video": VID, "reference_videos": [VID]}) == pytest.approx(
        5 * 0.252
    )


def test_wan_2_6_ranges_and_flash() -> None:
    assert [n for n, _ in _problems("wan-2-6", {"duration": 4})] == ["duration"]  # 5 to 15, not 3
    assert [n for n, _ in _problems("wan-2-6", {"mode": "t2v", "flash_mode": True})] == ["flash_mode"]
    assert [n for n, _ in _problems("wan-2-6", {"mode": "i2v"})] == ["image"]
    assert [n for n, _ in _problems("wan-2-6", {"shot_type": "double"})] == ["shot_type"]


def test_kling_turbo_parameters() -> None:
    assert [n for n, _ in _problems("kling-3-0-turbo", {"aspect_ratio": "4:3"})] == ["aspect_ratio"]
    assert [n for n, _ in _problems("kling-3-0-turbo", {"duration": 2})] == ["duration"]
    assert [n for n, _ in _problems("kling-3-0-turbo", {"mode": "t2v"})] == ["mode"]  # it has no mode


def test_every_video_spec_the_package_ships_is_checked_here() -> None:
    from importlib import resources

    folder = resources.files("airflow_provider_empiriolabs.models").joinpath("specs")
    shipped = {
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json") and packaged_spec(entry.name.removesuffix(".json")).kind == "video"
    }
    checked = {m for m, _, _ in PER_SECOND} | {"pixverse-v5-6", "svi-2-0-pro"}
    assert shipped == checked  # a new video spec needs its page's table typed here
