"""
DAG code never chooses what the EmpirioLabs view's API server reads, nor what the spend counts.

One real run (``dag.test()`` against the simulator) of a DAG written the way a hostile or careless
author would: beside the generate task and a transfer of the provider (a review copy, no asset
alias), a plain task declares ``outlets=[Asset("file:///.../airflow.cfg")]`` with an extra naming
the job and output 0, and pushes the transfer's XCom key naming the same file; another task passes
the summary on as a dict (its ``job_id`` becomes an XCom of its own, as in the approval example).

Then the view's app answers over real HTTP on 127.0.0.1: the file is never listed, never read,
never streamed (whether or not the administrator allowed its folder), the job counts once, and the
transfer's review copy is shown (and streamed only where the administrator allowed).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.ui.view_server import StandInAuthManager, serve_view

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_ID = "view_forgery"
SECRET = "fernet_key = FORGED-VIEW-SECRET-0123456789"

_DAG = """
from datetime import datetime
from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator

SECRET_URI = "{secret_uri}"


@dag(dag_id="{dag_id}", start_date=datetime(2026, 1, 1), schedule=None, catchup=False)
def view_forgery() -> None:
    generate = EmpirioLabsGenerateVideoOperator(
        task_id="generate", prompt="A horse galloping along a beach at sunrise", duration=3, poll_interval=0.05
    )
    EmpirioLabsToObjectStorageOperator(
        task_id="review_copy", output_urls=generate.output, destination="{review}", asset_alias=None
    )

    @task(outlets=[Asset(SECRET_URI)])
    def forge(summary: dict[str, Any]) -> None:
        context = get_current_context()
        context["outlet_events"][Asset(SECRET_URI)].extra = {{"job_id": summary["job_id"], "output_index": 0}}
        record = {{"job_id": summary["job_id"], "output_index": 0, "uri": SECRET_URI, "size_bytes": 10}}
        context["ti"].xcom_push(key="empiriolabs_stored_copy_0", value=record)

    @task
    def pass_on(summary: dict[str, Any]) -> dict[str, Any]:
        return dict(summary)

    forge(generate.output)
    pass_on(generate.output)


