"""
Property tests over answers the API may give: usage bodies shaped like the documented one with
every field replaced by anything (the cost, the URLs, the list), and template lists likewise.

Usage: ``AccountUsage.from_api`` gives finite costs and ``http(s)`` URLs or raises ``ValueError``;
``usage_event_for`` never raises, and the event it picks has a cost and lists one of the job's URLs
(as given, or without the query). Templates: ``templates_from_api`` gives safe slugs and model ids,
JSON defaults, or raises ``ValueError``; a template's model rule never raises.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.models import AccountUsage
from airflow_provider_empiriolabs.models.fields import _TEMPLATE_SLUG, json_problem
from airflow_provider_empiriolabs.models.templates import templates_from_api
from airflow_provider_empiriolabs.models.text import is_http_url
from airflow_provider_empiriolabs.operators._actual_cost import usage_event_for

PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

TEXT = st.text(max_size=20)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), TEXT)
JSON = st.recursive(
    LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=10
)
JOB_URLS = ["https://cdn.example.com/v1/outputs/job_1/0.mp4?expires=1&signature=abc"]
URLS = st.one_of(
    st.sampled_from(
        [*JOB_URLS, "https://cdn.example.com/v1/outputs/job_1/0.mp4?expires=2", "http://[::1", "https://h:99999/x"]
    ),
    TEXT,
    JSON,
)
COSTS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["0.7", "NaN", "1e400", True]), JSON)
EVENT = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "cost": st.one_of(st.fixed_dictionaries({"amount": COSTS, "currency": TEXT}), COSTS),
            "cost_usd": COSTS,
            "output_urls": st.one_of(st.lists(st.one_of(URLS, st.fixed_dictionaries({"url": URLS})), max_size=3), URLS),
            "model": JSON,
            "job_id": JSON,
        },
    ),
    JSON,
)
USAGE = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"data": st.one_of(st.lists(EVENT, max_size=4), JSON), "balance_usd": COSTS, "events": JSON}
    ),
    JSON,
)


_MATCHED_DESPITE_A_BAD_URL = {
    "data": [{"cost": 0.1, "output_urls": ["http://[::1"]}, {"cost": 0.7, "output_urls": [JOB_URLS[0][:46]]}]
}


def _bare(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


@PROPERTY
@given(answer=USAGE)
@example(answer={"data": [{"cost": {"amount": 0.7}, "output_urls": ["http://[::1"]}]})
@example(answer=_MATCHED_DESPITE_A_BAD_URL)
def test_a_usage_answer_is_read_safely_and_matched_only_by_a_job_url(answer: Any) -> None:
    try:
        usage = AccountUsage.from_api(answer)
    except ValueError:
        return
    for event in usage.events:
        assert event.cost_usd is None or math.isfinite(event.cost_usd)
        assert all(is_http_url(url) for url in event.output_urls)
    event = usage_event_for(JOB_URLS, usage.events)
    if answer == _MATCHED_DESPITE_A_BAD_URL:
        assert event is not None and event.cost_usd == 0.7  # one unreadable URL does not hide the job's event
    if event is not None:
        assert event.cost_usd is not None
        assert {_bare(u) for u in event.output_urls} & {_bare(u) for u in JOB_URLS}


TEMPLATE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "slug": st.one_of(st.sampled_from(["stadium-cam", "../x", "a b", "x" * 300, "\u202eevil"]), JSON),
            "recommended_model": JSON,
            "supported_models": st.one_of(st.lists(st.one_of(TEXT, JSON, st.just("kling-o3")), max_size=3), JSON),
            "default_params": st.one_of(st.dictionaries(TEXT, JSON, max_size=3), JSON),
            "required_inputs": JSON,
            "metadata": st.one_of(st.fixed_dictionaries({"force_recommended_model": JSON}), JSON),
            "featured": JSON,
            "modality": JSON,
        },
    ),
    JSON,
)


@PROPERTY
@given(answer=st.one_of(st.fixed_dictionaries({"data": st.lists(TEMPLATE, max_size=4)}), JSON), model=TEXT)
def test_a_template_list_is_read_safely(answer: Any, model: str) -> None:
    try:
        templates = templates_from_api(answer)
    except ValueError:
        return
    for template in templates:
        for name in (template.slug, *template.supported_models, template.recommended_model or "x"):
            assert _TEMPLATE_SLUG.fullmatch(name)
        assert all(json_problem(value) is None for value in template.default_params.values())
        problem = template.model_problem(model)
        assert problem is None or template.slug in problem
