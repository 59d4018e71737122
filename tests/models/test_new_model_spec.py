"""
Adding a model is a spec file, not code.

A deployment writes ``acme-video-1.json`` into a folder named by ``[empiriolabs] model_specs``:
from then on the operator checks and prices requests to it where the DAG is parsed, and a
``dag.test()`` run sends one to the simulator, which reads the same folders and bills it by the
file's rows. Nothing of the provider or the simulator is edited.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_empiriolabs.models.catalogue import forget_specs, shipped_models, shipped_spec
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.support import run_dag, task_instance, xcom

ACME: dict[str, Any] = {
    "id": "acme-video-1",
    "name": "Acme Video 1",
    "kind": "video",
    "source": "https://example.com/models/acme-video-1",
    "parameters": {
        "prompt": {"type": "string", "required": True, "max_length": 1000},
        "resolution": {"type": "string", "default": "480p", "allowed": ["480p", "960p"]},
        "duration": {"type": "number", "default": 4, "min": 2, "max": 12},
        "style": {"type": "string", "allowed": ["film", "anime"]},
        "image": {"type": "string"},
    },
    "rules": [{"when": {"style": "anime"}, "forbid": ["image"], "says": "anime style is text-to-video only"}],
    "prices": [
        {"label": "480p", "unit": "second", "usd": 0.05, "when": {"resolution": "480p"}},
        {"label": "960p", "unit": "second", "usd": 0.11, "when": {"resolution": "960p"}},
        {"label": "Style fee", "unit": "fee", "usd": 0.02, "when": {"style": "present"}},
    ],
}


@pytest.fixture
def acme_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "model-specs"
    folder.mkdir()
    (folder / "acme-video-1.json").write_text(json.dumps(ACME))
    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__MODEL_SPECS", str(folder))
    forget_specs()
    yield folder
    monkeypatch.delenv("AIRFLOW__EMPIRIOLABS__MODEL_SPECS")
    forget_specs()


def _op(**kwargs: Any) -> EmpirioLabsGenerateVideoOperator:
    return EmpirioLabsGenerateVideoOperator(task_id="acme", prompt="a fox in snow", model="acme-video-1", **kwargs)


def test_without_its_file_the_model_is_unknown(empiriolabs_connection: Any) -> None:
    assert shipped_spec("acme-video-1") is None
    with pytest.raises(ValueError, match="no price"):
        _op(duration=5, max_cost_usd=1.0)
    sim = empiriolabs_connection
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}) as api:
        resp = api.post("/v1/videos/generations", json={"model": "acme-video-1", "prompt": "a fox"})
    assert resp.status_code == 404


def test_its_file_makes_the_operator_check_and_price_it(acme_folder: Path) -> None:
    assert "acme-video-1" in shipped_models("video")
    op = _op(resolution="960p", duration=5, extra_params={"style": "film"}, max_cost_usd=0.57)
    assert op.request.estimated_cost_usd() == pytest.approx(5 * 0.11 + 0.02)
    with pytest.raises(ValueError, match=r"max_cost_usd.*\$0\.57"):
        _op(resolution="960p", duration=5, extra_params={"style": "film"}, max_cost_usd=0.56)
    with pytest.raises(ValueError, match=r"resolution: must be one of '480p', '960p'"):
        _op(resolution="720p")
    with pytest.raises(ValueError, match=r"duration: must be 2 to 12"):
        _op(duration=13)
    with pytest.raises(ValueError, match=r"images: not allowed here \(anime style is text-to-video only\)"):
        _op(images=["https://assets.example.com/a.png"], extra_params={"style": "anime"})
    with pytest.raises(ValueError, match=r"extra_params\.fps: acme-video-1 takes no such parameter"):
        _op(extra_params={"fps": 24})


def test_a_dag_run_sends_it_and_the_simulator_bills_it_by_the_file(
    acme_folder: Path, empiriolabs_connection: Any, airflow_db: Path
) -> None:
    sim = empiriolabs_connection
    sim.configure(render_base_seconds=1, render_seconds_per_video_second=0.05)
    run = run_dag(
        "video_models_any_rendered",
        model="acme-video-1",
        resolution="960p",
        duration=6,
        extra_params={"style": "anime"},
    )

    assert run.state == "success", task_instance(run, "generate").state
    (job,) = sim.state.jobs.values()
    assert (job.model, job.duration) == ("acme-video-1", 6)
    assert xcom(run, "generate")["cost_usd"] == pytest.approx(6 * 0.11 + 0.02)
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}) as api:
        bad = api.post("/v1/videos/generations", json={"model": "acme-video-1", "prompt": "a", "style": "noir"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "style"
