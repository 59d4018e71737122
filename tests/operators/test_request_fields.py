"""
The request's fields in one place (issue 18), every one templated (issue 17 item 4), and the
errors that point at the fix (issue 17 item 9).

The request model's fields are the operator's request arguments, its template fields and
attributes, the decorator's fields, the view's parameters, the simulator's accepted body fields and
the unpriced list. A model with one more field (``LensRequest``) proves that the field is the one
edit: the operator, the decorator, the simulator and the view follow with no other code.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_empiriolabs.decorators.empiriolabs import (
    REQUEST_FIELDS,
    _EmpirioLabsVideoDecoratedOperator,
    request_fields_from,
)
from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import (
    UNPRICED_REQUEST_FIELDS,
    VideoRequest,
    displayed_parameters,
    request_body_fields,
)
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.ui.pages import run_page
from airflow_provider_empiriolabs.ui.records import VideoRecord
from tests.decorators.dags.request_fields_test_dags import LensDecoratedOperator, LensOperator, LensRequest
from tests.decorators.test_empiriolabs import DAGS, _run
from tests.support import make_context, task_instance, xcom

#: The operator's arguments that are not request fields, each with why it is the operator's own.
OPERATOR_ONLY: dict[str, str] = {
    "images_conn_id": "which Airflow connection reads storage URLs in images: not sent",
    "empiriolabs_conn_id": "the account: not sent",
    "wait_for_completion": "whether the task waits for the video",
    "deferrable": "where the task waits",
    "poll_interval": "how often it polls",
    "timeout": "how long it waits",
    "max_cost_usd": "a cap checked against the request's estimate: not sent",
    "hook_params": "the hook's own settings",
    "regenerate": "whether a cleared task pays for a new video",
    "validation": "how the model's spec is applied (strict, warn, off): not sent",
}
#: Request fields the operator does not take as arguments, each with why: none.
NOT_ARGUMENTS: dict[str, str] = {}

_OPERATOR = EmpirioLabsGenerateVideoOperator


def _arguments(operator: type[Any]) -> dict[str, inspect.Parameter]:
    parameters = inspect.signature(operator.__init__).parameters
    return {name: p for name, p in parameters.items() if name not in ("self", "kwargs")}


def _param_docs(doc: str) -> dict[str, str]:
    """Each ``:param name:`` entry of a docstring, its lines joined."""
    entries = re.findall(r":param (\w+):(.*?)(?=\n\s*:param |\n\s*\"\"\"|\Z)", doc, flags=re.S)
    return {name: " ".join(text.split()) for name, text in entries}


# -- the model is the list ------------------------------------------------------------------------


def test_the_operators_arguments_are_the_models_fields_and_its_own() -> None:
    arguments = _arguments(_OPERATOR)
    fields = VideoRequest.model_fields

    assert set(arguments) - set(OPERATOR_ONLY) == set(fields) - set(NOT_ARGUMENTS)
    assert set(OPERATOR_ONLY) <= set(arguments) and not set(OPERATOR_ONLY) & set(fields)
    for name, field in fields.items():
        default = arguments[name].default
        if field.is_required():
            assert default is inspect.Parameter.empty, name
        else:  # None leaves the model's default; any other default is the model's
            assert default is None or default == field.get_default(call_default_factory=True), name


def test_the_operators_docstring_describes_each_field_as_the_model_does() -> None:
    docs = _param_docs(_OPERATOR.__doc__ or "")

    for name, field in VideoRequest.model_fields.items():
        assert field.description, f"{name} has no description in the model"
        assert docs[name].startswith(" ".join(field.description.split())), name
    assert set(docs) == set(VideoRequest.model_fields) | set(OPERATOR_ONLY)


def test_the_operator_the_decorator_the_view_and_the_unpriced_list_read_the_model() -> None:
    fields = tuple(VideoRequest.model_fields)
    assert fields == REQUEST_FIELDS
    assert set(fields) <= set(_OPERATOR.template_fields)  # every request field is templated
    assert set(fields) | {"op_args", "op_kwargs"} <= set(_EmpirioLabsVideoDecoratedOperator.template_fields)
    assert UNPRICED_REQUEST_FIELDS == ("template", "extend_from")
    base_displayed = {"mode", "resolution", "aspect_ratio", "duration", "watermark", "generate_audio", "template"}
    assert base_displayed <= set(displayed_parameters())
    assert {"prompt", "image", "duration", "extend_from"} <= request_body_fields()


# -- one more field: the one edit -----------------------------------------------------------------


def test_a_field_the_model_gains_is_an_argument_templated_checked_sent_and_unpriced() -> None:
    assert "lens" in LensOperator.template_fields and set(_OPERATOR.template_fields) <= set(
        LensOperator.template_fields
    )
    assert {"lens", "op_args", "op_kwargs"} <= set(LensDecoratedOperator.template_fields)
    assert "lens" in displayed_parameters() and "lens" in request_body_fields()

    with pytest.raises(EmpirioLabsRequestError, match=r"task 'wide' \(.*: Invalid EmpirioLabs request: lens: "):
        LensOperator(task_id="wide", prompt="a horse", lens="fisheye")  # refused when the DAG is parsed
    with pytest.raises(TypeError, match="did you mean 'lens'"):
        LensOperator(task_id="wide", prompt="a horse", lenz="35mm")

    op = LensOperator(task_id="wide", prompt="a horse", lens="{{ params.lens }}", max_cost_usd=5)
    op.lens = "35mm"  # as rendered
    with pytest.raises(AirflowFailException, match=r"max_cost_usd: .*lens may change the bill"):
        _ = op.request  # unpriced (FieldUse(bill="unpriced")): refused under a cap, naming it
    op = LensOperator(task_id="wide", prompt="a horse", lens="35mm")
    assert op.request.to_payload()["lens"] == "35mm"


def test_the_decorator_takes_a_field_the_model_gains_and_names_a_near_miss() -> None:
    allowed = tuple(LensRequest.model_fields)
    assert request_fields_from({"prompt": "a horse", "lens": "50mm"}, task_id="t", allowed=allowed)["lens"] == "50mm"
    with pytest.raises(TypeError, match=r"unknown field\(s\) \['lenz'\] \(did you mean 'lens'\?\)"):
        request_fields_from({"prompt": "a horse", "lenz": "50mm"}, task_id="t", allowed=allowed)


def test_the_view_shows_a_field_the_model_gains() -> None:
    record = VideoRecord("d", "r", "t", -1, "job_1", request={"prompt": "a horse", "model": "m", "lens": "35mm"})

    page = run_page("run", [record], lambda r, i: f"/empiriolabs/media/{i}", "none")

    assert re.search(r"<th>Parameters</th><td>[^<]*lens=35mm", page)


@pytest.mark.usefixtures("airflow_db")
def test_a_field_the_model_gains_reaches_the_api_from_the_operator_and_the_decorator(
    empiriolabs_connection: Any,
) -> None:
    run = _run("request_fields_lens")

    assert run.state == "success"
    assert xcom(run, "operator", key="request")["lens"] == "35mm"  # rendered from params
    assert xcom(run, "decorated", key="request")["lens"] == "85mm"  # returned by the function
    assert empiriolabs_connection.stats()["posts"] == 2  # the simulator took the body field


# -- every field templated (issue 17 item 4) ------------------------------------------------------


@pytest.mark.usefixtures("airflow_db")
def test_priced_fields_templated_from_params_are_rendered_priced_and_sent(empiriolabs_connection: Any) -> None:
    run = _run("request_fields_templated")

    assert run.state == "success", task_instance(run, "generate").state
    (job,) = empiriolabs_connection.state.jobs.values()
    assert (job.resolution, job.duration) == ("1080p", 4)  # "4" (text) became the number 4
    request = xcom(run, "generate", key="request")
    assert request["aspect_ratio"] == "9:16" and request["watermark"] is False
    assert request["estimated_cost_usd"] == pytest.approx(0.72)  # the rendered values, under the $0.75 cap


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    ("conf", "said"),
    [
        ({"duration": 30}, "duration: must be 3 to 15 seconds (got 30)"),
        ({"aspect_ratio": "21:9"}, "aspect_ratio: must be one of '16:9', '9:16', '1:1', '4:3', '3:4' (got '21:9')"),
        ({"duration": 15}, "max_cost_usd: the estimated cost $2.70 exceeds the limit of $0.75"),
    ],
    ids=["duration", "aspect_ratio", "over-the-cap"],
)
def test_a_bad_rendered_value_of_a_real_run_fails_before_any_post_naming_task_file_and_field(
    empiriolabs_connection: Any, conf: dict[str, Any], said: str, capfd: pytest.CaptureFixture[str]
) -> None:
    run = _run("request_fields_templated", **conf)

    assert run.state == "failed"
    assert empiriolabs_connection.stats()["posts"] == 0
    output = "".join(capfd.readouterr())
    where = f"task 'generate' of DAG 'request_fields_templated' ({DAGS / 'request_fields_test_dags.py'}): "
    assert any(where in line and said in line for line in output.splitlines()), said


@pytest.mark.parametrize(
    ("rendered", "field", "allowed"),
    [
        ({"duration": "30"}, "duration", "3 to 15 seconds (got 30)"),
        ({"duration": "five"}, "duration", "valid number"),
        ({"duration": "True"}, "duration", "valid number"),
        ({"seed": "1.5"}, "seed", "valid integer"),
        ({"resolution": "4k"}, "resolution", "'720p', '1080p' (got '4k')"),
        ({"aspect_ratio": "21:9"}, "aspect_ratio", "'16:9', '9:16', '1:1', '4:3', '3:4'"),
        ({"watermark": "yes"}, "watermark", "valid boolean"),
        ({"generate_audio": "1"}, "generate_audio", "valid boolean"),
        ({"images": "['https://a.example.com/1.png', 'nope']"}, "images.1", "http(s) URL or a path"),
        ({"extend_from": "{'job_id': 'job 1'}"}, "extend_from.job_id", "not a job id"),
        ({"duration": "4", "resolution": "1080p"}, "max_cost_usd", "$0.72 exceeds the limit of $0.50"),
    ],
)
def test_rendered_text_is_read_as_the_fields_type_without_accepting_garbage(
    empiriolabs_connection: Any, rendered: dict[str, Any], field: str, allowed: str
) -> None:
    templates = {name: f"{{{{ params.{name} }}}}" for name in rendered}
    cap = 0.5 if field == "max_cost_usd" else None
    op = _OPERATOR(task_id="generate", prompt="a horse", max_cost_usd=cap, **templates)  # accepted when parsed
    for name, value in rendered.items():
        setattr(op, name, value)  # as rendered with render_template_as_native_obj off: text

    with pytest.raises(AirflowFailException) as caught:
        op.execute(make_context())

    message = str(caught.value)
    assert message.startswith("task 'generate': ")  # built outside a DAG: no file to name
    assert f"{field}: " in message and allowed in message
    assert empiriolabs_connection.stats()["posts"] == 0


def test_rendered_text_of_each_type_becomes_the_value() -> None:
    fields = {
        "duration": "8",
        "seed": "42",
        "watermark": "False",
        "generate_audio": "true",
        "images": "['https://a.example.com/1.png']",
        "extend_from": '{"job_id": "job_1"}',
        "extra_params": "{'negative_prompt': 'blur'}",
        "aspect_ratio": "None",  # a text field: "None" is not unset there
    }
    with pytest.raises(EmpirioLabsRequestError, match="aspect_ratio: must be one of"):
        VideoRequest.build(prompt="a horse", from_templates=set(fields), **fields)
    del fields["aspect_ratio"]

    request = VideoRequest.build(prompt="a horse", from_templates=set(fields), validation="off", **fields)

    assert (request.duration, request.seed, request.watermark, request.generate_audio) == (8, 42, False, True)
    assert request.images == ["https://a.example.com/1.png"]
    assert request.extend_from is not None and request.extend_from.job_id == "job_1"
    assert request.extra_params == {"negative_prompt": "blur"}
    assert VideoRequest.build(prompt="a horse", seed="None", from_templates={"seed"}).seed is None  # Jinja's None


def test_literal_text_is_not_read_as_another_type() -> None:
    # Only rendered values are text by necessity: a literal "true" in a DAG file is a mistake.
    with pytest.raises(EmpirioLabsRequestError, match="watermark: Input should be a valid boolean"):
        _OPERATOR(task_id="generate", prompt="a horse", watermark="true")


# -- errors that point at the fix (issue 17 item 9) ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"durattion": 5}, "'durattion' (did you mean 'duration'?)"),
        ({"aspect": "16:9"}, "'aspect' (did you mean 'aspect_ratio'?)"),
        ({"max_cost": 1}, "'max_cost' (did you mean 'max_cost_usd'?)"),
        ({"retires": 2}, "'retires' (did you mean 'retries'?)"),
        ({"zzz": 1}, "'zzz'; the request's arguments are prompt, model, mode"),
    ],
)
def test_an_unknown_argument_names_the_closest_one(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(TypeError) as caught:
        _OPERATOR(task_id="generate", prompt="a horse", **kwargs)

    assert f"task 'generate' ({__file__}, line " in str(caught.value)
    assert f"unknown argument {named}" in str(caught.value)


def test_an_unknown_argument_of_the_decorator_names_the_closest_one() -> None:
    from datetime import datetime

    from airflow.sdk import DAG, task

    expected = r"task 'make_clip' of DAG 'typo' .*'durattion' \(did you mean 'duration'\?\)"
    with pytest.raises(TypeError, match=expected), DAG("typo", schedule=None, start_date=datetime(2026, 1, 1)):

        @task.empiriolabs_video(durattion=5)
        def make_clip() -> str:
            return "a horse"

        make_clip()


@pytest.mark.parametrize(
    ("prompt", "said", "not_said"),
    [
        ("a" * 2660, "prompt: too long: at most 2,500 characters (got 2,660)", "visible"),
        (" \u200b" * 6, "prompt: blank: no visible character among 12 characters", "too long"),
        ("", "prompt: empty;", "too long"),
        (" " * 2660, "prompt: too long: at most 2,500 characters (got 2,660)", "visible"),
    ],
    ids=["too-long", "invisible", "empty", "too-long-and-blank"],
)
def test_the_prompt_error_says_precisely_what_is_wrong(prompt: str, said: str, not_said: str) -> None:
    with pytest.raises(EmpirioLabsRequestError) as caught:
        VideoRequest.build(prompt=prompt)

    assert said in str(caught.value)
    assert not_said not in str(caught.value)
    assert "1 to 2,500 characters" in str(caught.value)  # the rule, as before