view_forgery()
"""


@pytest.fixture(scope="module")
def forged_run(
    empiriolabs_simulator_session: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    sim = empiriolabs_simulator_session
    sim.reset()
    root = tmp_path_factory.mktemp("view-forgery")
    (root / "secrets").mkdir()
    secret = root / "secrets" / "airflow.cfg"
    secret.write_text(f"[core]\n{SECRET}\n")
    dags = root / "dags"
    dags.mkdir()
    source = _DAG.format(secret_uri=f"file://{secret}", dag_id=DAG_ID, review=f"file://{root}/review/")
    (dags / "view_forgery.py").write_text(textwrap.dedent(source))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", sim.connection_json())
        DagBundlesManager().sync_bundles_to_db()
        bag = DagBag(dag_folder=str(dags))
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, "dags-folder", None)
        run = bag.get_dag(DAG_ID).test()
        states = {ti.task_id: ti.state for ti in run.get_task_instances()}
        assert run.state == "success", states
        summary = next(ti for ti in run.get_task_instances() if ti.task_id == "generate").xcom_pull(task_ids="generate")
        yield {"run_id": run.run_id, "summary": summary, "root": root, "secret": secret, "sim": sim}


@pytest.fixture
def view(forged_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", forged_run["sim"].connection_json())
    auth = {"Authorization": "Bearer admin-token"}
    with (
        serve_view(monkeypatch, StandInAuthManager({DAG_ID})) as url,
        httpx.Client(base_url=url, headers=auth, timeout=60) as client,
    ):
        yield client


def _media(forged_run: dict[str, Any]) -> str:
    return f"/media/{DAG_ID}/{quote(forged_run['run_id'], safe='')}/generate/-1/0"


def _videos(view: httpx.Client, forged_run: dict[str, Any]) -> list[dict[str, Any]]:
    resp = view.get(f"/api/runs/{DAG_ID}/{quote(forged_run['run_id'], safe='')}")
    assert resp.status_code == 200, resp.text
    videos: list[dict[str, Any]] = resp.json()["videos"]
    return videos


@pytest.mark.parametrize("allowed", ["nothing", "the folder of the forged file"])
def test_a_forged_asset_event_or_xcom_never_makes_the_view_read_a_file(
    view: httpx.Client, forged_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch, allowed: str
) -> None:
    root: Path = forged_run["root"]
    if allowed != "nothing":  # the worst case: the administrator allowed the very folder
        monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{root}/")

    videos = _videos(view, forged_run)
    for listed in videos:  # whatever the view lists, none of its media is the file
        path = f"/media/{DAG_ID}/{quote(forged_run['run_id'], safe='')}/{listed['task_id']}/-1/0"
        answer = view.get(path)
        assert SECRET not in answer.text, f"{path} streamed the API server's file"
    video = next(v for v in videos if v["task_id"] == "generate")
    media = view.get(_media(forged_run))
    page = view.get(f"/runs/{DAG_ID}/{quote(forged_run['run_id'], safe='')}")

    secret_uri = f"file://{forged_run['secret']}"
    assert all(secret_uri not in uris for uris in video["stored"].values()), video["stored"]
    assert secret_uri not in page.text
    assert media.status_code == 200, media.text
    assert SECRET not in media.text and b"[core]" not in media.content
    assert media.headers["content-type"] == "video/mp4"
    expected = "stored" if allowed != "nothing" else "signed-url"
    assert media.headers["x-empiriolabs-source"] == expected


def test_the_transfers_review_copy_is_shown_without_an_asset_alias(
    view: httpx.Client, forged_run: dict[str, Any]
) -> None:
    video = next(v for v in _videos(view, forged_run) if v["task_id"] == "generate")
    job_id = forged_run["summary"]["job_id"]

    [copy] = video["stored"]["0"]
    assert copy.startswith(f"file://{forged_run['root']}/review/") and job_id in copy


def test_with_no_storage_allowed_the_page_names_the_copy_and_says_it_is_not_streamed(
    view: httpx.Client, forged_run: dict[str, Any]
) -> None:
    page = view.get(f"/runs/{DAG_ID}/{quote(forged_run['run_id'], safe='')}")

    assert page.status_code == 200
    assert f"file://{forged_run['root']}/review/" in page.text
    assert "view_allowed_storage" in page.text


def test_a_summary_passed_on_counts_its_job_once(view: httpx.Client, forged_run: dict[str, Any]) -> None:
    videos = _videos(view, forged_run)
    spend = view.get("/api/spend").json()

    assert [v["job_id"] for v in videos] == [forged_run["summary"]["job_id"]]
    assert videos[0]["task_id"] == "generate"
    assert spend["per_dag"][DAG_ID] == pytest.approx(forged_run["summary"]["cost_usd"])


def test_every_answer_of_the_run_carries_the_security_headers(view: httpx.Client, forged_run: dict[str, Any]) -> None:
    run = quote(forged_run["run_id"], safe="")
    for path in (f"/runs/{DAG_ID}/{run}", f"/api/runs/{DAG_ID}/{run}", "/spend", "/api/spend", _media(forged_run)):
        resp = view.get(path)
        assert resp.headers.get("x-content-type-options") == "nosniff", path
        csp = resp.headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp, (path, csp)
        assert "script-src" not in csp and "unsafe-eval" not in csp, (path, csp)
    anonymous = httpx.get(str(view.base_url).rstrip("/") + "/api/spend", timeout=30)
    assert anonymous.status_code == 401 and anonymous.headers.get("x-content-type-options") == "nosniff"
    assert json.loads(anonymous.text)["detail"]
