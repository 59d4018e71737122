"""
Secrets: a canary API key runs every example DAG and the failure cases, and appears nowhere.

Where it is looked for: everything the runs printed (task logs go to stdout under ``dag.test()``;
stderr too), every file under the Airflow home's ``logs/``, the whole metadata database file (so
the XCom, trigger, rendered-fields, task-instance and DAG-run tables and anything else Airflow
wrote), the serialized kwargs of every trigger the tasks deferred to (``dag.test()`` runs
triggers inline instead of storing them, so they are captured on their way in), and the text,
``repr`` and traceback of every exception raised in the failure cases.

Signed output URLs are credentials too (anyone holding one can download the video for 7 days):
their ``signature=`` values must not be logged whole.

Everything runs at DEBUG (Airflow's logging level, the root logger and every HTTP logger, whose
records are captured too): httpcore then logs every response's headers, redirects' ``Location``
and ``Set-Cookie`` included.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_empiriolabs.testing.server import connection_json
from tests.conftest import REPO
from tests.redaction.support import captured_text, everything_at_debug
from tests.support import make_context, run_dag

pytestmark = pytest.mark.usefixtures("airflow_db")

CANARY = "sk-empiriolabs-CANARY-5e1f0c7d9a3b4e2f"
_SIGNATURE = re.compile(r"signature=([0-9a-f]{16,})")


@pytest.fixture
def canary(empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The simulator accepting only the canary key, and the default connection carrying it."""
    sim = empiriolabs_simulator
    sim.configure(api_keys=[CANARY])
    config = sim.config()
    budget = max(1, int(config["rate_limit_rpm"] * config["time_scale"]))
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", connection_json(sim.url, CANARY, {"requests_per_minute": budget})
    )
    return sim


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Airflow's logging level, the root logger and every HTTP logger at DEBUG; records captured."""
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG")
    with everything_at_debug(caplog, monkeypatch):
        yield caplog


def _debug_http_logs_seen(text: str) -> bool:
    """Whether httpcore's DEBUG records (response headers) were captured: the DEBUG run is real."""
    return "receive_response_headers.complete" in text


@pytest.fixture
def serialized_triggers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each deferral would store in the ``trigger`` table: the trigger's serialized kwargs."""
    from airflow.sdk.definitions import dag as dag_module
    from airflow.sdk.serde import serialize

    seen: list[str] = []
    original = dag_module._run_inline_trigger

    def recording(trigger: Any, *args: Any, **kwargs: Any) -> Any:
        classpath, trigger_kwargs = trigger.serialize()
        seen.append(f"{classpath} {serialize(trigger_kwargs)!r}")
        return original(trigger, *args, **kwargs)

    monkeypatch.setattr(dag_module, "_run_inline_trigger", recording)
    return seen


def _example_dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


EXAMPLE_DAG_IDS = {
    "example_empiriolabs_text_to_video",
    "example_empiriolabs_image",
    "example_empiriolabs_image_to_video",
    "example_empiriolabs_reference_to_video",
    "example_empiriolabs_submit_many",
    "example_empiriolabs_asset_driven",
    "example_empiriolabs_video_catalogue",
    "example_empiriolabs_brief_to_many",
    "example_empiriolabs_taskflow",
}


def _fast(dag: Any) -> Any:
    """The DAG with its generate tasks polling every 0.2 s: the simulator renders in a fraction of the planned time."""
    for task in dag.tasks:
        if hasattr(task, "poll_interval"):
            task.poll_interval = 0.2
    return dag


def _example_dag_ids() -> list[str]:
    from airflow.dag_processing.dagbag import DagBag

    return list(DagBag(dag_folder=str(REPO / "example_dags")).dag_ids)


def _files_text(paths: Any) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in paths if p.is_file())


