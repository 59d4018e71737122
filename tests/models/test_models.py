"""
The request model's rules (both sides of every documented bound), the price table, and the
tolerant parsing of jobs, job errors and account usage.

Every refusal is checked for two things: it is an ``EmpirioLabsRequestError`` (raised locally,
before any request), and its message names the field and what the field allows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_empiriolabs.exceptions import EmpirioLabsError, EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import (
    HAPPYHORSE_MODEL,
    MAX_SEED,
    AccountUsage,
    Job,
    JobError,
    JobStatus,
    SubmittedJob,
    VideoRequest,
    estimate_cost_usd,
    shipped_spec,
)

IMG = "https://img.example.com/a.png"
UPLOADED = "bunny://uploads/acct/b.png"
OTHER_MODEL = "wan-2-5"


def images(count: int) -> list[str]:
    return [f"https://img.example.com/{n}.png" for n in range(count)]


def refused(*fragments: str, **fields: Any) -> str:
    """Build a request that must be refused; every fragment must be in the message. Returns it."""
    with pytest.raises(EmpirioLabsRequestError) as info:
        VideoRequest.build(**fields)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def accepted(**fields: Any) -> VideoRequest:
    return VideoRequest.build(**fields)


# ---------------------------------------------------------------------------------------------
# The request: prompt
# ---------------------------------------------------------------------------------------------


class TestPrompt:
    @pytest.mark.parametrize("length", [1, 2500])
    def test_inside_bounds(self, length: int) -> None:
        assert accepted(prompt="a" * length).prompt == "a" * length

    def test_too_long(self) -> None:
        message = refused("prompt", "1 to 2,500 characters", "2,501", prompt="a" * 2501)
        assert "a" * 100 not in message, "the (long) prompt itself is not echoed"

    @pytest.mark.parametrize("prompt", ["", " ", "  \n\t "])
    def test_empty_or_blank(self, prompt: str) -> None:
        refused("prompt", "1 to 2,500 characters", "not blank", prompt=prompt)

    def test_missing(self) -> None:
        refused("prompt", "required")

    def test_none_counts_as_missing(self) -> None:
        refused("prompt", "required", prompt=None)

    @pytest.mark.parametrize("prompt", [5, ["a"], {"text": "a"}])
    def test_wrong_type(self, prompt: Any) -> None:
        refused("prompt", "string", prompt=prompt)

    def test_error_is_a_value_error_and_an_empiriolabs_error(self) -> None:
        with pytest.raises(EmpirioLabsRequestError) as info:
            VideoRequest.build(prompt="")
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, EmpirioLabsError)


# ---------------------------------------------------------------------------------------------
# The request: numbers
# ---------------------------------------------------------------------------------------------


class TestDuration:
    @pytest.mark.parametrize("duration", [3, 15, 3.0, 15.0, 5.5])
    def test_inside_bounds(self, duration: float) -> None:
        assert accepted(prompt="p", duration=duration).duration == duration

    @pytest.mark.parametrize("duration", [2.99, 15.01, 0, -5, 16, float("nan"), float("inf")])
    def test_outside_bounds(self, duration: float) -> None:
        refused("duration", "3 to 15 seconds", prompt="p", duration=duration)

    @pytest.mark.parametrize("duration", [True, False])
    def test_boolean_is_not_a_number(self, duration: bool) -> None:
        refused("duration", "number, not a boolean", prompt="p", duration=duration)

    @pytest.mark.parametrize("duration", ["five", [5], {"s": 5}])
    def test_wrong_type(self, duration: Any) -> None:
        refused("duration", "number", prompt="p", duration=duration)


class TestSeed:
    @pytest.mark.parametrize("seed", [0, 1, MAX_SEED, 2147483647])
    def test_inside_bounds(self, seed: int) -> None:
        request = accepted(prompt="p", seed=seed)
        assert request.seed == seed
        assert request.to_payload()["seed"] == seed, "seed 0 is sent, not dropped as falsy"

    @pytest.mark.parametrize("seed", [-1, 2147483648, 2**40])
    def test_outside_bounds(self, seed: int) -> None:
        refused("seed", "0 to 2,147,483,647", prompt="p", seed=seed)

    @pytest.mark.parametrize("seed", [True, False])
    def test_boolean_is_not_a_number(self, seed: bool) -> None:
        refused("seed", "number, not a boolean", prompt="p", seed=seed)

    @pytest.mark.parametrize("seed", [1.5, "abc", [1]])
    def test_wrong_type(self, seed: Any) -> None:
        refused("seed", "integer", prompt="p", seed=seed)


# ---------------------------------------------------------------------------------------------
# The request: enums and booleans
# ---------------------------------------------------------------------------------------------


class TestEnums:
    @pytest.mark.parametrize("mode", ["auto", "t2v"])
    def test_modes_without_images(self, mode: str) -> None:
        assert accepted(prompt="p", mode=mode).mode == mode

    def test_mode_i2v_and_r2v(self) -> None:
        assert accepted(prompt="p", mode="i2v", images=[IMG]).effective_mode == "i2v"
        assert accepted(prompt="p", mode="r2v", images=[IMG]).effective_mode == "r2v"

    @pytest.mark.parametrize("mode", ["x2v", "T2V", "", "video"])
    def test_bad_mode(self, mode: str) -> None:
        refused("mode", "'auto'", "'t2v'", "'i2v'", "'r2v'", prompt="p", mode=mode)

    @pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1", "4:3", "3:4"])
    def test_aspect_ratios(self, ratio: str) -> None:
        assert accepted(prompt="p", aspect_ratio=ratio).to_payload()["aspect_ratio"] == ratio

    def test_bad_aspect_ratio(self) -> None:
        refused("aspect_ratio", "'16:9'", "'9:16'", "'1:1'", "'4:3'", "'3:4'", "21:9", prompt="p", aspect_ratio="21:9")

    @pytest.mark.parametrize("resolution", ["720p", "1080p"])
    def test_resolutions(self, resolution: str) -> None:
        assert accepted(prompt="p", resolution=resolution).to_payload()["resolution"] == resolution

    def test_bad_resolution(self) -> None:
        refused("resolution", "'720p'", "'1080p'", "4k", prompt="p", resolution="4k")

    @pytest.mark.parametrize("name", ["watermark", "generate_audio"])
    @pytest.mark.parametrize("value", [True, False])
    def test_booleans(self, name: str, value: bool) -> None:
        assert accepted(prompt="p", **{name: value}).to_payload()[name] is value

    @pytest.mark.parametrize("name", ["watermark", "generate_audio"])
    @pytest.mark.parametrize("value", [1, 0, "yes", "true", 1.0])
    def test_booleans_are_strict(self, name: str, value: Any) -> None:
        refused(name, "boolean", prompt="p", **{name: value})

    def test_template(self) -> None:
        assert accepted(prompt="p", template="cinematic-pan").to_payload()["template"] == "cinematic-pan"
        refused("template", "at least 1 character", prompt="p", template="")

    @pytest.mark.parametrize("model", ["Bad Model", "", "-leading", "a/b", "x" * 101])
    def test_bad_model_id(self, model: str) -> None:
        refused("model", "model id", "happyhorse-1-1", prompt="p", model=model)

    def test_unknown_field(self) -> None:
        refused("colour", "Extra inputs are not permitted", prompt="p", colour="red")


# ---------------------------------------------------------------------------------------------
# The request: modes and images
# ---------------------------------------------------------------------------------------------


class TestModesAndImages:
    @pytest.mark.parametrize(
        ("mode", "count"),
        [
            ("t2v", 0),
            ("i2v", 1),
            ("r2v", 1),
            ("r2v", 9),
            ("auto", 0),
            ("auto", 1),
            ("auto", 9),
            (None, 0),
            (None, 1),
            (None, 2),
        ],
    )
    def test_allowed_counts(self, mode: str | None, count: int) -> None:
        request = accepted(prompt="p", mode=mode, images=images(count))
        assert len(request.images) == count

    @pytest.mark.parametrize(
        ("mode", "count", "allowed"),
        [
            ("t2v", 1, "t2v takes no images"),
            ("t2v", 9, "t2v takes no images"),
            ("i2v", 0, "i2v takes exactly 1 image"),
            ("i2v", 9, "i2v takes exactly 1 image"),
            ("i2v", 10, "i2v takes exactly 1 image"),
            ("r2v", 0, "r2v takes 1 to 9 images"),
            ("r2v", 10, "r2v takes 1 to 9 images"),
            ("auto", 10, "at most 9 images"),
            (None, 10, "at most 9 images"),
        ],
    )
    def test_refused_counts(self, mode: str | None, count: int, allowed: str) -> None:
        refused("images", allowed, f"got {count}", prompt="p", mode=mode, images=images(count))

    @pytest.mark.parametrize(("count", "mode"), [(0, "t2v"), (1, "i2v"), (2, "r2v"), (9, "r2v")])
    def test_auto_mode_inferred_from_images(self, count: int, mode: str) -> None:
        assert accepted(prompt="p", images=images(count)).effective_mode == mode
        assert accepted(prompt="p", mode="auto", images=images(count)).effective_mode == mode

    @pytest.mark.parametrize(("mode", "count"), [("i2v", 1), (None, 1), ("auto", 1)])
    def test_i2v_refuses_aspect_ratio(self, mode: str | None, count: int) -> None:
        refused("aspect_ratio", "i2v", prompt="p", mode=mode, images=images(count), aspect_ratio="16:9")

    @pytest.mark.parametrize(("mode", "count"), [("t2v", 0), ("r2v", 3)])
    def test_aspect_ratio_in_t2v_and_r2v(self, mode: str, count: int) -> None:
        assert accepted(prompt="p", mode=mode, images=images(count), aspect_ratio="9:16").aspect_ratio == "9:16"

    def test_r2v_prompt_refers_to_each_given_image(self) -> None:
        prompt = " and ".join(f"character{n}" for n in range(1, 10))
        assert accepted(prompt=prompt, mode="r2v", images=images(9)).effective_mode == "r2v"

    @pytest.mark.parametrize(
        ("prompt", "count", "beyond"),
        [
            ("character1 meets character3", 2, 3),
            ("Character10 waves", 9, 10),
            ("character0 stands", 1, 0),
            ("character2 and character1", 1, 2),
        ],
    )
    def test_r2v_prompt_refers_beyond_the_images(self, prompt: str, count: int, beyond: int) -> None:
        refused(
            "prompt",
            f"character{beyond}",
            f"only {count} reference image",
            f"character1 to character{count}",
            prompt=prompt,
            mode="r2v",
            images=images(count),
        )

    def test_auto_mode_with_several_images_checks_character_refs(self) -> None:
        refused("prompt", "character4", prompt="character4 runs", images=images(3))

    def test_character_refs_outside_r2v_are_plain_words(self) -> None:
        assert accepted(prompt="character5 from the story", mode="t2v").effective_mode == "t2v"

    @pytest.mark.parametrize("image", [IMG, "http://img.example.com/a.jpg", UPLOADED, "HTTPS://IMG.EXAMPLE.COM/A.PNG"])
    def test_good_image_refs(self, image: str) -> None:
        assert accepted(prompt="p", images=image).images == [image]

    @pytest.mark.parametrize(
        "image", ["ftp://img.example.com/a.png", "img.example.com/a.png", "https://", "not a url", "", "https://a b/c"]
    )
    def test_bad_image_refs(self, image: str) -> None:
        refused("images", "http(s) URL", "/v1/files/upload", prompt="p", images=[image])

    def test_bad_image_among_good_ones_is_named_by_position(self) -> None:
        refused("images.1", "http(s) URL", prompt="p", mode="r2v", images=[IMG, "nope", IMG])

    def test_images_wrong_type(self) -> None:
        refused("images", prompt="p", images=42)


class TestExtendFrom:
    @pytest.mark.parametrize("source", [{"job_id": "job_123"}, {"video_url": "https://cdn.example.com/v.mp4"}])
    def test_exactly_one(self, source: dict[str, str]) -> None:
        assert accepted(prompt="p", extend_from=source).to_payload()["extend_from"] == source

    @pytest.mark.parametrize(
        "source",
        [{}, {"job_id": "job_1", "video_url": "https://cdn.example.com/v.mp4"}, {"job_id": None, "video_url": None}],
    )
    def test_both_or_neither(self, source: dict[str, Any]) -> None:
        refused("extend_from", "exactly one of job_id or video_url", prompt="p", extend_from=source)

    def test_bad_values(self) -> None:
        refused("extend_from.video_url", prompt="p", extend_from={"video_url": "not-a-url"})
        refused("extend_from.job_id", prompt="p", extend_from={"job_id": ""})
        refused("extend_from.seconds", prompt="p", extend_from={"job_id": "j", "seconds": 3})
        refused("extend_from", prompt="p", extend_from="job_1")


# ---------------------------------------------------------------------------------------------
# The request: other models and extra_params
# ---------------------------------------------------------------------------------------------


class TestOtherModels:
    def test_passthrough_skips_happyhorse_mode_rules(self) -> None:
        request = accepted(prompt="character12 flies", model=OTHER_MODEL, images=images(12), aspect_ratio="1:1")
        payload = request.to_payload()
        assert payload["model"] == OTHER_MODEL
        assert payload["image"] == images(12)
        assert payload["aspect_ratio"] == "1:1"

    def test_passthrough_sends_extra_params_as_they_are(self) -> None:
        params = {"motion_strength": 0.7, "camera": {"pan": "left"}, "negative_prompt": "blur"}
        payload = accepted(prompt="p", model=OTHER_MODEL, extra_params=params).to_payload()
        assert payload == {"prompt": "p", "model": OTHER_MODEL, **params}

    def test_passthrough_skips_happyhorse_duration_bound(self) -> None:
        # The 3-15 s bound is in the HappyHorse 1.1 table only; the issue asks that other models on
        # the endpoint skip HappyHorse-only rules. duration cannot go through extra_params either
        # (it is a field of the request), so without this another model's 20 s video cannot be asked for.
        assert accepted(prompt="p", model=OTHER_MODEL, duration=20).to_payload()["duration"] == 20

    @pytest.mark.parametrize(("name", "value"), [("mode", "t2v"), ("watermark", False), ("generate_audio", True)])
    def test_fields_a_model_without_spec_may_not_know_are_refused(self, name: str, value: Any) -> None:
        refused(name, "has no model spec", OTHER_MODEL, "extra_params", prompt="p", model=OTHER_MODEL, **{name: value})

    def test_several_unknowable_fields_all_named(self) -> None:
        refused("mode, watermark", prompt="p", model=OTHER_MODEL, watermark=True, mode="t2v")

    @pytest.mark.parametrize(("name", "value"), [("template", "slug"), ("extend_from", {"job_id": "j"})])
    def test_platform_fields_go_to_every_video_model(self, name: str, value: Any) -> None:
        for model in (OTHER_MODEL, "wan-2-6", "kling-o3"):
            assert accepted(prompt="p", model=model, **{name: value}).to_payload()[name] == value

    def test_common_fields_keep_their_types(self) -> None:
        refused("seed", prompt="p", model=OTHER_MODEL, seed=True)
        refused("prompt", prompt=" ", model=OTHER_MODEL)

    @pytest.mark.parametrize("model", [HAPPYHORSE_MODEL, OTHER_MODEL])
    @pytest.mark.parametrize("key", ["prompt", "image", "images", "duration", "model", "seed", "mode"])
    def test_extra_params_must_not_repeat_fields(self, model: str, key: str) -> None:
        refused("extra_params", "must not repeat", key, prompt="p", model=model, extra_params={key: "x"})

    def test_extra_params_on_happyhorse_are_checked_by_its_spec(self) -> None:
        refused(
            "extra_params.camera_motion", "takes no such parameter", prompt="p", extra_params={"camera_motion": "o"}
        )
        request = accepted(prompt="p", extra_params={"camera_motion": "orbit"}, validation="warn")
        assert request.to_payload()["camera_motion"] == "orbit"  # sent, and the problem kept to be logged
        assert request.spec_problems and request.spec_problems[0].startswith("extra_params.camera_motion:")

    def test_extra_params_wrong_type(self) -> None:
        refused("extra_params", "dictionary", prompt="p", extra_params=["a"])


# ---------------------------------------------------------------------------------------------
# The request: payload and cost
# ---------------------------------------------------------------------------------------------


class TestPayload:
    def test_minimal_payload_leaves_defaults_to_the_api(self) -> None:
        assert accepted(prompt="p").to_payload() == {"prompt": "p", "model": HAPPYHORSE_MODEL}

    def test_none_arguments_are_dropped(self) -> None:
        request = accepted(prompt="p", mode=None, duration=None, seed=None, images=None, extend_from=None)
        assert request.to_payload() == {"prompt": "p", "model": HAPPYHORSE_MODEL}

    def test_single_image_is_a_string(self) -> None:
        assert accepted(prompt="p", images=[IMG]).to_payload()["image"] == IMG
        assert accepted(prompt="p", images=IMG).to_payload()["image"] == IMG

    def test_several_images_are_a_list(self) -> None:
        payload = accepted(prompt="p", mode="r2v", images=[IMG, UPLOADED]).to_payload()
        assert payload["image"] == [IMG, UPLOADED]
        assert "images" not in payload

    @pytest.mark.parametrize(("duration", "sent"), [(5, 5), (5.0, 5), (15.0, 15), (7.5, 7.5)])
    def test_whole_duration_is_an_int(self, duration: float, sent: float) -> None:
        value = accepted(prompt="p", duration=duration).to_payload()["duration"]
        assert value == sent
        assert type(value) is type(sent)

    def test_full_payload(self) -> None:
        payload = accepted(
            prompt="character1 and character2 dance",
            mode="r2v",
            images=[IMG, UPLOADED],
            aspect_ratio="9:16",
            resolution="1080p",
            duration=8,
            seed=0,
            watermark=False,
            generate_audio=False,
            template="dance",
            extend_from={"job_id": "job_9"},
            extra_params={"style": "noir"},
            validation="off",
        ).to_payload()
        assert payload == {
            "prompt": "character1 and character2 dance",
            "model": HAPPYHORSE_MODEL,
            "mode": "r2v",
            "image": [IMG, UPLOADED],
            "aspect_ratio": "9:16",
            "resolution": "1080p",
            "duration": 8,
            "seed": 0,
            "watermark": False,
            "generate_audio": False,
            "template": "dance",
            "extend_from": {"job_id": "job_9"},
            "style": "noir",
        }

    def test_request_is_frozen(self) -> None:
        request = accepted(prompt="p")
        with pytest.raises(ValueError, match="frozen"):
            request.prompt = "q"


class TestCost:
    @pytest.mark.parametrize(
        ("resolution", "seconds", "usd"),
        [
            ("720p", 3, 0.42),
            ("720p", 5, 0.70),
            ("720p", 15, 2.10),
            ("1080p", 3, 0.54),
            ("1080p", 5, 0.90),
            ("1080p", 15, 2.70),
            ("1080p", 7.5, 1.44),  # billed in whole seconds: 8
        ],
    )
    def test_happyhorse_prices(self, resolution: str, seconds: float, usd: float) -> None:
        assert estimate_cost_usd(HAPPYHORSE_MODEL, resolution, seconds) == pytest.approx(usd)
        request = accepted(prompt="p", resolution=resolution, duration=seconds)
        assert request.estimated_cost_usd() == pytest.approx(usd)

    def test_api_defaults_are_720p_and_5_seconds(self) -> None:
        assert estimate_cost_usd(HAPPYHORSE_MODEL, None, None) == pytest.approx(0.70)
        assert accepted(prompt="p").estimated_cost_usd() == pytest.approx(0.70)
        assert accepted(prompt="p").billed_seconds == 5

    def test_documented_price_table(self) -> None:
        assert [(r.label, r.usd) for r in shipped_spec(HAPPYHORSE_MODEL).prices] == [("720p", 0.14), ("1080p", 0.18)]

    def test_unknown_model_or_resolution_has_no_price(self) -> None:
        assert estimate_cost_usd(OTHER_MODEL, "720p", 5) is None
        assert estimate_cost_usd(HAPPYHORSE_MODEL, "4k", 5) is None
        assert accepted(prompt="p", model=OTHER_MODEL).estimated_cost_usd() is None


# ---------------------------------------------------------------------------------------------
# Job status
# ---------------------------------------------------------------------------------------------

SUCCESS = ["completed", "succeeded", "success", "done"]
FAILURE = ["failed", "error", "cancelled", "canceled", "expired", "timeout"]
RUNNING = ["queued", "pending", "processing", "running", "in_progress", "starting", "", None, "brand_new_state"]


class TestJobStatus:
    @pytest.mark.parametrize("value", SUCCESS + [v.upper() for v in SUCCESS] + ["Completed", " done "])
    def test_success(self, value: str) -> None:
        status = JobStatus.from_api(value)
        assert status is JobStatus.SUCCEEDED
        assert status.is_terminal()
        assert status.is_success()

    @pytest.mark.parametrize("value", FAILURE + [v.upper() for v in FAILURE] + ["Failed", "Cancelled"])
    def test_failure(self, value: str) -> None:
        status = JobStatus.from_api(value)
        assert status is JobStatus.FAILED
        assert status.is_terminal()
        assert not status.is_success()

    @pytest.mark.parametrize("value", [*RUNNING, "QUEUED", "Processing", 42])
    def test_running_and_unknown(self, value: Any) -> None:
        status = JobStatus.from_api(value)
        assert status is JobStatus.RUNNING
        assert not status.is_terminal()
        assert not status.is_success()


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------

SIMULATOR_COMPLETED = {
    "job_id": "job_abc",
    "status": "completed",
    "progress": 1,
    "created_at": "2025-01-02T03:04:05Z",
    "completed_at": "2025-01-02T03:05:05+00:00",
    "result": {
        "data": [{"url": "https://cdn.example.com/out.mp4", "content_type": "video/mp4", "duration_seconds": 5}],
        "usage": {"billable_units": 5, "billing_unit": "video-second"},
    },
    "error": None,
}


class TestJob:
    def test_documented_completed_job(self) -> None:
        job = Job.from_api(SIMULATOR_COMPLETED)
        assert job.job_id == "job_abc"
        assert job.status is JobStatus.SUCCEEDED
        assert job.raw_status == "completed"
        assert job.progress == 1.0
        assert job.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert job.completed_at == datetime(2025, 1, 2, 3, 5, 5, tzinfo=UTC)
        assert job.output_urls == ["https://cdn.example.com/out.mp4"]
        assert job.error is None
        assert job.billable_seconds == 5

    def test_id_instead_of_job_id(self) -> None:
        assert Job.from_api({"id": "job_x", "status": "queued"}).job_id == "job_x"

    def test_job_id_preferred_over_id(self) -> None:
        assert Job.from_api({"job_id": "a", "id": "b", "status": "queued"}).job_id == "a"

    def test_numeric_id_becomes_a_string(self) -> None:
        assert Job.from_api({"id": 123, "status": "queued"}).job_id == "123"

    @pytest.mark.parametrize("payload", [{"status": "queued"}, {"job_id": "", "status": "queued"}])
    def test_no_id(self, payload: dict[str, Any]) -> None:
        with pytest.raises(ValueError, match="job_id"):
            Job.from_api(payload)

    @pytest.mark.parametrize("payload", [None, [], "job", 3])
    def test_not_an_object(self, payload: Any) -> None:
        with pytest.raises(ValueError, match="JSON object"):
            Job.from_api(payload)

    def test_queued_job_with_nothing_yet(self) -> None:
        job = Job.from_api({"job_id": "j", "status": "queued", "progress": 0, "result": None, "error": None})
        assert job.status is JobStatus.RUNNING
        assert job.progress == 0.0
        assert job.output_urls == []
        assert job.error is None
        assert job.completed_at is None

    def test_missing_status_is_running(self) -> None:
        job = Job.from_api({"job_id": "j"})
        assert job.status is JobStatus.RUNNING
        assert job.raw_status == "unknown"

    @pytest.mark.parametrize(
        ("progress", "fraction"),
        [
            (0, 0.0),
            (0.0, 0.0),
            (0.42, 0.42),
            (1, 1.0),
            ("0.5", 0.5),
            (50, 0.5),
            (100, 1.0),
            ("75", 0.75),
            (250, 1.0),
            (-0.2, 0.0),
        ],
    )
    def test_progress_fraction_or_percent(self, progress: Any, fraction: float) -> None:
        assert Job.from_api({"job_id": "j", "status": "processing", "progress": progress}).progress == pytest.approx(
            fraction
        )

    @pytest.mark.parametrize("progress", [None, True, "half", [0.5], float("nan"), "inf"])
    def test_unreadable_progress_is_none(self, progress: Any) -> None:
        assert Job.from_api({"job_id": "j", "status": "processing", "progress": progress}).progress is None

    @pytest.mark.parametrize("stamp", ["yesterday", 1700000000, ""])
    def test_unreadable_timestamps_are_none(self, stamp: Any) -> None:
        assert Job.from_api({"job_id": "j", "status": "queued", "created_at": stamp}).created_at is None

    @pytest.mark.parametrize(
        ("result", "urls"),
        [
            (
                {"data": [{"url": "https://a/1.mp4"}, {"url": "https://a/2.mp4"}]},
                ["https://a/1.mp4", "https://a/2.mp4"],
            ),
            ({"url": "https://a/1.mp4"}, ["https://a/1.mp4"]),
            ({"video_url": "https://a/1.mp4"}, ["https://a/1.mp4"]),
            (
                {"output": [{"url": "https://a/1.mp4"}, {"url": "https://a/2.mp4"}]},
                ["https://a/1.mp4", "https://a/2.mp4"],
            ),
            ({"outputs": ["https://a/1.mp4", "https://a/2.mp4"]}, ["https://a/1.mp4", "https://a/2.mp4"]),
            ({"outputs": [{"url": "https://a/1.mp4"}]}, ["https://a/1.mp4"]),
            ({"data": [], "url": "https://a/fallback.mp4"}, ["https://a/fallback.mp4"]),
            ({"data": [{"url": "https://a/1.mp4"}], "url": "https://a/other.mp4"}, ["https://a/1.mp4"]),
            ({"data": [{"url": "https://a/1.mp4"}, {"url": "https://a/1.mp4"}]}, ["https://a/1.mp4"]),
            ({"data": [{"url": "ftp://a/1.mp4"}, {"url": None}, "junk"]}, []),
            ({}, []),
        ],
    )
    def test_output_urls_and_fallbacks(self, result: dict[str, Any], urls: list[str]) -> None:
        assert Job.from_api({"job_id": "j", "status": "completed", "result": result}).output_urls == urls

    @pytest.mark.parametrize("result", [None, "https://a/1.mp4", ["https://a/1.mp4"]])
    def test_result_not_an_object(self, result: Any) -> None:
        assert Job.from_api({"job_id": "j", "status": "completed", "result": result}).output_urls == []

    def test_error_object(self) -> None:
        job = Job.from_api(
            {"job_id": "j", "status": "failed", "error": {"code": "content_policy", "message": "refused by policy"}}
        )
        assert job.status is JobStatus.FAILED
        assert job.error == JobError(code="content_policy", message="refused by policy")

    def test_error_string(self) -> None:
        job = Job.from_api({"job_id": "j", "status": "failed", "error": "the model crashed"})
        assert job.error is not None
        assert job.error.message == "the model crashed"
        assert job.error.code is None

    @pytest.mark.parametrize("error", [None, "", {}])
    def test_no_error(self, error: Any) -> None:
        assert Job.from_api({"job_id": "j", "status": "failed", "error": error}).error is None

    @pytest.mark.parametrize(
        ("error", "code", "message"),
        [
            ({"type": "upstream_error", "detail": "gpu lost"}, "upstream_error", "gpu lost"),
            ({"code": "timeout"}, "timeout", "timeout"),
            ({"message": "no code"}, None, "no code"),
            ({"foo": "bar"}, None, "unknown error"),
            (42, None, "42"),
        ],
    )
    def test_error_variants(self, error: Any, code: str | None, message: str) -> None:
        parsed = JobError.from_api(error)
        assert parsed is not None
        assert parsed.code == code
        assert parsed.message == message

    def test_usage(self) -> None:
        job = Job.from_api(
            {"job_id": "j", "status": "completed", "result": {"usage": {"billable_units": "8", "cost_usd": 1.12}}}
        )
        assert job.billable_seconds == 8
        assert job.cost_usd == pytest.approx(1.12)

    def test_usage_cost_object(self) -> None:
        job = Job.from_api(
            {"job_id": "j", "status": "completed", "result": {"usage": {"cost": {"amount": 0.7, "currency": "USD"}}}}
        )
        assert job.cost_usd == pytest.approx(0.7)

    @pytest.mark.parametrize("usage", [None, "5", [], {"billable_units": True}])
    def test_unreadable_usage(self, usage: Any) -> None:
        job = Job.from_api({"job_id": "j", "status": "completed", "result": {"usage": usage}})
        assert job.billable_seconds is None
        assert job.cost_usd is None


class TestJobError:
    @pytest.mark.parametrize(
        "code", ["model_unavailable", "upstream_error", "internal_error", "server_error", "timeout", "overloaded"]
    )
    def test_transient(self, code: str) -> None:
        assert JobError(code=code, billed=False).is_transient()
        # Transient only when the API said it was not billed: silence is not a refund.
        assert not JobError(code=code).is_transient()
        assert not JobError(code=code, billed=True).is_transient()

    @pytest.mark.parametrize(
        "code", ["content_policy", "content_policy_violation", "invalid_request", "insufficient_credits", None, ""]
    )
    def test_final(self, code: str | None) -> None:
        assert not JobError(code=code).is_transient()

    def test_billed_failure_is_not_retried(self) -> None:
        assert not JobError(code="upstream_error", billed=True).is_transient()

    def test_billed_is_read_only_as_a_boolean(self) -> None:
        assert JobError.from_api({"code": "timeout", "billed": True}) == JobError(
            code="timeout", message="timeout", billed=True
        )
        assert JobError.from_api({"code": "timeout", "billed": "yes"}) == JobError(code="timeout", message="timeout")


class TestSubmittedJob:
    @pytest.mark.parametrize(
        "payload",
        [
            {"job_id": "job_1", "status": "queued", "poll_url": "/v1/jobs/job_1"},
            {"id": "job_1"},
        ],
    )
    def test_job_id_or_id(self, payload: dict[str, Any]) -> None:
        assert SubmittedJob.from_api(payload).job_id == "job_1"

    @pytest.mark.parametrize("payload", [{}, {"status": "queued"}, None, ["job_1"]])
    def test_no_job_id(self, payload: Any) -> None:
        with pytest.raises(ValueError, match="job_id"):
            SubmittedJob.from_api(payload)


class TestAccountUsage:
    def test_documented_shape(self) -> None:
        usage = AccountUsage.from_api(
            {
                "balance": {"amount": 12.5, "currency": "USD"},
                "data": [
                    {
                        "job_id": "job_1",
                        "model": HAPPYHORSE_MODEL,
                        "status": "completed",
                        "cost": {"amount": 0.7, "currency": "USD"},
                        "output_urls": ["https://cdn.example.com/1.mp4"],
                    },
                    {"id": "job_2", "model": HAPPYHORSE_MODEL, "status": "failed", "cost": {"amount": 0}},
                ],
            }
        )
        assert usage.balance_usd == 12.5
        assert [e.job_id for e in usage.events] == ["job_1", "job_2"]
        assert usage.events[0].cost_usd == 0.7
        assert usage.events[0].output_urls == ["https://cdn.example.com/1.mp4"]
        assert usage.events[0].model == HAPPYHORSE_MODEL
        assert usage.events[1].status == "failed"
        assert usage.events[1].cost_usd == 0
        assert usage.events[1].output_urls == []

    @pytest.mark.parametrize(
        ("payload", "balance"),
        [
            ({"balance_usd": 3}, 3.0),
            ({"balance_usd": "3.5"}, 3.5),
            ({"balance": 9}, 9.0),
            ({"balance": {"amount": "1.25"}}, 1.25),
            ({}, None),
            ({"balance": "lots"}, None),
        ],
    )
    def test_balance_variants(self, payload: dict[str, Any], balance: float | None) -> None:
        assert AccountUsage.from_api(payload).balance_usd == balance

    @pytest.mark.parametrize("key", ["data", "events", "usage"])
    def test_event_list_keys(self, key: str) -> None:
        usage = AccountUsage.from_api({key: [{"job_id": "j", "cost": 0.5}, "junk", 3]})
        assert len(usage.events) == 1
        assert usage.events[0].cost_usd == 0.5

    def test_not_a_list_of_events(self) -> None:
        assert AccountUsage.from_api({"data": {"job_id": "j"}}).events == []

    @pytest.mark.parametrize("payload", [None, [], "usage"])
    def test_not_an_object(self, payload: Any) -> None:
        with pytest.raises(ValueError, match="JSON object"):
            AccountUsage.from_api(payload)
