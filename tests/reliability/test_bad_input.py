"""
Bad input: every invalid argument is refused before a single request is sent, naming the field
and what it allows.

A rejected request costs a round trip; an accepted wrong one costs money. So each row of the
tables below is checked three ways where it applies:

- as a literal argument, when the operator is built (and so when the DAG file is parsed: a
  ``DagBag`` over a folder of one-task DAG files shows one import error per row, naming the field);
- as a rendered value (templates and XCom are only known at run time), when the task runs: it
  fails before anything is sent;
- and the simulator's counters prove that no request of any kind reached the API.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.support import make_context

IMG = "https://assets.example.com/stills/horse.png"
PROMPT = "A bay horse walking through tall grass"
NAN = float("nan")


@dataclass(frozen=True)
class Bad:
    """
    One invalid input.

    :param id: short name.
    :param kwargs: the arguments that make it invalid (on top of a valid base).
    :param field: the field the message must name.
    :param allowed: text of the message saying what is allowed.
    :param when: ``parse`` (refused when the operator is built) or ``run`` (refused when the task
        runs, before any request).
    """

    id: str
    kwargs: dict[str, Any]
    field: str
    allowed: str
    when: str = "parse"
    marks: tuple[Any, ...] = field(default=())


GENERATE: tuple[Bad, ...] = (
    # prompt
    Bad("prompt-empty", {"prompt": ""}, "prompt", "1 to 2,500 characters"),
    Bad("prompt-blank", {"prompt": "   "}, "prompt", "1 to 2,500 characters, not blank"),
    Bad("prompt-2501-chars", {"prompt": "x" * 2501}, "prompt", "1 to 2,500 characters"),
    Bad("prompt-not-text", {"prompt": 42}, "prompt", "valid string"),
    # prompt: nothing visible, or a control character (NUL anywhere)
    Bad("prompt-only-nuls", {"prompt": "\x00\x00"}, "prompt", "control characters such as NUL"),
    Bad("prompt-nul-inside", {"prompt": PROMPT + "\x00"}, "prompt", "control characters such as NUL"),
    Bad("prompt-escape-inside", {"prompt": PROMPT + "\x1b[2J"}, "prompt", "control characters such as NUL"),
    Bad("prompt-zero-width", {"prompt": "\u200b\u200c\u200d\ufeff\u2060"}, "prompt", "one visible character"),
    Bad("prompt-rtl-override-only", {"prompt": " \u202e \u200e"}, "prompt", "one visible character"),
    Bad("prompt-hangul-filler-only", {"prompt": "\u3164\u3164"}, "prompt", "one visible character"),
    # duration: 3 to 15 s, both sides, and wrong types
    Bad("duration-2.9", {"duration": 2.9}, "duration", "3 to 15 seconds"),
    Bad("duration-15.5", {"duration": 15.5}, "duration", "3 to 15 seconds"),
    Bad("duration-0", {"duration": 0}, "duration", "3 to 15 seconds"),
    Bad("duration-negative", {"duration": -5}, "duration", "3 to 15 seconds"),
    Bad("duration-nan", {"duration": NAN}, "duration", "3 to 15 seconds"),
    Bad("duration-text", {"duration": "five"}, "duration", "valid number"),
    Bad("duration-bool", {"duration": True}, "duration", "not a boolean"),
    # seed: 0 to 2147483647
    Bad("seed-negative", {"seed": -1}, "seed", "0 to 2,147,483,647"),
    Bad("seed-2147483648", {"seed": 2147483648}, "seed", "0 to 2,147,483,647"),
    Bad("seed-fraction", {"seed": 1.5}, "seed", "valid integer"),
    Bad("seed-text", {"seed": "abc"}, "seed", "valid integer"),
    Bad("seed-bool", {"seed": True}, "seed", "not a boolean"),
    # aspect ratio and resolution
    Bad("aspect-21:9", {"aspect_ratio": "21:9"}, "aspect_ratio", "'16:9', '9:16', '1:1', '4:3', '3:4'"),
    Bad("aspect-16x9", {"aspect_ratio": "16x9"}, "aspect_ratio", "'16:9', '9:16', '1:1', '4:3', '3:4'"),
    Bad("aspect-empty", {"aspect_ratio": ""}, "aspect_ratio", "at least 1 character"),
    Bad("resolution-4k", {"resolution": "4k"}, "resolution", "'720p', '1080p'"),
    Bad("resolution-720", {"resolution": "720"}, "resolution", "'720p', '1080p'"),
    # mode and image count
    Bad("mode-unknown", {"mode": "warp"}, "mode", "'auto', 't2v', 'i2v', 'r2v'"),
    Bad("i2v-without-image", {"mode": "i2v"}, "images", "exactly 1 image"),
    Bad("i2v-two-images", {"mode": "i2v", "images": [IMG, IMG]}, "images", "exactly 1 image"),
    Bad("t2v-with-an-image", {"mode": "t2v", "images": [IMG]}, "images", "takes no images"),
    Bad("r2v-without-images", {"mode": "r2v"}, "images", "1 to 9 images"),
    Bad("r2v-ten-images", {"mode": "r2v", "images": [IMG] * 10}, "images", "1 to 9 images"),
    Bad("auto-ten-images", {"images": [IMG] * 10}, "images", "at most 9 images"),
    Bad(
        "r2v-character-beyond-images",
        {"mode": "r2v", "images": [IMG, IMG], "prompt": "character3 rides ahead"},
        "prompt",
        "character1 to character2",
    ),
    Bad("i2v-with-aspect-ratio", {"mode": "i2v", "images": [IMG], "aspect_ratio": "1:1"}, "aspect_ratio", "leave it"),
    # image references
    Bad("image-bare-name", {"images": ["horse.png"]}, "images", "http(s) URL or a path"),
    Bad("image-relative-path", {"images": ["stills/horse.png"]}, "images", "http(s) URL or a path"),
    Bad("image-mailto", {"images": ["mailto:horse@example.com"]}, "images", "http(s) URL or a path"),
    Bad("image-scheme-only", {"images": ["https://"]}, "images", "http(s) URL or a path"),
    Bad("image-empty", {"images": [""]}, "images", "http(s) URL or a path"),
    Bad("image-with-space", {"images": ["https://a.example.com/b c.png"]}, "images", "http(s) URL or a path"),
    Bad("image-not-text", {"images": [42]}, "images", "valid string"),
    # flags, template, extend_from
    Bad("watermark-text", {"watermark": "yes"}, "watermark", "valid boolean"),
    Bad("generate-audio-int", {"generate_audio": 1}, "generate_audio", "valid boolean"),
    Bad("template-empty", {"template": ""}, "template", "at least 1 character"),
    Bad("extend-from-empty", {"extend_from": {}}, "extend_from", "exactly one of job_id or video_url"),
    Bad(
        "extend-from-both",
        {"extend_from": {"job_id": "job_1", "video_url": "https://v.example.com/1.mp4"}},
        "extend_from",
        "exactly one of job_id or video_url",
    ),
    Bad("extend-from-ftp", {"extend_from": {"video_url": "ftp://v.example.com/1.mp4"}}, "extend_from", "http(s)://"),
    Bad("extend-from-job-id-dotdot", {"extend_from": {"job_id": ".."}}, "extend_from.job_id", "not a job id"),
    Bad("extend-from-job-id-newline", {"extend_from": {"job_id": "job_1\n"}}, "extend_from.job_id", "not a job id"),
    Bad("template-newline", {"template": "dance-loop\n"}, "template", "template slug"),
    # models
    Bad("model-bad-id", {"model": "HappyHorse 1.1"}, "model", "model id such as 'happyhorse-1-1'"),
    # a trailing newline passed a $-anchored pattern as "another model", skipping every HappyHorse rule
    Bad("model-trailing-newline", {"model": "happyhorse-1-1\n"}, "model", "model id such as 'happyhorse-1-1'"),
    Bad(
        "model-trailing-newline-60-s",
        {"model": "happyhorse-1-1\n", "duration": 60},
        "model",
        "model id such as 'happyhorse-1-1'",
    ),
    Bad("image-trailing-newline", {"images": [IMG + "\n"]}, "images", "http(s) URL or a path"),
    Bad("image-rtl-override", {"images": ["https://a.example.com/\u202egnp.exe"]}, "images", "http(s) URL or a path"),
    Bad("image-nul", {"images": ["bunny://uploads/a\x00.png"]}, "images", "http(s) URL or a path"),
    Bad("other-model-resolution-newline", {"model": "wan-2-5", "resolution": "720p\n"}, "resolution", "'720p'"),
    Bad("extra-params-key-newline", {"extra_params": {"n\n": 2}}, "extra_params", "parameter names"),
    Bad("extra-params-deep", {"extra_params": {"deep": [[[[[[[[[1]]]]]]]]]}}, "extra_params.deep", "8 levels"),
    Bad("other-model-watermark", {"model": "wan-2-5", "watermark": True}, "watermark", "has no model spec"),
    Bad("other-model-mode", {"model": "wan-2-5", "mode": "t2v"}, "mode", "has no model spec"),
    # each model family, by the rules of its spec
    Bad("wan-2-6-duration-4", {"model": "wan-2-6", "duration": 4}, "duration", "must be 5 to 15"),
    Bad(
        "wan-2-6-flash-t2v",
        {"model": "wan-2-6", "duration": 5, "mode": "t2v", "extra_params": {"flash_mode": True}},
        "extra_params.flash_mode",
        "applies to i2v and r2v only",
    ),
    Bad(
        "happyhorse-1-0-videoedit-no-video",
        {"model": "happyhorse-1-0", "mode": "videoedit", "images": [IMG]},
        "video",
        "Required for videoedit",
    ),
    Bad("kling-o3-seven-scenes", {"model": "kling-o3", "prompt": "a|b|c|d|e|f|g"}, "prompt", "at most 6 scenes"),
    Bad(
        "kling-o3-tier",
        {"model": "kling-o3", "extra_params": {"model_tier": "ultra"}},
        "extra_params.model_tier",
        "'standard', 'pro', '4k'",
    ),
    Bad(
        "kling-turbo-generate-audio",
        {"model": "kling-3-0-turbo", "generate_audio": True},
        "generate_audio",
        "takes no such parameter",
    ),
    Bad(
        "seedance-duration-without-custom",
        {"model": "seedance-2-0-fast", "duration": 5, "extra_params": {"custom_duration": False}},
        "duration",
        "only used when custom_duration=true",
    ),
    Bad(
        "pixverse-1080p-10s",
        {"model": "pixverse-v5-6", "resolution": "1080p", "duration": 10},
        "resolution",
        "no price row for resolution='1080p', duration=10",
    ),
    Bad("pixverse-6s", {"model": "pixverse-v5-6", "duration": 6}, "duration", "5, 8, 10"),
    Bad("svi-duration-10", {"model": "svi-2-0-pro", "duration": 10}, "duration", "18 to 121.5"),
    Bad(
        "svi-resolution-720p",
        {"model": "svi-2-0-pro", "duration": 18, "resolution": "720p"},
        "resolution",
        "'1280x720'",
    ),
    Bad("image-model-on-video-operator", {"model": "flux-2-klein-4b"}, "model", "makes images"),
    Bad("extra-param-unknown-to-the-spec", {"extra_params": {"n": 2}}, "extra_params.n", "takes no such parameter"),
    Bad("other-model-negative-duration", {"model": "wan-2-5", "duration": -1}, "duration", "positive number"),
    Bad("extra-params-repeat-prompt", {"extra_params": {"prompt": "x"}}, "extra_params", "pass them as arguments"),
    Bad("extra-params-image", {"extra_params": {"image": IMG}}, "extra_params", "pass them as arguments"),
    # waiting, money, hook
    Bad("poll-interval-negative", {"poll_interval": -1}, "poll_interval", "more than 0"),
    Bad("poll-interval-0", {"poll_interval": 0}, "poll_interval", "more than 0"),
    Bad("poll-interval-text", {"poll_interval": "10"}, "poll_interval", "a number of seconds"),
    Bad("poll-interval-nan", {"poll_interval": NAN}, "poll_interval", "a number of seconds"),
    Bad("timeout-negative", {"timeout": -5}, "timeout", "more than 0 seconds"),
    Bad("timeout-negative-timedelta", {"timeout": timedelta(seconds=-1)}, "timeout", "more than 0 seconds"),
    Bad("timeout-0", {"timeout": 0}, "timeout", "more than 0 seconds"),
    Bad("max-cost-negative", {"max_cost_usd": -0.01}, "max_cost_usd", "0 or more"),
    Bad("max-cost-text", {"max_cost_usd": "1"}, "max_cost_usd", "a number of USD"),
    Bad(
        "hook-params-unknown",
        {"hook_params": {"retries": 3}},
        "hook_params",
        "allowed: timeout, total_timeout, max_attempts",
    ),
    Bad("hook-timeout-negative", {"hook_params": {"timeout": -1}}, "hook_params.timeout", "positive number"),
    Bad("hook-attempts-0", {"hook_params": {"max_attempts": 0}}, "hook_params.max_attempts", "1 or more"),
    # refused at run time, before anything is sent: what needs the files or the price table
    Bad("image-file-not-an-image", {"images": ["file:///etc/hostname"]}, "images", "only images", "run"),
    Bad("image-local-file-missing", {"images": ["/nonexistent/horse.png"]}, "images", "/nonexistent/horse.png", "run"),
    Bad(
        "image-unusable-scheme",
        {"images": ["ftp://127.0.0.1:9/horse.png"]},
        "images",
        "ftp",
        "run",
    ),
    Bad("max-cost-exceeded", {"duration": 5, "max_cost_usd": 0.69}, "max_cost_usd", "exceeds the limit", "parse"),
    # the cap sees the whole request: what it cannot price is refused (the message says unknown) ...
    Bad("max-cost-extend-from", {"extend_from": {"job_id": "job_1"}, "max_cost_usd": 10}, "max_cost_usd", "unknown"),
    Bad(
        "max-cost-videoedit",
        {
            "model": "happyhorse-1-0",
            "mode": "videoedit",
            "images": [IMG],
            "extra_params": {"video": "https://v.example.com/a.mp4"},
            "max_cost_usd": 10,
        },
        "max_cost_usd",
        "input video's length",
    ),
    Bad(
        "max-cost-auto-with-a-video",
        {
            "model": "happyhorse-1-0",
            "images": [IMG],
            "extra_params": {"video": "https://v.example.com/a.mp4"},
            "max_cost_usd": 10,
        },
        "max_cost_usd",
        "may choose videoedit",
    ),
    Bad(
        "max-cost-kling-o3-reference-videos",
        {
            "model": "kling-o3",
            "extra_params": {"reference_videos": ["https://v.example.com/a.mp4"]},
            "max_cost_usd": 10,
        },
        "max_cost_usd",
        "Video Input rate",
    ),
    # ... and what it can price counts: each model by its own rows, a 5.5 s video is billed as 6 s
    Bad("max-cost-wan-2-6", {"model": "wan-2-6", "duration": 10, "max_cost_usd": 1.0}, "max_cost_usd", "$1.38"),
    Bad(
        "max-cost-kling-o3-scenes",
        {"model": "kling-o3", "prompt": "5s: a | 10s: b", "max_cost_usd": 2.0},
        "max_cost_usd",
        "$4.20",
    ),
    Bad("max-cost-svi-fee", {"model": "svi-2-0-pro", "duration": 18, "max_cost_usd": 1.0}, "max_cost_usd", "$1.16"),
    Bad(
        "max-cost-pixverse-clip",
        {"model": "pixverse-v5-6", "duration": 8, "extra_params": {"audio": True}, "max_cost_usd": 2.0},
        "max_cost_usd",
        "$3.00",
    ),
    Bad("max-cost-fractional-seconds", {"duration": 5.5, "max_cost_usd": 0.77}, "max_cost_usd", "$0.84"),
    Bad(
        "max-cost-unknown-price",
        {"model": "wan-2-5", "duration": 5, "max_cost_usd": 10},
        "max_cost_usd",
        "no price for this model",
        "parse",
    ),
)

SENSOR: tuple[Bad, ...] = (
    Bad("sensor-job-id-empty", {"job_id": ""}, "job_id", "1 to 128 letters, digits"),
    Bad("sensor-job-id-slash", {"job_id": "job_1/../x"}, "job_id", "is not a job id"),
    Bad("sensor-job-id-dot", {"job_id": "."}, "job_id", "is not a job id"),
    Bad("sensor-job-id-dotdot", {"job_id": ".."}, "job_id", "is not a job id"),
    Bad("sensor-job-id-newline", {"job_id": "job_1\n"}, "job_id", "is not a job id"),
    Bad("sensor-job-id-rtl", {"job_id": "job_\u202e1"}, "job_id", "is not a job id"),
    Bad("sensor-job-id-nul", {"job_id": "job\x001"}, "job_id", "is not a job id"),
    Bad("sensor-job-id-4000-chars", {"job_id": "j" * 4000}, "job_id", "1 to 128"),
    Bad("sensor-poke-interval-negative", {"poke_interval": -1}, "poke_interval", "non-negative number"),
    Bad("sensor-timeout-negative", {"timeout": -1}, "timeout", "non-negative number"),
    Bad("sensor-hook-params-unknown", {"hook_params": {"bogus": 1}}, "hook_params", "allowed"),
)


TRANSFER: tuple[Bad, ...] = (
    Bad("dest-empty", {"destination": ""}, "destination", "s3://bucket/videos/"),
    Bad("dest-no-scheme", {"destination": "videos/"}, "destination", "a URL with a scheme", "run"),
    Bad("dest-windows-path", {"destination": "C:\\videos"}, "destination", "a URL with a scheme", "run"),
    Bad(
        "dest-unknown-scheme",
        {"destination": "nosuch://bucket/videos/"},
        "destination",
        "nosuch",
        "run",
    ),
    Bad("no-source", {"output_urls": None, "job_id": None}, "job_id", "or output_urls"),
    Bad("if-exists-unknown", {"if_exists": "overwrite"}, "if_exists", "'skip_identical', 'fail', 'replace'"),
    Bad("max-size-0", {"max_size_bytes": 0}, "max_size_bytes", "positive"),
    Bad("output-url-ftp", {"output_urls": ["ftp://cdn.example.com/0.mp4"]}, "output URL", "only http(s)", "run"),
    Bad("output-url-file", {"output_urls": ["file:///etc/passwd"]}, "output URL", "only http(s)", "run"),
    Bad("output-urls-not-text", {"output_urls": [1, 2]}, "output_urls", "a list of URLs", "run"),
    Bad("object-name-traversal", {"object_name": "../{index}.mp4"}, "object_name", "invalid object name", "run"),
    Bad("object-name-unknown-field", {"object_name": "{nope}.mp4"}, "object_name", "available", "run"),
    Bad(
        "object-name-collision",
        {"object_name": "same.mp4", "output_urls": ["<url>", "<url>"]},
        "object_name",
        "include {index}",
        "run",
    ),
    Bad("max-attempts-0", {"max_attempts": 0}, "max_attempts", "at least 1", "run"),
    Bad("chunk-size-0", {"chunk_size": 0}, "chunk_size", "positive", "run"),
)


def _params(cases: tuple[Bad, ...]) -> list[Any]:
    return [pytest.param(c, id=c.id, marks=c.marks) for c in cases]


def _assert_nothing_sent(sim: Any) -> None:
    stats = sim.stats()
    assert stats["requests_total"] == 0, stats  # no API call, no download, nothing
    assert stats["posts"] == 0


def _assert_names(error: BaseException, case: Bad) -> None:
    text = str(error)
    assert case.field in text, text
    assert case.allowed in text, text


def _generate(**kwargs: Any) -> EmpirioLabsGenerateVideoOperator:
    base: dict[str, Any] = {"task_id": "generate", "prompt": PROMPT, "duration": 3, "wait_for_completion": False}
    return EmpirioLabsGenerateVideoOperator(**{**base, **kwargs})


def test_the_tables_are_big_enough() -> None:
    assert len(GENERATE) + len(SENSOR) + len(TRANSFER) >= 40
    assert len({c.id for c in GENERATE + SENSOR + TRANSFER}) == len(GENERATE + SENSOR + TRANSFER)


# -- the generate operator -------------------------------------------------------------------


@pytest.mark.parametrize("case", _params(tuple(c for c in GENERATE if c.when == "parse")))
def test_a_bad_literal_is_refused_when_the_operator_is_built(case: Bad, empiriolabs_connection: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as caught:
        _generate(**case.kwargs)
    _assert_names(caught.value, case)
    _assert_nothing_sent(empiriolabs_connection)


_TEMPLATED = set(EmpirioLabsGenerateVideoOperator.template_fields)
_RENDERED_CASES = tuple(c for c in GENERATE if c.kwargs and set(c.kwargs) <= _TEMPLATED | {"duration"})


@pytest.mark.parametrize("case", _params(_RENDERED_CASES))
def test_a_bad_rendered_value_fails_the_task_before_anything_is_sent(case: Bad, empiriolabs_connection: Any) -> None:
    # Every templated field is a template when the DAG is parsed (so nothing is checked then) ...
    op = _generate(
        prompt="{{ dag_run.conf['prompt'] }}",
        images="{{ dag_run.conf['images'] }}",
        seed="{{ dag_run.conf['seed'] }}",
        model="{{ dag_run.conf['model'] }}",
        mode="{{ dag_run.conf['mode'] }}",
        extra_params="{{ dag_run.conf['extra'] }}",
    )
    # ... and rendering gives a valid request except for the value under test.
    op.prompt, op.images, op.seed, op.model, op.mode, op.extra_params = PROMPT, None, None, "happyhorse-1-1", None, None
    for name, value in case.kwargs.items():
        setattr(op, name, value)
    context = make_context()

    with pytest.raises((AirflowFailException, FileNotFoundError)) as caught:
        op.execute(context)
    _assert_names(caught.value, case)
    _assert_nothing_sent(empiriolabs_connection)
    assert context["ti"].xcoms == {}
    assert context["task_state_store"].values == {}


@pytest.mark.parametrize("case", _params(tuple(c for c in GENERATE if c.when == "run")))
def test_what_only_the_run_can_tell_is_refused_before_sending(case: Bad, empiriolabs_connection: Any) -> None:
    op = _generate(**case.kwargs)  # accepted when built: files and prices are looked at when the task runs

    # A missing local file raises FileNotFoundError (retried by Airflow, but still nothing is sent).
    with pytest.raises((AirflowFailException, FileNotFoundError)) as caught:
        op.execute(make_context())
    _assert_names(caught.value, case)
    if case.field == "max_cost_usd":
        assert "nothing was sent" in str(caught.value)
    _assert_nothing_sent(empiriolabs_connection)


# -- parse time: a DagBag over DAG files holding the literal values --------------------------


def _source(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, timedelta):
        return f"timedelta(seconds={value.total_seconds()!r})"
    return repr(value)


_DAG_FILE = """
from datetime import datetime, timedelta