def _log_files_text() -> str:
    """Every file under the Airflow home's ``logs/``."""
    return _files_text((Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*"))


def _database_text() -> str:
    """The metadata database file and its journal, byte for byte (as text)."""
    return _files_text(Path(os.environ["AIRFLOW_HOME"]).glob("airflow.db*"))


def _table_text(*tables: str) -> str:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        return "\n".join(repr(session.execute(text(f"SELECT * FROM {table}")).fetchall()) for table in tables)


def _exception_text(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


@pytest.mark.slow  # every example DAG (they poll every 10 s) plus six failure runs: about a minute
def test_the_canary_key_appears_nowhere(
    canary: Any,
    serialized_triggers: list[str],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    debug_logging: pytest.LogCaptureFixture,
) -> None:
    from tests.example_dags.test_assets_and_mapping import BRIEF, PNG, _pool_counting_deferred_tasks

    sim = canary
    render = {key: sim.config()[key] for key in ("render_base_seconds", "render_seconds_per_video_second")}
    sim.configure(render_base_seconds=1, render_seconds_per_video_second=0.05)  # the examples, quickly
    references = tmp_path / "references"
    references.mkdir()
    (references / "rider.png").write_bytes(PNG)
    (tmp_path / "brief.txt").write_text(BRIEF)
    _pool_counting_deferred_tasks(2)
    runs = []
    # Every example DAG, end to end.
    for dag_id, conf in (
        ("example_empiriolabs_text_to_video", {"destination": f"file://{tmp_path}/t2v/"}),
        ("example_empiriolabs_image_to_video", None),
        ("example_empiriolabs_reference_to_video", None),
        ("example_empiriolabs_submit_many", None),
        (
            "example_empiriolabs_asset_driven",
            {"references": f"file://{references}/", "destination": f"file://{tmp_path}/assets/"},
        ),
        ("example_empiriolabs_video_catalogue", None),
        (
            "example_empiriolabs_brief_to_many",
            {"brief": f"file://{tmp_path}/brief.txt", "destination": f"file://{tmp_path}/brief/"},
        ),
        ("example_empiriolabs_taskflow", {"destination": f"file://{tmp_path}/taskflow/"}),
        ("example_empiriolabs_image", {"destination": f"file://{tmp_path}/images/"}),  # a job and a held request
    ):
        run = _fast(_example_dag(dag_id)).test(run_conf=conf)
        assert run.state == "success", dag_id
        runs.append(run)
    # A new example DAG joins this test or the next; the approval and Compose DAGs wait for a person,
    # so their own tests (tests/example_dags/test_approval.py, test_compose.py) answer them.
    assert {d for d in _example_dag_ids()} == EXAMPLE_DAG_IDS | NEWER_EXAMPLE_DAG_IDS | {
        "example_empiriolabs_approval",
        "example_empiriolabs_compose",
    }
    # Failure cases: the API's errors, a lost answer, a deadline, an expired URL (at the usual render times).
    sim.configure(**render)
    for dag_id, conf, faults in (
        ("reliability_deferrable", {"prompt": "SIMULATE_CONTENT_POLICY a horse"}, []),
        ("reliability_post_timeout", {}, [{"kind": "delay", "match": "post", "seconds": 1.0, "accepted": True}]),
        ("reliability_deadline_deferrable", {}, []),
        ("reliability_deferrable", {"expire_job_before_transfer": True}, []),
        ("reliability_fragile_worker", {"expire_job_on_retry": True}, [{"match": "poll", "status": 500}]),
    ):
        sim.configure(fail_next_requests=faults)
        run = run_dag(dag_id, destination=f"file://{tmp_path}/{len(runs)}/", **conf)
        assert run.state == "failed", dag_id
        runs.append(run)
    sim.configure(credit_balance_usd=0.01)  # 402
    run = run_dag("reliability_deferrable", destination=f"file://{tmp_path}/402/")
    assert run.state == "failed"
    sim.configure(credit_balance_usd=1000)

    # Exceptions raised in process: the API's errors and a key the API does not know (401).
    from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

    raised: list[BaseException] = []
    for prompt, knobs in (
        ("A horse SIMULATE_CONTENT_POLICY", {}),
        ("A horse", {"credit_balance_usd": 0.01}),
        ("A horse", {"credit_balance_usd": 1000, "fail_next_requests": [{"kind": "reset", "match": "post"}]}),
        ("A horse", {"api_keys": ["sk-empiriolabs-some-other-key"]}),
    ):
        sim.configure(**knobs)
        op = EmpirioLabsGenerateVideoOperator(task_id="generate", prompt=prompt, duration=3, poll_interval=0.05)
        with pytest.raises(Exception) as caught:
            op.execute(make_context())
        raised.append(caught.value)
    assert "Invalid API key" in str(raised[3])  # the 401 was reached, and its message kept

    logs = "".join(capfd.readouterr())
    records = captured_text(debug_logging)
    assert "Submitting happyhorse-1-1" in logs  # the task logs were captured
    assert len(serialized_triggers) >= 4  # deferrals happened, their kwargs were captured
    _assert_the_canary_appears_nowhere(logs, records, serialized_triggers, raised)
    assert sim.stats()["unauthorized"] == 1  # only the deliberate 401: the canary was the key in use


#: The example DAGs of the chain, the template and the other video models: run by the next test.
NEWER_EXAMPLE_DAG_IDS = {
    "example_empiriolabs_film",
    "example_empiriolabs_template",
    "example_empiriolabs_video_models",
}


@pytest.mark.slow
def test_the_canary_key_appears_nowhere_in_the_chain_template_and_model_examples(
    canary: Any,
    serialized_triggers: list[str],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    debug_logging: pytest.LogCaptureFixture,
) -> None:
    sim = canary
    sim.configure(render_base_seconds=1, render_seconds_per_video_second=0.05)
    for dag_id in sorted(NEWER_EXAMPLE_DAG_IDS):
        run = _fast(_example_dag(dag_id)).test(run_conf={"destination": f"file://{tmp_path}/{dag_id}/"})
        assert run.state == "success", dag_id
    logs = "".join(capfd.readouterr())
    assert "Submitting kling-o3" in logs  # the task logs were captured
    _assert_the_canary_appears_nowhere(logs, captured_text(debug_logging), serialized_triggers, [])
    assert sim.stats()["unauthorized"] == 0


def _assert_the_canary_appears_nowhere(
    logs: str, records: str, serialized_triggers: list[str], raised: list[BaseException]
) -> None:
    """Not the key, nor its secret part, in any place a task, a trigger or Airflow writes to."""
    assert _debug_http_logs_seen(logs + records)  # at DEBUG: httpcore's header logs included
    places = {
        "captured stdout/stderr (task logs)": logs,
        "log records of every logger, at DEBUG": records,
        "logs/": _log_files_text(),
        "the metadata database file": _database_text(),
        "xcom, trigger, rendered fields, task instances, dag runs": _table_text(
            "xcom", "trigger", "rendered_task_instance_fields", "task_instance", "dag_run"
        ),
        "serialized trigger kwargs": "\n".join(serialized_triggers),
        "raised exceptions": "\n".join(_exception_text(e) for e in raised),
    }
    for where, text in places.items():
        assert CANARY not in text, f"the API key leaked into {where}"
        assert CANARY[len("sk-empiriolabs-") :] not in text, f"part of the API key leaked into {where}"


def test_output_url_signatures_are_never_logged_whole(
    empiriolabs_connection: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    debug_logging: pytest.LogCaptureFixture,
) -> None:
    sim = empiriolabs_connection
    # A copy that needs a fresh URL and a resumed download: the paths that log URLs the most.
    sim.configure(fail_next_requests=[{"kind": "truncate", "match": "download"}])
    run = run_dag("reliability_deferrable", destination=f"file://{tmp_path}/a/", expire_urls=True)
    assert run.state == "success"
    run = _example_dag("example_empiriolabs_submit_many").test()
    assert run.state == "success"
    run = _example_dag("example_empiriolabs_image").test(run_conf={"destination": f"file://{tmp_path}/i/"})
    assert run.state == "success"  # image URLs: a polled job's, and a held answer's (never polled)

    logs = "".join(capfd.readouterr()) + _log_files_text() + captured_text(debug_logging)
    assert _debug_http_logs_seen(logs)
    # Every signature the API handed out in this test (it signs afresh on each poll of a done job).
    usage = sim.state.usage(sim.url, 100, None, None) if sim.state is not None else {"data": []}
    signatures = {m for event in usage["data"] for url in event["output_urls"] for m in _SIGNATURE.findall(url)}
    signatures |= set(_SIGNATURE.findall(_table_text("xcom")))
    assert signatures  # the runs did hand out signed URLs
    assert "/v1/outputs/" in logs  # and their redacted form was logged
    leaked = sorted(s for s in signatures if s in logs)
    assert leaked == [], "output URL signatures were logged whole"
    assert "signature=" not in logs
