"""
The live catalogue over the shipped specs (``hooks/_catalogue.py``): read defensively, live wins, cached.

The catalogue's JSON is not published, so the reader is tested on every plausible shape, on
Hypothesis' random and junk bodies (it never raises, the spec it returns is valid and usable), and
on the simulator's shape, which the simulator writes from the spec files on its own (no provider
code): what it serves reads back as the shipped spec, and a knob that changes a price or a range
is read as the change.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.hooks import _catalogue
from airflow_provider_empiriolabs.hooks._catalogue import LiveSpec, merge_live
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models.catalogue import shipped_models, shipped_spec
from airflow_provider_empiriolabs.models.spec import ModelSpec
from airflow_provider_empiriolabs.testing.simulator.catalogue import catalogue_detail

HH = "happyhorse-1-1"
KEY = "sk-empiriolabs-simulator"


def _hh() -> ModelSpec:
    spec = shipped_spec(HH)
    assert spec is not None
    return spec


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    _catalogue.forget_catalogue()
    yield
    _catalogue.forget_catalogue()


# -- the reader ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", shipped_models())
def test_the_simulators_shape_reads_back_as_the_shipped_spec(model_id: str) -> None:
    shipped = shipped_spec(model_id)
    live = merge_live(shipped, catalogue_detail(model_id))  # type: ignore[arg-type]
    assert live.problem is None
    assert live.notes == ()
    assert live.spec == shipped


PLAUSIBLE_PRICES: list[Any] = [
    {"pricing_rows": [{"label": "720p", "unit": "video-second", "price": 0.15}]},
    {"pricing_rows": [{"charge": "720P", "billing_unit": "per second", "price_usd": "0.15"}]},
    {"pricing_rows": [{"name": "720 p", "spec": "per second", "rate": "$0.15"}]},
    {"pricing_rows": [{"spec": "per second", "resolution": "720p", "usd": 0.15}]},
    {"pricing_rows": [{"conditions": {"resolution": "720p"}, "amount": {"amount": "0.15", "currency": "USD"}}]},
    {"pricing_rows": [{"label": "720p", "price": "$0.15 (was $0.18)", "list_price": 0.18}]},
    {"pricing": {"720p": "$0.15"}},
    {"pricing": {"720p": {"price_usd": 0.15, "was": 0.2}}},
    {"pricing": [{"label": "720p", "rate": 0.15}]},
    {"pricing": {"label": "720p", "rate": 0.15}},
    {"pricing": {"rows": [{"label": "720p", "rate": "0.15 USD / s"}]}},
]


@pytest.mark.parametrize("body", PLAUSIBLE_PRICES, ids=lambda b: json.dumps(b)[:60])
def test_a_live_rate_in_any_plausible_shape_wins_and_is_named(body: dict[str, Any]) -> None:
    live = merge_live(_hh(), body)

    assert live.problem is None
    rates = {row.label: row.usd for row in live.spec.prices}
    assert rates == {"720p": 0.15, "1080p": 0.18}
    assert "happyhorse-1-1 price row 720p: catalogue says $0.15, shipped spec $0.14; using $0.15" in live.notes
    assert live.spec.estimate({"duration": 3}).usd == pytest.approx(0.45)


PLAUSIBLE_RANGES: list[Any] = [
    {"name": "duration", "min": 3, "max": 20},
    {"name": "duration", "minimum": 3, "maximum": 20},
    {"name": "duration", "range": [3, 20]},
    {"name": "duration", "range": "3 - 20"},
    {"name": "duration", "range": "3\u201320 s"},
    {"name": "duration", "range": {"min": "3", "max": "20"}},
    {"name": "duration", "maximum": "20"},
]


@pytest.mark.parametrize("item", PLAUSIBLE_RANGES, ids=lambda i: json.dumps(i)[:60])
def test_a_live_range_in_any_plausible_shape_replaces_the_shipped_one(item: dict[str, Any]) -> None:
    live = merge_live(_hh(), {"supported_parameters": [item]})

    duration = live.spec.parameters["duration"]
    assert (duration.min, duration.max) == (3, 20)
    assert any(
        "parameter 'duration': catalogue says 3 to 20, shipped spec 3 to 15; using 3 to 20" in n for n in live.notes
    )
    assert live.spec.problems({"prompt": "x", "duration": 18}) == []


@pytest.mark.parametrize("key", ["options", "enum", "allowed", "values"])
def test_a_live_allowed_list_replaces_the_shipped_one(key: str) -> None:
    live = merge_live(_hh(), {"supported_parameters": {"resolution": {key: ["720p", "1080p", "4k"]}}})

    assert live.spec.parameters["resolution"].allowed == ("720p", "1080p", "4k")
    assert any("catalogue allows '720p', '1080p', '4k'" in note for note in live.notes)


def test_options_as_objects_and_a_live_default_and_required() -> None:
    body = {
        "supported_parameters": [
            {"name": "resolution", "options": [{"value": "720p"}, {"value": "1080p"}], "default": "1080p"},
            {"name": "seed", "required": True},
        ]
    }
    live = merge_live(_hh(), body)

    assert live.spec.parameters["resolution"].default == "1080p"
    assert live.spec.parameters["seed"].required is True
    assert live.spec.estimate({"duration": 5}).usd == pytest.approx(0.9)  # the live default picks the row
    assert len(live.notes) == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"pricing_rows": [{"label": "4K Ultra", "price": 1.0}]}, "price row '4K Ultra' not understood"),
        ({"pricing_rows": [{"label": "720p", "unit": "per video", "price": 1.0}]}, "per clip, shipped spec per second"),
        ({"pricing_rows": [{"label": "720p", "unit": "per token", "price": 1.0}]}, "unit not understood"),
        ({"pricing_rows": [{"label": "720p", "price": "free"}]}, "rate not understood"),
        ({"pricing_rows": [{"label": "720p", "price": -1}]}, "rate not understood"),
        ({"pricing_rows": [{"label": "720p", "price": 1e300}]}, "rate not understood"),
        ({"supported_parameters": [{"name": "duration", "range": [20, 3]}]}, "its low end is above its high end"),
        ({"supported_parameters": [{"name": "duration", "min": "three"}]}, "not numbers"),
        ({"supported_parameters": [{"name": "duration", "range": "long"}]}, "range 'long' not understood"),
        ({"supported_parameters": [{"name": "resolution", "options": [1, 2]}]}, "wrong kind"),
        ({"supported_parameters": [{"name": "resolution", "default": "8k"}]}, "default '8k' not understood"),
        ({"supported_parameters": [{"name": "brand_new"}]}, "not in the shipped spec; not added"),
    ],
)
def test_what_is_not_understood_is_named_and_the_shipped_value_stays(body: dict[str, Any], says: str) -> None:
    live = merge_live(_hh(), body)

    assert live.problem is None
    assert any(says in note for note in live.notes), live.notes
    assert live.spec.prices == _hh().prices
    assert live.spec.parameters["duration"] == _hh().parameters["duration"]
    assert "brand_new" not in live.spec.parameters


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("<html>Bad Gateway</html>", "not a JSON object (got str)"),
        ([1, 2], "not a JSON object (got list)"),
        (None, "not a JSON object"),
        ({"id": "another-model", "pricing_rows": []}, "describes another model"),
        ({"id": HH}, "neither supported_parameters nor pricing rows"),
    ],
)
def test_a_body_it_cannot_read_leaves_the_shipped_spec_and_says_why(body: Any, says: str) -> None:
    live = merge_live(_hh(), body)

    assert live.spec == _hh()
    assert live.problem is not None and says in live.problem


# -- Hypothesis: any body ------------------------------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()  # NaN and infinities too: Python's json reads them
    | st.text(max_size=12)
    | st.sampled_from(["$0.15", "3 - 20", "720p", "1080p", "per second", "per video", "image", "additional fee", KEY])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_PARAM_KEYS = st.sampled_from(
    [
        "name",
        "type",
        "default",
        "options",
        "enum",
        "allowed",
        "values",
        "min",
        "max",
        "minimum",
        "maximum",
        "range",
        "required",
    ]
)
_ROW_KEYS = st.sampled_from(
    [
        "label",
        "charge",
        "name",
        "spec",
        "unit",
        "billing_unit",
        "price",
        "price_usd",
        "rate",
        "usd",
        "amount",
        "resolution",
        "conditions",
        "was",
        "list_price",
    ]
)
_NAMES = st.sampled_from([*_hh().parameters, "brand_new", "", KEY])
_LABELS = st.sampled_from([row.label for row in _hh().prices] + ["720P", "4k", KEY])


_NUMBERS = (
    st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.sampled_from(["3", "20", "1e400", "-5", "$0.15", "0.15 USD / s", "$0.09 (was $0.10)", "nan", "inf", "15 - 3"])
)
_JUNK = _JSON | _NUMBERS


def _maybe(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), values.map(lambda value: {key: value}))


@st.composite
def _plausible_param(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {"name": draw(_NAMES)} if draw(st.integers(0, 9)) else {}
    for key in draw(st.lists(_PARAM_KEYS, max_size=4)):
        item[key] = draw(
            _NUMBERS
            | st.lists(_NUMBERS | st.sampled_from(["720p", "1080p", "4k"]), max_size=4)
            | st.sampled_from(["3 - 20", "720p", True])
            | _JUNK
        )
    return item


@st.composite
def _plausible_row(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {}
    row.update(draw(_maybe(draw(st.sampled_from(["label", "charge", "name", "spec"])), _LABELS | _JUNK)))
    row.update(draw(_maybe(draw(st.sampled_from(["price", "price_usd", "rate", "usd", "amount"])), _NUMBERS | _JUNK)))
    row.update(draw(_maybe(draw(st.sampled_from(["unit", "billing_unit", "spec"])), st.sampled_from(_UNITS) | _JUNK)))
    row.update(draw(_maybe("resolution", st.sampled_from(["720p", "1080p", "4k"]) | _JUNK)))
    for key in draw(st.lists(_ROW_KEYS, max_size=2)):
        row[key] = draw(_JUNK)
    return row


_UNITS = ["video-second", "per second", "per video", "image", "additional fee", "token", ""]


@st.composite
def _plausible(draw: st.DrawFn) -> dict[str, Any]:
    params = draw(st.lists(_plausible_param(), max_size=6))
    rows = draw(st.lists(_plausible_row(), max_size=6))
    body: dict[str, Any] = {"supported_parameters": params if draw(st.integers(0, 9)) else draw(_JSON)}
    key = draw(st.sampled_from(["pricing_rows", "pricing"]))
    body[key] = rows if draw(st.integers(0, 9)) else draw(_JSON)
    if key == "pricing" and rows and draw(st.booleans()):
        body[key] = {str(row.get("label", i)): row for i, row in enumerate(rows)}  # rows by label
    if draw(st.booleans()):
        body["id"] = draw(st.sampled_from([HH, "other"]))
    return body


def _usable(live: LiveSpec) -> None:
    spec = live.spec
    assert isinstance(spec, ModelSpec)
    assert ModelSpec.model_validate(spec.model_dump()) == spec  # valid as a spec file would be
    for body in ({"prompt": "a horse"}, {"prompt": "a horse", "duration": 7, "resolution": "1080p"}):
        spec.problems(body)
        estimate = spec.estimate(body)
        assert estimate.usd is None or (math.isfinite(estimate.usd) and estimate.usd >= 0)
    assert all(isinstance(note, str) for note in live.notes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_JSON)
def test_any_json_never_raises_and_leaves_a_valid_spec(body: Any) -> None:
    _usable(merge_live(_hh(), body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_plausible())
def test_plausible_shapes_with_junk_values_never_raise_and_leave_a_valid_spec(body: dict[str, Any]) -> None:
    live = merge_live(_hh(), body)
    _usable(live)
    for name, param in live.spec.parameters.items():  # a live range is a real range
        if param.min is not None and param.max is not None:
            assert param.min <= param.max, name
    assert all(0 <= row.usd <= _catalogue.MAX_RATE_USD for row in live.spec.prices)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_plausible())
def test_the_log_never_holds_the_key_even_when_the_catalogue_echoes_it(body: dict[str, Any]) -> None:
    messages: list[str] = []

    class Log:
        def warning(self, fmt: str, *args: Any) -> None:
            messages.append(fmt % args)

        debug = warning

    live = merge_live(_hh(), _catalogue._scrubbed(body, KEY))
    _catalogue._log(Log(), _catalogue._Entry(live, 0.0, _catalogue._now()), KEY, "http://127.0.0.1:1")
    assert not any(KEY in message for message in messages)
    assert not any(KEY[:12] in message for message in messages)  # not even cut short


# -- the hook: one GET, cached per process and base URL, TTL -------------------------------------


@pytest.fixture
def live_conn(empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The default connection on the simulator, with the live catalogue read (the test session turns it off)."""
    sim = empiriolabs_simulator
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", sim.connection_json({"catalogue_ttl_seconds": 3600}))
    return sim


