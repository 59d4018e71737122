"""
Templates on the video operator, against the simulator: read at run time through the hook, the
model checked against the template's before anything is sent, its ``default_params`` merged into
the estimate (so ``max_cost_usd`` holds with the template's duration and resolution), and left to
the run-time check when the DAG is parsed.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_empiriolabs.exceptions import EmpirioLabsNotFoundError
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.models.templates import TEMPLATE_NOT_FOUND, Template, priced_with_template
from tests.support import make_context, run_dag, task_instance, xcom
from tests.support import make_operator as _operator


def _posts(sim: Any) -> int:
    return int(sim.stats()["posts"])


# -- the hook -------------------------------------------------------------------------------------


def test_the_hook_lists_templates_with_the_api_filters(empiriolabs_connection: Any) -> None:
    hook = EmpirioLabsHook()
    every = {t.slug: t for t in hook.list_templates()}
    assert {"product-showcase", "stadium-cam", "poster-style"} <= set(every)
    showcase = every["product-showcase"]
    assert showcase.recommended_model == "happyhorse-1-1"
    assert showcase.supported_models == ("happyhorse-1-1", "wan-2-5")
    assert showcase.default_params == {"duration": 10, "resolution": "1080p"}
    assert every["dance-loop"].force_recommended_model is True
    assert {t.slug for t in hook.list_templates(modality="image")} == {"poster-style"}
    assert {t.slug for t in hook.list_templates(model="wan-2-5", modality="video")} == {
        "product-showcase",
        "dance-loop",
        "slow-motion",
    }
    assert {t.slug for t in hook.list_templates(category="viral", featured=True)} == {"stadium-cam"}


def test_an_unknown_template_is_a_not_found_error_naming_the_code(empiriolabs_connection: Any) -> None:
    with pytest.raises(EmpirioLabsNotFoundError, match=TEMPLATE_NOT_FOUND) as caught:
        EmpirioLabsHook().get_template("no-such-template")
    assert caught.value.code == TEMPLATE_NOT_FOUND


# -- the request as billed --------------------------------------------------------------------------


def test_defaults_fill_only_what_the_request_left_unset() -> None:
    template = Template(slug="t", supported_models=("happyhorse-1-1",), default_params={"duration": 10, "seed": 3})
    request = VideoRequest.build(prompt="a cat", template="t", duration=4)
    priced = priced_with_template(request, template)
    assert (priced.duration, priced.seed, priced.template) == (4, 3, None)
    assert priced.estimated_cost_usd() == pytest.approx(0.56)  # the request's 4 s, not the template's 10


def test_a_template_of_the_other_modality_is_refused_naming_it(empiriolabs_connection: Any) -> None:
    op = _operator(template="poster-style", duration=None)  # an image template
    with pytest.raises(AirflowFailException, match=r"'poster-style' is an image template"):
        op.execute(make_context())
    assert _posts(empiriolabs_connection) == 0


def test_a_default_that_is_no_field_of_the_request_is_unpriced() -> None:
    template = Template(slug="t", default_params={"camera_motion": "orbit"})
    priced = priced_with_template(VideoRequest.build(prompt="a cat", template="t"), template)
    assert priced.extra_params == {"camera_motion": "orbit"}
    assert priced.unpriced_fields() == ["extra_params.camera_motion"]


def test_a_default_the_model_refuses_names_the_template() -> None:
    template = Template(slug="too-long", default_params={"duration": 60})
    with pytest.raises(ValueError, match=r"template 'too-long'.*duration.*3 to 15"):
        priced_with_template(VideoRequest.build(prompt="a cat", template="too-long"), template)


# -- the operator, one try ----------------------------------------------------------------------------


def test_a_literal_template_under_a_cap_is_not_refused_when_the_dag_is_parsed() -> None:
    op = _operator(
        template="stadium-cam", duration=None, max_cost_usd=0.5
    )  # its defaults (15 s, 1080p) are unknown here
    assert op.template == "stadium-cam"


def test_a_templated_template_under_a_cap_is_not_refused_when_the_dag_is_parsed() -> None:
    # Unset fields cost the API's defaults (5 s: $0.70) only without a template, whose defaults may differ.
    op = _operator(template="{{ params.template }}", duration=None, max_cost_usd=0.5)
    assert op.template == "{{ params.template }}"


def test_a_model_outside_the_supported_ones_is_refused_before_sending(empiriolabs_connection: Any) -> None:
    op = _operator(template="slow-motion")  # happyhorse-1-1 by default; slow-motion takes wan-2-5 only
    with pytest.raises(AirflowFailException, match=r"slow-motion.*does not support model 'happyhorse-1-1'.*'wan-2-5'"):
        op.execute(make_context())
    assert _posts(empiriolabs_connection) == 0


def test_a_pinned_template_takes_only_its_recommended_model(empiriolabs_connection: Any) -> None:
    op = _operator(template="dance-loop")  # supports happyhorse-1-1, but is pinned to wan-2-5
    with pytest.raises(AirflowFailException, match=r"dance-loop.*pinned.*'wan-2-5'.*not 'happyhorse-1-1'"):
        op.execute(make_context())
    assert _posts(empiriolabs_connection) == 0


def test_the_cap_holds_with_the_template_duration(empiriolabs_connection: Any) -> None:
    op = _operator(template="stadium-cam", duration=None, max_cost_usd=2.0)  # 15 s at 1080p: $2.70
    with pytest.raises(AirflowFailException, match=r"max_cost_usd.*\$2\.70.*\$2\.00"):
        op.execute(make_context())
    assert _posts(empiriolabs_connection) == 0


def _with_unreadable_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The template as the API lists it, plus defaults the provider cannot read (the API applies them all)."""
    read = EmpirioLabsHook.get_template

    def get_template(self: EmpirioLabsHook, name: str) -> Template:
        item = read(self, name).model_dump()
        item["default_params"] = {**item["default_params"], "camera move": "orbit", "grain": float("nan")}
        template = Template.from_api(item)
        assert template is not None
        return template

    monkeypatch.setattr(EmpirioLabsHook, "get_template", get_template)