from airflow.sdk import dag

from {module} import {cls}


@dag(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def bad_input():
    {cls}(task_id="task", {arguments})


bad_input()
"""


def _write_dag(folder: Path, case: Bad, module: str, cls: str, base: dict[str, Any]) -> Path:
    arguments = ", ".join(f"{name}={_source(value)}" for name, value in {**base, **case.kwargs}.items())
    path = folder / f"bad_{re.sub(r'[^A-Za-z0-9]', '_', case.id)}.py"
    path.write_text(_DAG_FILE.format(module=module, cls=cls, dag_id=path.stem, arguments=arguments))
    return path


def test_literal_values_are_refused_when_the_dag_is_parsed(empiriolabs_connection: Any, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    files: dict[str, Bad] = {}
    for case in (c for c in GENERATE if c.when == "parse"):
        path = _write_dag(
            tmp_path,
            case,
            "airflow_provider_empiriolabs.operators.empiriolabs",
            "EmpirioLabsGenerateVideoOperator",
            {"prompt": PROMPT, "duration": 3},
        )
        files[str(path)] = case
    for case in SENSOR:
        path = _write_dag(
            tmp_path,
            case,
            "airflow_provider_empiriolabs.sensors.empiriolabs",
            "EmpirioLabsJobSensor",
            {"job_id": "job_1"},
        )
        files[str(path)] = case
    good = _write_dag(
        tmp_path,
        Bad("good", {}, "", ""),
        "airflow_provider_empiriolabs.operators.empiriolabs",
        "EmpirioLabsGenerateVideoOperator",
        {"prompt": PROMPT, "duration": 3, "max_cost_usd": 0.42},
    )

    bag = DagBag(dag_folder=str(tmp_path))

    assert str(good) not in bag.import_errors  # the folder itself parses
    assert bag.dag_ids == ["bad_good"]
    missing = sorted(files[p].id for p in files if p not in bag.import_errors)
    assert missing == [], f"parsed without an error: {missing}"
    for path, case in files.items():
        error = bag.import_errors[path]
        assert case.field in error, (case.id, error[-500:])
        assert case.allowed in error, (case.id, error[-500:])
    _assert_nothing_sent(empiriolabs_connection)


# -- the sensor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params(SENSOR))
def test_a_bad_sensor_argument_is_refused_when_built(case: Bad, empiriolabs_connection: Any) -> None:
    from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor

    with pytest.raises(ValueError) as caught:
        EmpirioLabsJobSensor(**{"task_id": "wait", "job_id": "job_1", **case.kwargs})
    _assert_names(caught.value, case)
    _assert_nothing_sent(empiriolabs_connection)


@pytest.mark.parametrize("job_id", ["", "job_1/../x", "..", "job_1\n", "job_\u202e1", "j" * 4000])
def test_a_bad_rendered_job_id_fails_the_sensor_before_any_request(job_id: str, empiriolabs_connection: Any) -> None:
    from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor

    sensor = EmpirioLabsJobSensor(task_id="wait", job_id="{{ dag_run.conf['job_id'] }}", poke_interval=0.05)
    sensor.job_id = job_id  # what rendering left

    with pytest.raises(ValueError, match=r"job_id: .* is not a job id"):
        sensor.execute(make_context())
    _assert_nothing_sent(empiriolabs_connection)


# -- the transfer: bad destination URLs and friends ----------------------------------------------


@pytest.mark.parametrize("case", _params(TRANSFER))
def test_a_bad_transfer_argument_is_refused_before_any_request(
    case: Bad, empiriolabs_connection: Any, tmp_path: Path
) -> None:
    from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
        EmpirioLabsToObjectStorageOperator,
    )

    sim = empiriolabs_connection
    # A real, signed-looking URL of the simulator: any request for it would show in its counters.
    url = f"{sim.url}/v1/outputs/job_1/0.mp4?expires=9999999999&signature=00"
    kwargs: dict[str, Any] = {
        "task_id": "store",
        "job_id": "job_1",
        "output_urls": [url],
        "destination": f"file://{tmp_path}/videos/",
        **case.kwargs,
    }
    if kwargs["output_urls"] and "<url>" in kwargs["output_urls"]:
        kwargs["output_urls"] = [url] * len(kwargs["output_urls"])

    with pytest.raises((ValueError, AirflowFailException)) as caught:
        operator = EmpirioLabsToObjectStorageOperator(**kwargs)
        assert case.when == "run", "refused only when run: should have been refused when built"
        operator.execute(make_context())
    if isinstance(caught.value, AirflowFailException):  # an unsafe URL: refused without retries
        assert isinstance(caught.value.__cause__, ValueError), repr(caught.value.__cause__)
    _assert_names(caught.value, case)
    _assert_nothing_sent(sim)
    assert not (tmp_path / "videos").exists() or not any((tmp_path / "videos").rglob("*"))


# -- the API's answers: a hostile job id is never used ---------------------------------------------

_UNIT_BASE = "https://api.empiriolabs.test"
_HOSTILE_IDS = ["..", ".", "job_1\n", "job_\u202e1", "job\x001", "j" * 4000, "a/b", " "]


@pytest.fixture
def unit_api(monkeypatch: pytest.MonkeyPatch) -> Any:
    import json

    import respx

    conn = {"conn_type": "empiriolabs", "host": _UNIT_BASE, "password": "sk-empiriolabs-UNIT-0123456789abcdef"}
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", json.dumps(conn))
    with respx.mock(base_url=_UNIT_BASE, assert_all_called=False) as router:
        yield router


@pytest.mark.parametrize("job_id", _HOSTILE_IDS)
def test_a_hostile_job_id_in_the_answer_to_a_submission_is_an_unknown_outcome(job_id: str, unit_api: Any) -> None:
    from airflow_provider_empiriolabs.exceptions import EmpirioLabsSubmissionUnknownError
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import VideoRequest

    unit_api.post("/v1/videos/generations").respond(202, json={"job_id": job_id, "status": "queued"})
    hook = EmpirioLabsHook(max_attempts=3)
    try:
        with pytest.raises(EmpirioLabsSubmissionUnknownError, match="not a job id") as caught:
            hook.submit_video(VideoRequest.build(prompt=PROMPT, duration=3))
    finally:
        hook.close()
    assert unit_api.calls.call_count == 1  # never sent again: that could pay twice
    message = str(caught.value)
    assert "\n" not in message and "\x00" not in message and "\u202e" not in message and len(message) < 600


@pytest.mark.parametrize("job_id", _HOSTILE_IDS)
def test_a_hostile_job_id_in_a_job_is_an_unreadable_answer(job_id: str, unit_api: Any) -> None:
    from airflow_provider_empiriolabs.exceptions import EmpirioLabsServerError
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

    unit_api.get("/v1/jobs/job_1").respond(200, json={"job_id": job_id, "status": "completed"})
    hook = EmpirioLabsHook(max_attempts=1)
    try:
        with pytest.raises(EmpirioLabsServerError, match="not a job id"):
            hook.get_job("job_1")
    finally:
        hook.close()


def test_a_deeply_nested_answer_to_a_submission_is_an_unknown_outcome(unit_api: Any) -> None:
    from airflow_provider_empiriolabs.exceptions import EmpirioLabsSubmissionUnknownError
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import VideoRequest

    body = '{"job_id": ' + "[" * 100_000 + "]" * 100_000 + "}"
    unit_api.post("/v1/videos/generations").respond(202, content=body, headers={"content-type": "application/json"})
    hook = EmpirioLabsHook(max_attempts=3)
    try:
        with pytest.raises(EmpirioLabsSubmissionUnknownError):
            hook.submit_video(VideoRequest.build(prompt=PROMPT, duration=3))
    finally:
        hook.close()
    assert unit_api.calls.call_count == 1