def test_the_simulator_knob_changes_the_price_and_the_hook_logs_the_difference(
    live_conn: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    live_conn.configure(catalogue_changes={HH: {"prices": {"720p": 0.15}, "parameters": {"duration": {"maximum": 12}}}})

    spec = EmpirioLabsHook().model_spec(HH)

    assert spec is not None
    assert spec.estimate({"duration": 3}).usd == pytest.approx(0.45)
    assert spec.parameters["duration"].max == 12
    text = "".join(capfd.readouterr())
    assert "happyhorse-1-1 price row 720p: catalogue says $0.15, shipped spec $0.14; using $0.15" in text
    assert "parameter 'duration': catalogue says 3 to 12, shipped spec 3 to 15; using 3 to 12" in text
    assert KEY not in text
    assert live_conn.stats()["catalogue_reads"] == 1


def test_many_reads_in_one_process_make_one_get_until_the_ttl_passes(
    live_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(_catalogue, "_now", lambda: now[0])

    specs = [EmpirioLabsHook().model_spec(HH) for _ in range(5)]

    assert all(spec == _hh() for spec in specs)
    assert live_conn.stats()["catalogue_reads"] == 1
    now[0] += 3599
    EmpirioLabsHook().model_spec(HH)
    assert live_conn.stats()["catalogue_reads"] == 1
    now[0] += 2
    EmpirioLabsHook().model_spec(HH)
    assert live_conn.stats()["catalogue_reads"] == 2


def test_the_cache_is_per_base_url(live_conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator

    EmpirioLabsHook().model_spec(HH)
    with EmpirioLabsSimulator() as other:
        other.configure(catalogue_changes={HH: {"prices": {"720p": 0.2}}})
        monkeypatch.setenv("AIRFLOW_CONN_OTHER", other.connection_json({"catalogue_ttl_seconds": 3600}))
        spec = EmpirioLabsHook("other").model_spec(HH)
        assert other.stats()["catalogue_reads"] == 1
    assert spec is not None and spec.prices[0].usd == 0.2
    assert live_conn.stats()["catalogue_reads"] == 1
    assert EmpirioLabsHook().model_spec(HH) == _hh()  # the first URL's read, still cached


@pytest.mark.parametrize(("extra", "config"), [({"catalogue_ttl_seconds": 0}, None), ({}, "0")])
def test_a_ttl_of_zero_reads_nothing(
    empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], config: str | None
) -> None:
    sim = empiriolabs_simulator
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", sim.connection_json(extra))
    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__CATALOGUE_TTL_SECONDS", config or "3600")
    sim.configure(catalogue_changes={HH: {"prices": {"720p": 0.15}}})

    assert EmpirioLabsHook().model_spec(HH) == _hh()
    assert sim.stats()["catalogue_reads"] == 0
    assert sim.stats()["requests_total"] == 0


def test_a_model_without_a_shipped_spec_stays_a_passthrough_with_no_request(live_conn: Any) -> None:
    assert EmpirioLabsHook().model_spec("wan-2-5") is None  # the simulator knows it; no spec ships
    assert EmpirioLabsHook().model_spec("no-such-model") is None
    assert live_conn.stats()["requests_total"] == 0


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 500}, {"kind": "malformed_json"}])
def test_a_5xx_or_a_bad_body_leaves_the_shipped_spec_with_one_warning(
    live_conn: Any, capfd: pytest.CaptureFixture[str], fault: dict[str, Any]
) -> None:
    live_conn.configure(fail_next_requests=[{"match": "any", "retry_after": 0, **fault}])

    assert EmpirioLabsHook().model_spec(HH) == _hh()

    warnings = [line for line in "".join(capfd.readouterr()).splitlines() if "live catalogue" in line]
    assert len(warnings) == 1, warnings
    assert "[warning" in warnings[0] and "using the shipped spec" in warnings[0]
    assert live_conn.stats()["requests_total"] == 1  # tried once: the shipped spec is there
    EmpirioLabsHook().model_spec(HH)
    assert live_conn.stats()["requests_total"] == 1  # the failed read is remembered a while too


# -- the simulator's catalogue -------------------------------------------------------------------


def test_the_simulator_lists_every_shipped_spec_and_its_own_models(empiriolabs_simulator: Any) -> None:
    import httpx

    listed = httpx.get(f"{empiriolabs_simulator.url}/v1/models").json()["data"]

    assert [m["id"] for m in listed] == [*shipped_models(), "wan-2-5"]
    assert {m["id"]: m["category"] for m in listed if m["id"] == "seedream-5-0-lite"} == {"seedream-5-0-lite": "image"}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ([], "must be {model_id"),
        ({"no-such-model": {}}, "has no spec file"),
        ({HH: {"price": {}}}, "only 'prices' and 'parameters'"),
        ({HH: {"prices": {"4k": 1.0}}}, "no price rows ['4k']"),
        ({HH: {"parameters": {"duration": 12}}}, "must be an object"),
    ],
)
def test_the_catalogue_knob_refuses_what_it_cannot_serve(empiriolabs_simulator: Any, changes: Any, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        empiriolabs_simulator.configure(catalogue_changes=changes)