def test_defaults_the_provider_cannot_read_leave_the_cost_unknown_so_a_cap_refuses(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    _with_unreadable_defaults(monkeypatch)
    capped = _operator(template="product-showcase", duration=None, max_cost_usd=5.0)
    with pytest.raises(AirflowFailException, match=r"max_cost_usd: template 'product-showcase' has 2 default_params"):
        capped.execute(make_context())
    assert _posts(empiriolabs_connection) == 0
    # Without a cap it is sent, and the log says the estimate leaves them out.
    uncapped = _operator(template="product-showcase", duration=None, wait_for_completion=False)
    uncapped.execute(make_context())
    assert _posts(empiriolabs_connection) == 1
    assert "2 default_params the provider cannot read: the estimate leaves them out" in "".join(capfd.readouterr())


SIGNED = "https://cdn.example.com/look.png?X-Amz-Signature=SIGNATURE0123456789"


@pytest.mark.parametrize("validation", ["strict", "off"])
def test_a_signed_url_in_a_templates_defaults_is_in_no_log_line_or_error(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], validation: str
) -> None:
    read = EmpirioLabsHook.get_template

    def get_template(self: EmpirioLabsHook, name: str) -> Template:
        template = read(self, name)
        return template.model_copy(update={"default_params": {**template.default_params, "mode": SIGNED}})

    monkeypatch.setattr(EmpirioLabsHook, "get_template", get_template)
    op = _operator(template="product-showcase", duration=None, validation=validation, wait_for_completion=False)
    with pytest.raises(Exception) as raised:  # strict: refused before sending; off: sent, and the API refuses it
        op.execute(make_context())
    logs = "".join(capfd.readouterr())
    assert "product-showcase" in logs or "product-showcase" in str(raised.value)
    assert "SIGNATURE0123456789" not in logs + str(raised.value) + repr(raised.value)


def test_an_unknown_template_fails_before_sending(empiriolabs_connection: Any) -> None:
    op = _operator(template="no-such-template")
    with pytest.raises(Exception, match=TEMPLATE_NOT_FOUND):
        op.execute(make_context())
    assert _posts(empiriolabs_connection) == 0


def test_the_estimate_recorded_is_the_template_one(empiriolabs_connection: Any) -> None:
    op = _operator(template="product-showcase", duration=None, max_cost_usd=2.0, wait_for_completion=False)
    context = make_context()
    op.execute(context)
    record = context["ti"].xcoms["request"]
    assert record["template"] == "product-showcase"
    assert record["estimated_cost_usd"] == pytest.approx(1.80)  # 10 s at 1080p, from default_params
    assert record["billed_seconds"] == 10
    assert _posts(empiriolabs_connection) == 1
    assert empiriolabs_connection.stats()["balance_usd"] == pytest.approx(1000 - 1.80)  # the server agrees


# -- end to end ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("airflow_db")
def test_a_templated_video_is_made_within_the_cap_and_priced_as_billed(empiriolabs_connection: Any) -> None:
    run = run_dag("empiriolabs_test_template_capped", template="product-showcase")

    assert run.state == "success"
    summary = xcom(run, "generate")
    assert summary["cost_usd"] == pytest.approx(1.80)  # what the account was debited: 10 s at 1080p
    assert summary["cost_source"] == "usage"
    assert summary["video_seconds"] == 10
    assert xcom(run, "generate", key="request")["estimated_cost_usd"] == pytest.approx(1.80)
    assert _posts(empiriolabs_connection) == 1


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    "conf",
    [
        {"template": "stadium-cam"},  # 15 s at 1080p from its defaults: $2.70 over the $2.00 cap
        {"template": "slow-motion"},  # happyhorse-1-1 is not among its supported models
        {"template": "dance-loop"},  # pinned to wan-2-5
        {"template": "no-such-template"},
    ],
    ids=["over-cap-by-defaults", "unsupported-model", "pinned-model", "unknown"],
)
def test_a_templated_video_is_refused_before_any_post(empiriolabs_connection: Any, conf: dict[str, Any]) -> None:
    run = run_dag("empiriolabs_test_template_capped", **conf)

    assert run.state == "failed"
    assert task_instance(run, "generate").state == "failed"
    assert _posts(empiriolabs_connection) == 0


@pytest.mark.usefixtures("airflow_db")
def test_a_literal_template_under_a_cap_runs_deferred(empiriolabs_connection: Any) -> None:
    run = run_dag("empiriolabs_test_template_literal")

    assert run.state == "success"
    summary = xcom(run, "generate")
    assert summary["cost_usd"] == pytest.approx(1.12)  # talking-head's 8 s at 720p
    assert summary["cost_source"] == "usage"
    assert _posts(empiriolabs_connection) == 1
    # The template read before the POST, again when the task resumes from the triggerer, and the usage read.
    stats = empiriolabs_connection.stats()
    assert stats["requests_total"] - stats["posts"] - stats["polls_total"] - stats["downloads"] == 3
