"""
Errors that say where the problem is: the task and its line at parse time, the connection on an
API error, what to do about a missing connection; the estimate logged only for a request sent,
and an ETA when the task defers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
    EmpirioLabsConnectionNotFoundError,
    EmpirioLabsRequestError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from tests.support import make_context

DAG_FILE = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

with DAG("misconfigured", schedule=None, start_date=datetime(2026, 1, 1)):
    EmpirioLabsGenerateVideoOperator(task_id="make_clip", prompt="a horse", **{kwargs})
"""


@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        ('{"resolution": "4k"}', "resolution", "'720p', '1080p'"),
        ('{"duration": 99}', "duration", "3 to 15 seconds"),
        ('{"poll_interval": 0}', "poll_interval", "more than 0"),
        ('{"hook_params": {"retries": 3}}', "hook_params", "allowed: timeout, total_timeout, max_attempts"),
    ],
)
def test_a_parse_time_error_names_the_dag_file_line_task_field_and_allowed_values(
    tmp_path: Path, kwargs: str, field: str, allowed: str
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag_file = tmp_path / "misconfigured_dag.py"
    dag_file.write_text(DAG_FILE.replace("{kwargs}", kwargs))

    errors = DagBag(dag_folder=str(tmp_path)).import_errors

    (message,) = errors.values()
    last = message.strip().splitlines()[-1]
    assert f"task 'make_clip' of DAG 'misconfigured' ({dag_file}, line 7): " in last
    assert f"{field}: " in last
    assert allowed in last


OTHER_OPERATORS_DAG = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator

with DAG("misconfigured", schedule=None, start_date=datetime(2026, 1, 1)):
    {call}
"""


@pytest.mark.parametrize(
    ("call", "task_id", "field"),
    [
        ('EmpirioLabsJobSensor(task_id="wait", job_id="job 1")', "wait", "job_id"),
        ('EmpirioLabsJobSensor(task_id="wait", job_id="{{ x }}", hook_params={"retries": 1})', "wait", "hook_params"),
        (
            'EmpirioLabsToObjectStorageOperator(task_id="store", job_id="{{ x }}", destination="")',
            "store",
            "destination",
        ),
        (
            'EmpirioLabsToObjectStorageOperator(task_id="store", job_id="{{ x }}", destination="file:///v/", '
            'if_exists="merge")',
            "store",
            "if_exists",
        ),
    ],
)
def test_the_sensor_and_the_transfer_name_the_task_and_line_too(
    tmp_path: Path, call: str, task_id: str, field: str
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag_file = tmp_path / "misconfigured_dag.py"
    dag_file.write_text(OTHER_OPERATORS_DAG.replace("{call}", call))

    (message,) = DagBag(dag_folder=str(tmp_path)).import_errors.values()
    last = message.strip().splitlines()[-1]
    assert f"task {task_id!r} of DAG 'misconfigured' ({dag_file}, line 8): " in last
    assert field in last


def test_an_operator_built_outside_a_dag_names_its_task_and_the_calling_line() -> None:
    with pytest.raises(EmpirioLabsRequestError) as caught:
        EmpirioLabsGenerateVideoOperator(task_id="loose", prompt="a horse", seed=-1)
    assert f"task 'loose' ({__file__}, line " in str(caught.value)
    assert "seed: must be 0 to 2,147,483,647 (got -1)" in str(caught.value)


def test_a_401_names_the_connection(empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = empiriolabs_simulator.connection_json().replace(empiriolabs_simulator.api_key, "sk-empiriolabs-wrong")
    monkeypatch.setenv("AIRFLOW_CONN_ACCOUNT_B", connection)
    hook = EmpirioLabsHook("account_b")

    with pytest.raises(EmpirioLabsAuthenticationError) as caught:
        hook.get_account_usage(limit=1)  # not the catalog: it answers without a key

    assert caught.value.status_code == 401
    assert caught.value.conn_id == "account_b"
    assert "(connection 'account_b': its password is the API key)" in str(caught.value)
    assert "sk-empiriolabs-wrong" not in str(caught.value)
    ok, message = hook.test_connection()  # the UI's Test runs under a random connection id: not named
    assert not ok and "HTTP 401" in message and "connection '" not in message


async def test_a_401_in_the_triggerer_names_the_connection(
    empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = empiriolabs_simulator.connection_json().replace(empiriolabs_simulator.api_key, "sk-empiriolabs-wrong")
    monkeypatch.setenv("AIRFLOW_CONN_ACCOUNT_B", connection)
    hook = EmpirioLabsHook("account_b")
    try:
        with pytest.raises(EmpirioLabsAuthenticationError, match="connection 'account_b'"):
            await hook.aget_job("job_123")
    finally:
        await hook.aclose()


def test_a_missing_connection_fails_the_task_at_once_with_how_to_add_it(
    empiriolabs_simulator: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    op = EmpirioLabsGenerateVideoOperator(
        task_id="generate", prompt="a horse", duration=3, empiriolabs_conn_id="not_there", retries=3
    )
    with pytest.raises(AirflowFailException) as caught:  # no Airflow retry
        op.execute(make_context())

    message = str(caught.value)
    assert "connection 'not_there' is not defined, so nothing was sent" in message
    assert "airflow connections add not_there --conn-type empiriolabs" in message
    assert "AIRFLOW_CONN_NOT_THERE=" in message
    assert empiriolabs_simulator.stats()["posts"] == 0
    assert "estimated" not in "".join(capfd.readouterr())  # nothing went out: no cost logged


def test_the_hook_raises_the_missing_connection_error() -> None:
    with pytest.raises(EmpirioLabsConnectionNotFoundError, match="Admin > Connections"):
        _ = EmpirioLabsHook("not_there").settings


def test_the_estimate_is_logged_when_the_request_goes_out_and_the_eta_when_deferring(
    empiriolabs_connection: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    op = EmpirioLabsGenerateVideoOperator(
        task_id="generate", prompt="a horse", duration=5, deferrable=True, poll_interval=0.05
    )
    with pytest.raises(TaskDeferred):
        op.execute(make_context())

    lines = "".join(capfd.readouterr()).splitlines()
    sending = [line for line in lines if "Sending " in line]
    assert len(sending) == 1
    assert (
        "Sending happyhorse-1-1, 720p, 5 s of video to EmpirioLabs (connection 'empiriolabs_default'): "
        "estimated $0.70" in sending[0]
    )
    (eta,) = [line for line in lines if "waiting in the triggerer" in line]
    assert "expected ready in about " in eta and " s (" in eta and "UTC)" in eta
    assert "giving up after 3600 s" in eta


def test_a_refused_try_logs_no_estimate(empiriolabs_connection: Any, capfd: pytest.CaptureFixture[str]) -> None:
    # The task state store cannot be written: the guard refuses before the POST leaves.
    class Unwritable:
        def get(self, key: str, default: Any = None) -> Any:
            return default

        def set(self, key: str, value: Any, **_: Any) -> None:
            raise OSError("supervisor gone")

        def delete(self, key: str) -> None:
            pass

    op = EmpirioLabsGenerateVideoOperator(task_id="generate", prompt="a horse", duration=3)
    context = make_context()
    context["task_state_store"] = Unwritable()
    with pytest.raises(Exception, match="nothing was sent"):
        op.execute(context)

    text = "".join(capfd.readouterr())
    assert empiriolabs_connection.stats()["posts"] == 0
    assert "estimated" not in text
    assert "Submitting happyhorse-1-1, 720p, 3 s of video" in text  # the try got that far
