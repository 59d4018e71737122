"""The simulator's templates: the list and its filters, and a template's rules on ``POST``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator

HH = "happyhorse-1-1"


@pytest.fixture
def api(empiriolabs_simulator: EmpirioLabsSimulator) -> Iterator[httpx.Client]:
    sim = empiriolabs_simulator
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10) as c:
        yield c


def _slugs(api: httpx.Client, **params: Any) -> set[str]:
    resp = api.get("/v1/templates", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["template_count"] == len(body["data"])
    return {t["slug"] for t in body["data"]}


def test_the_list_filters_as_documented(api: httpx.Client) -> None:
    assert "poster-style" in _slugs(api) and "product-showcase" in _slugs(api)
    assert _slugs(api, modality="image") == _slugs(api, type="image") == {"poster-style"}
    assert _slugs(api, model="wan-2-5", modality="video") == {"product-showcase", "dance-loop", "slow-motion"}
    assert _slugs(api, category="viral", featured="true") == {"stadium-cam"}
    assert api.get("/v1/templates", params={"featured": "maybe"}).status_code == 400


def test_an_unknown_template_is_404_template_not_found(api: httpx.Client) -> None:
    for slug in ("no-such-template", "poster-style"):  # an image template does not apply to videos
        resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "a cat", "template": slug})
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "template_not_found"


def test_a_model_outside_supported_models_is_400_template_model_unsupported(api: httpx.Client) -> None:
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "a cat", "template": "slow-motion"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "template_model_unsupported"
    assert resp.json()["error"]["param"] == "model"


def test_default_params_are_merged_for_keys_not_supplied_and_billed(
    api: httpx.Client, empiriolabs_simulator: EmpirioLabsSimulator
) -> None:
    before = empiriolabs_simulator.stats()["balance_usd"]
    body = {"model": HH, "prompt": "a bottle", "template": "product-showcase"}
    assert api.post("/v1/videos/generations", json=body).status_code == 202  # 10 s at 1080p: $1.80
    assert api.post("/v1/videos/generations", json={**body, "duration": 3}).status_code == 202  # 3 s at 1080p: $0.54
    assert empiriolabs_simulator.stats()["balance_usd"] == pytest.approx(before - 1.80 - 0.54)
    costs = [e["cost"]["amount"] for e in api.get("/v1/account/usage").json()["data"]]
    assert costs == [pytest.approx(0.54), pytest.approx(1.80)]


def test_a_pinned_template_runs_its_recommended_model(api: httpx.Client) -> None:
    body = {"model": HH, "prompt": "a dancer", "template": "dance-loop"}
    assert api.post("/v1/videos/generations", json=body).status_code == 202
    [event] = api.get("/v1/account/usage").json()["data"]
    assert event["model"] == "wan-2-5"
