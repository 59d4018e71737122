"""
Hostile values, from users and from the API: every one is refused (naming the field), priced, or
read safely; none slips through as "something else".

The cap sees the whole request (what changes the bill is priced or named), patterns match whole
values (a trailing newline is not a model id), one job-id rule holds for ids from users and from
the API, a prompt must show something, and parsing an answer raises ``ValueError`` or nothing.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.hooks import empiriolabs as hook_module
from airflow_provider_empiriolabs.models import (
    HAPPYHORSE_MODEL,
    AccountUsage,
    Job,
    JobError,
    SubmittedJob,
    UploadedFile,
    VideoRequest,
    check_job_id,
    estimate_cost_usd,
    is_job_id,
)

IMG = "https://img.example.com/a.png"
PROMPT = "A grey horse trots along a misty beach"


def refused(*fragments: str, **fields: Any) -> str:
    with pytest.raises(EmpirioLabsRequestError) as info:
        VideoRequest.build(**fields)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def accepted(**fields: Any) -> VideoRequest:
    return VideoRequest.build(**{"prompt": PROMPT, **fields})


def deep(levels: int, leaf: Any = "https://cdn.example.com/0.mp4") -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


# ---------------------------------------------------------------------------------------------
# Whole-value patterns: a trailing newline is not "another model" or an image
# ---------------------------------------------------------------------------------------------


class TestWholeMatch:
    @pytest.mark.parametrize(
        "model",
        ["happyhorse-1-1\n", "wan-2-5\n", "a\n"],
    )
    def test_model_id_with_a_trailing_newline_is_refused(self, model: str) -> None:
        refused("model", "model id such as 'happyhorse-1-1'", prompt=PROMPT, model=model)

    def test_happyhorse_rules_cannot_be_skipped_by_a_newline(self) -> None:
        # Before: "happyhorse-1-1\n" counted as another model, so 60 s and watermark-free rules were skipped.
        refused("model", prompt=PROMPT, model="happyhorse-1-1\n", duration=60)

    @pytest.mark.parametrize(
        "image",
        [
            IMG + "\n",
            IMG + "\x00",
            "https://img.example.com/\u202egnp.exe",
            "https://img\u200b.example.com/a.png",
            "bunny://uploads/a.png\n",
            "bunny://uploads/\x00a.png",
        ],
    )
    def test_image_ref_with_control_or_invisible_character_is_refused(self, image: str) -> None:
        refused("images", "http(s) URL or a path", prompt=PROMPT, images=[image])

    @pytest.mark.parametrize("template", ["dance-loop\n", "dance loop", "../x", "\u202edance"])
    def test_template_must_be_a_slug(self, template: str) -> None:
        refused("template", "template slug", prompt=PROMPT, template=template)

    @pytest.mark.parametrize("field", ["aspect_ratio", "resolution"])
    @pytest.mark.parametrize("value", ["720p\n", "16:9 ", "a\u202eb"])
    def test_other_models_options_are_whole_tokens(self, field: str, value: str) -> None:
        refused(field, prompt=PROMPT, model="wan-2-5", **{field: value})

    @pytest.mark.parametrize("source", [{"job_id": ".."}, {"job_id": "job_1\n"}, {"job_id": "a/b"}])
    def test_extend_from_job_id_follows_the_job_id_rule(self, source: dict[str, str]) -> None:
        refused("extend_from.job_id", "not a job id", prompt=PROMPT, extend_from=source)

    @pytest.mark.parametrize("url", ["https://v.example.com/1.mp4\n", "https://v.example.com/\u202e1.mp4"])
    def test_extend_from_video_url_is_a_whole_url(self, url: str) -> None:
        refused("extend_from.video_url", "http(s)://", prompt=PROMPT, extend_from={"video_url": url})

    def test_extend_from_video_url_scheme_in_any_case(self) -> None:
        assert accepted(extend_from={"video_url": "HTTPS://v.example.com/1.mp4"}).extend_from is not None


# ---------------------------------------------------------------------------------------------
# The prompt: something visible, no NUL
# ---------------------------------------------------------------------------------------------


class TestPromptText:
    @pytest.mark.parametrize(
        "prompt",
        [
            "\u200b",
            "\u200c\u200d",
            "\ufeff",
            "\u2060",
            "\u202e\u202c",
            "\u200e\u200f",
            "\u180e",
            "\u3164",
            "\u2800",
            "\u0301",
            " \u200b\t\n\u2060 ",
        ],
    )
    def test_no_visible_character_is_refused(self, prompt: str) -> None:
        refused("prompt", "not blank", "one visible character", prompt=prompt)
        assert accepted(prompt=prompt + "a").prompt == prompt + "a"  # one visible character is enough

    @pytest.mark.parametrize("prompt", ["\x00", "\x00" * 10, PROMPT + "\x00", "\x00" + PROMPT, PROMPT + "\x1b[31m"])
    def test_nul_or_control_anywhere_is_refused(self, prompt: str) -> None:
        message = refused("prompt", "control characters such as NUL", prompt=prompt)
        assert "\x00" not in message and "\x1b" not in message

    @pytest.mark.parametrize("prompt", ["🐎", "馬", "line one\nline two\ttabbed\r\n", "é"])
    def test_tabs_and_line_breaks_are_allowed_but_not_other_controls(self, prompt: str) -> None:
        assert accepted(prompt=prompt).prompt == prompt
        refused("prompt", "found U+0007", prompt=prompt + "\a")


# ---------------------------------------------------------------------------------------------
# extra_params: plain names and JSON values
# ---------------------------------------------------------------------------------------------


class TestExtraParamsValues:
    @pytest.mark.parametrize("key", ["n\n", "", "a b", "\u202en", "x" * 65, "1st"])
    def test_keys_are_parameter_names(self, key: str) -> None:
        refused("extra_params", "parameter names", prompt=PROMPT, extra_params={key: 1})

    @pytest.mark.parametrize(
        ("value", "why"),
        [
            (math.nan, "not finite"),
            (math.inf, "not finite"),
            ({1, 2}, "a set"),
            (object(), "not a JSON value"),
            (2**70, "beyond 64 bits"),
            (deep(9, 1), "8 levels"),
            ({"a": deep(20_000, 1)}, "8 levels"),
            ({1: "x"}, "not a string"),
        ],
    )
    def test_values_are_json(self, value: Any, why: str) -> None:
        refused("extra_params.strength", "JSON value", why, prompt=PROMPT, extra_params={"strength": value})


# ---------------------------------------------------------------------------------------------
# The cap sees the whole request
# ---------------------------------------------------------------------------------------------


class TestWholeBill:
    def test_seconds_are_billed_whole(self) -> None:
        request = accepted(duration=5.5)
        assert request.billed_seconds == 6
        assert request.estimated_cost_usd() == pytest.approx(0.84)
        assert estimate_cost_usd(HAPPYHORSE_MODEL, "1080p", 14.01) == pytest.approx(2.70)
        assert request.to_payload()["duration"] == 5.5  # sent as asked: the API takes a number

    def test_a_parameter_the_spec_does_not_know_is_refused_naming_it(self) -> None:
        with pytest.raises(EmpirioLabsRequestError) as info:
            accepted(duration=5, extra_params={"n": 2})
        message = str(info.value)
        assert "extra_params.n: happyhorse-1-1 takes no such parameter; it takes aspect_ratio" in message
        assert "docs.empiriolabs.ai/models/happyhorse-1-1" in message  # where the rule comes from

    @pytest.mark.parametrize(
        ("fields", "unpriced"),
        [
            ({"template": "dance-loop"}, ["template"]),
            ({"extend_from": {"job_id": "job_1"}}, ["extend_from"]),
            ({"extend_from": {"video_url": IMG}}, ["extend_from"]),
            # Sent unchecked (validation="off"): a key the spec does not know may change the bill.
            ({"extra_params": {"n": 2}, "validation": "off"}, ["extra_params.n"]),
            ({"extra_params": {"parameters": {"duration": 15}}, "validation": "off"}, ["extra_params.parameters"]),
            (
                {"extra_params": {"num_videos": 2, "seconds": 15}, "validation": "warn"},
                ["extra_params.num_videos", "extra_params.seconds"],
            ),
            ({"model": "wan-2-5"}, ["model"]),
            (
                {"template": "t", "extra_params": {"n": 2, "size": "4k"}, "validation": "off"},
                ["extra_params.n", "extra_params.size", "template"],
            ),
        ],
    )
    def test_what_may_change_the_bill_without_a_price_is_named(
        self, fields: dict[str, Any], unpriced: list[str]
    ) -> None:
        request = accepted(**fields)
        assert request.unpriced_fields() == unpriced
        assert request.estimated_cost_usd() is None
        problem = request.cost_problem(100.0)
        assert problem is not None and problem.startswith("max_cost_usd: the estimated cost is unknown")
        for name in unpriced:
            assert name in problem
        assert request.cost_problem(None) is None  # without a cap, nothing to refuse

    def test_the_message_says_what_a_capped_request_may_hold(self) -> None:
        problem = accepted(template="t", extra_params={"size": "4k"}, validation="off").cost_problem(5)
        assert problem is not None
        for allowed in ("leave template and extend_from unset", "only the parameters of the model's spec"):
            assert allowed in problem, problem

    def test_a_hostile_key_is_escaped_in_the_message(self) -> None:
        problem = accepted(extra_params={"dur-ation": 1, "x": {"a\nb\u202e": 1}}, validation="off").cost_problem(5)
        assert problem is not None and "\n" not in problem and "\u202e" not in problem
        assert "extra_params.dur-ation" in problem

    def test_over_the_cap(self) -> None:
        problem = accepted(duration=8, resolution="1080p").cost_problem(1.0)
        assert problem == "max_cost_usd: the estimated cost $1.44 exceeds the limit of $1.00"

    def test_at_the_cap(self) -> None:
        assert accepted(duration=3).cost_problem(0.42) is None

    def test_unknown_model(self) -> None:
        problem = accepted(model="wan-2-5", duration=5).cost_problem(10)
        assert problem is not None
        assert "unknown (no price for this model, 'wan-2-5': it has no model spec)" in problem
        assert "happyhorse-1-1" in problem and "wan-2-6" in problem

    @pytest.mark.parametrize("cap", [math.nan, math.inf, -1.0, "1", True])
    def test_a_cap_that_is_not_a_number_of_usd_is_a_problem(self, cap: Any) -> None:
        problem = accepted(duration=3).cost_problem(cap)
        assert problem is not None and problem.startswith("max_cost_usd: must be")


# ---------------------------------------------------------------------------------------------
# One job-id rule, for ids from users and from the API
# ---------------------------------------------------------------------------------------------

GOOD_IDS = ["job_abc123", "j", "123", "a:b-c.d_e", "x" * 128, "JOB_" + "f" * 24]
BAD_IDS: list[Any] = [
    ".",
    "..",
    "",
    " ",
    "job 1",
    "a/b",
    "../account",
    "job_1\n",
    "\njob_1",
    "job_\u202e1",
    "job\x001",
    "job\u200b1",
    "-job",
    ".job",
    "x" * 129,
    "j" * 4000,
    "jöb",
    "job%2F1",
    None,
    5,
    ["job_1"],
]


class TestJobIds:
    @pytest.mark.parametrize("job_id", GOOD_IDS)
    def test_good_and_the_same_with_a_trailing_newline(self, job_id: str) -> None:
        assert check_job_id(job_id) == job_id
        assert is_job_id(job_id)
        assert not is_job_id(job_id + "\n")
        with pytest.raises(ValueError, match="not a job id"):
            SubmittedJob.from_api({"job_id": job_id + "\n"})

    @pytest.mark.parametrize("job_id", BAD_IDS)
    def test_bad_from_a_user(self, job_id: Any) -> None:
        with pytest.raises(ValueError, match=r"^job_id: .* is not a job id \(1 to 128 letters") as caught:
            check_job_id(job_id)
        message = str(caught.value)
        assert "\n" not in message and "\x00" not in message and "\u202e" not in message
        assert len(message) < 300

    def test_the_hook_uses_the_same_rule(self) -> None:
        assert hook_module.check_job_id is check_job_id

    @pytest.mark.parametrize("key", ["job_id", "id"])
    @pytest.mark.parametrize("job_id", [i for i in BAD_IDS if i not in ("", None, 5)])
    def test_bad_from_the_api(self, key: str, job_id: Any) -> None:
        with pytest.raises(ValueError, match="not a job id"):
            Job.from_api({key: job_id, "status": "queued"})
        with pytest.raises(ValueError, match="not a job id"):
            SubmittedJob.from_api({key: job_id, "status": "queued"})

    @pytest.mark.parametrize("job_id", [True, 3.5, {"a": 1}, 10**30, -1])
    def test_an_id_that_is_not_text_or_a_small_number(self, job_id: Any) -> None:
        with pytest.raises(ValueError):
            Job.from_api({"job_id": job_id})
        with pytest.raises(ValueError):
            SubmittedJob.from_api({"job_id": job_id})

    def test_usage_events_drop_hostile_ids(self) -> None:
        usage = AccountUsage.from_api({"data": [{"job_id": "../x"}, {"id": "job_\u202e"}, {"job_id": "job_ok"}]})
        assert [event.job_id for event in usage.events] == [None, None, "job_ok"]


# ---------------------------------------------------------------------------------------------
# Answers of the API: read safely
# ---------------------------------------------------------------------------------------------


class TestHostileAnswers:
    def test_uppercase_scheme_output_urls_are_kept(self) -> None:
        job = Job.from_api(
            {
                "job_id": "j",
                "status": "completed",
                "result": {"data": [{"url": "HTTPS://cdn.example.com/0.mp4"}, {"url": "Http://cdn.example.com/1.mp4"}]},
            }
        )
        assert job.output_urls == ["HTTPS://cdn.example.com/0.mp4", "Http://cdn.example.com/1.mp4"]

    @pytest.mark.parametrize(
        "url",
        [
            "https://cdn.example.com/0.mp4\n",
            "https://cdn.example.com/\u202e0.mp4",
            "https://cdn.example.com/a b",
            "https://",
        ],
    )
    def test_output_urls_with_blank_or_invisible_characters_are_dropped(self, url: str) -> None:
        job = Job.from_api({"job_id": "j", "status": "completed", "result": {"data": [{"url": url}]}})
        assert job.output_urls == []

    def test_status_and_error_text_are_escaped_for_log_lines(self) -> None:
        job = Job.from_api(
            {
                "job_id": "j",
                "status": "failed\nINFO forged line",
                "error": {"code": "x\u202e", "message": "bad\x00\nthing" + "!" * 5000},
            }
        )
        assert "\n" not in job.raw_status and job.raw_status.startswith("failed\\nINFO")
        assert job.error is not None
        assert job.error.code == "x\\u202e"
        assert "\n" not in job.error.message and "\x00" not in job.error.message
        assert len(job.error.message) <= 1000

    @pytest.mark.parametrize("where", ["status", "error", "job_id"])
    def test_deep_nesting_anywhere_raises_value_error_or_nothing(self, where: str) -> None:
        payload: dict[str, Any] = {"job_id": "j", "status": "queued", where: deep(20_000)}
        if where == "job_id":  # an unreadable id is refused
            with pytest.raises(ValueError, match="not a job id"):
                Job.from_api(payload)
        else:
            assert Job.from_api(payload).job_id == "j"

    @pytest.mark.parametrize(
        "result",
        [
            {"data": deep(20_000)},
            {"outputs": deep(20_000)},
        ],
    )
    def test_deep_results_are_read_without_recursion_error(self, result: dict[str, Any]) -> None:
        job = Job.from_api({"job_id": "j", "status": "completed", "result": result})
        assert all(url.startswith("https://") for url in job.output_urls)

    def test_deep_error_and_usage(self) -> None:
        assert JobError.from_api(deep(20_000)) == JobError(message="unreadable error (list)")
        usage = AccountUsage.from_api({"data": [{"job_id": deep(20_000), "output_urls": deep(20_000)}]})
        assert usage.events[0].job_id is None
        with pytest.raises(ValueError, match="not a job id"):
            SubmittedJob.from_api({"job_id": deep(20_000)})

    @pytest.mark.parametrize("path", ["bunny://uploads/a.png\n", "bunny://uploads/\u202ea.png", "../a.png", ""])
    def test_an_uploaded_path_is_an_image_reference(self, path: str) -> None:
        with pytest.raises(ValueError, match="not a bunny:// path"):
            UploadedFile.model_validate({"path": path})
        assert UploadedFile.model_validate({"path": "bunny://uploads/ab12/a.png"}).path == "bunny://uploads/ab12/a.png"

    def test_deep_values_in_a_request_are_refused_not_crashed(self) -> None:
        refused("images", prompt=PROMPT, images=deep(20_000))
        refused("extend_from", prompt=PROMPT, extend_from={"job_id": deep(20_000)})
