"""
Stored-video reuse never crosses accounts, image bytes or mapped siblings (real ``dag.test()``, simulator).

A cleared task whose request is the same gets the video an earlier run made, unpaid. "The same"
must cover everything that makes the video: the account that paid for it (another connection's
account gets its own video, and could not even unseal the first one's URLs), the bytes of each
reference image read from storage (a file replaced under the same path is another picture), and
the task instance (each mapped index has its own record and its own video).

Each test runs a DAG of ``tests/dags/record_reuse_dags.py`` on ``dag.test()``, then clears its
task instances and runs them again (``tests/adversarial/_clearing.py``: the run and its task state
store kept, as in the UI).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_empiriolabs.sealing import unseal_output_urls
from tests.adversarial._clearing import clear_and_rerun
from tests.support import load_test_dag, task_instance

pytestmark = pytest.mark.usefixtures("airflow_db")

OTHER_KEY = "sk-empiriolabs-second-account-key-fedcba9876543210"
PNG = b"\x89PNG\r\n\x1a\n"


def _first_run(dag_id: str) -> Any:
    return load_test_dag(dag_id).test()


def _clear_and_rerun(run: Any) -> Any:
    """Clear every task instance of the run, as the UI's Clear does, and run them again."""
    return clear_and_rerun(load_test_dag(run.dag_id), run)


def _results(run: Any, task_id: str = "generate") -> dict[int, Any]:
    """``{map_index: return value}`` of every instance of the task; each must have succeeded."""
    out: dict[int, Any] = {}
    for ti in run.get_task_instances():
        if ti.task_id == task_id:
            assert str(ti.state) == "success", (task_id, ti.map_index, ti.state)
            out[ti.map_index] = ti.xcom_pull(task_ids=task_id, key="return_value", map_indexes=ti.map_index)
    return out


def _use_key(monkeypatch: pytest.MonkeyPatch, sim: Any, key: str) -> None:
    conn = json.loads(sim.connection_json())
    conn["password"] = key
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", json.dumps(conn))


def test_a_cleared_task_run_with_another_account_pays_that_account_not_the_first_ones_video(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = empiriolabs_connection
    sim.configure(api_keys=[sim.api_key, OTHER_KEY])
    run = _first_run("empiriolabs_test_reuse_account")

    first = _results(run)[-1]
    assert sim.stats()["posts"] == 1
    same = _results(_clear_and_rerun(run))[-1]  # control: the same account reuses
    assert same["job_id"] == first["job_id"] and sim.stats()["posts"] == 1

    _use_key(monkeypatch, sim, OTHER_KEY)  # the connection now holds another account's key
    other = _results(_clear_and_rerun(run))[-1]

    assert sim.stats()["posts"] == 2, "the first account's video was handed to the second account"
    assert other["job_id"] != first["job_id"]
    assert unseal_output_urls(other)  # its URLs open with the connection's (the second account's) key
    again = _results(_clear_and_rerun(run))[-1]  # and it is reused for that account
    assert again["job_id"] == other["job_id"] and sim.stats()["posts"] == 2


def test_reference_image_bytes_changed_under_the_same_path_are_a_new_video(
    empiriolabs_connection: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sim = empiriolabs_connection
    image = tmp_path / "still.png"
    image.write_bytes(PNG + b"a chestnut horse" * 8)
    monkeypatch.setenv("AIRFLOW_VAR_REUSE_IMAGE_PATH", str(image))
    run = _first_run("empiriolabs_test_reuse_image")

    first = _results(run)[-1]
    assert sim.stats()["posts"] == 1
    unchanged = _results(_clear_and_rerun(run))[-1]
    assert unchanged["job_id"] == first["job_id"] and sim.stats()["posts"] == 1, "unchanged bytes: reused"

    image.write_bytes(PNG + b"a grey pony, not the chestnut" * 8)  # same path, other picture
    changed = _results(_clear_and_rerun(run))[-1]

    assert sim.stats()["posts"] == 2, "the video of the old picture was reused for the new one"
    assert changed["job_id"] != first["job_id"]


def test_each_mapped_index_keeps_its_own_record_and_never_takes_a_siblings_video(
    empiriolabs_connection: Any,
) -> None:
    sim = empiriolabs_connection
    run = _first_run("empiriolabs_test_reuse_mapped")
    operator_jobs = {i: r["job_id"] for i, r in _results(run, "generate").items()}
    decorator_jobs = {i: r["job_id"] for i, r in _results(run, "written").items()}
    assert sorted(operator_jobs) == sorted(decorator_jobs) == [0, 1, 2]
    # Identical requests, six instances: six videos, none shared.
    assert len(set(operator_jobs.values()) | set(decorator_jobs.values())) == 6
    assert sim.stats()["posts"] == 6

    rerun = _clear_and_rerun(run)  # cleared: each index gets its own back
    assert {i: r["job_id"] for i, r in _results(rerun, "generate").items()} == operator_jobs
    assert {i: r["job_id"] for i, r in _results(rerun, "written").items()} == decorator_jobs
    assert sim.stats()["posts"] == 6
    assert task_instance(rerun, "generate", 1).max_tries >= 1  # it was a clear, not a first run


def test_the_fingerprint_names_the_account_without_the_key() -> None:
    from airflow_provider_empiriolabs.models import VideoRequest
    from airflow_provider_empiriolabs.operators._fingerprint import account_digest, fingerprint

    request = VideoRequest.build(prompt="a horse", duration=3)
    key = "sk-live-0123456789abcdef0123456789abcdef"
    digest = account_digest("https://api.example.com", key)
    assert key not in digest and hashlib.sha256(key.encode()).hexdigest() not in digest
    assert digest != account_digest("https://api.example.com", key + "x")
    assert digest != account_digest("https://api.other.example.com", key)
    assert digest == account_digest("https://api.example.com/", key)  # one account, however written
    assert fingerprint(request, account=digest) != fingerprint(request, account=account_digest("https://x", key))
    # Computed once per process and account, and the key is not what it is kept under.
    from airflow_provider_empiriolabs.operators._fingerprint import _ACCOUNT_DIGESTS

    assert digest in _ACCOUNT_DIGESTS.values()
    assert key not in repr(_ACCOUNT_DIGESTS) and key[8:] not in repr(_ACCOUNT_DIGESTS)
