"""
Every path fails fast on the same errors: the written policy, checked against every way a task reads a job.

The paths are the generate operator on a worker (a retry reattaching to its job) and resumed from
the triggerer, the same two of the Compose operator (a render, on its own endpoint), the chain
operator likewise (its first link's job), the sensor poking, poking once before deferring and
resumed from the triggerer, and the transfer fetching the job for its outputs. Each meets the same
API error on every GET of the job (real HTTP against the simulator), and must fail without retries
exactly when :data:`SPEC` says so, without ever sending a second POST. The companion tests keep the
spec, the policy module and the rest of the package from drifting apart.
"""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any

import pytest
import tenacity
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException, TaskDeferred

import airflow_provider_empiriolabs
from airflow_provider_empiriolabs import _outcome, exceptions
from airflow_provider_empiriolabs._outcome import (
    FINAL_KINDS,
    KIND_BY_CLASS,
    ErrorKind,
    JobVerdict,
    judge_job,
    kind_of,
    raise_for_failed_job,
    task_retry_helps,
)
from airflow_provider_empiriolabs.exceptions import EmpirioLabsError
from airflow_provider_empiriolabs.hooks import _retry
from airflow_provider_empiriolabs.hooks._responses import error_for
from airflow_provider_empiriolabs.models import Job, JobError, JobStatus
from airflow_provider_empiriolabs.models.image_request import ImageRequest
from airflow_provider_empiriolabs.operators._reference_images import EmpirioLabsReferenceImageError
from airflow_provider_empiriolabs.operators.chain import EmpirioLabsVideoChainOperator
from airflow_provider_empiriolabs.operators.compose import EmpirioLabsComposeOperator
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.operators.image import EmpirioLabsGenerateImageOperator
from airflow_provider_empiriolabs.sensors.empiriolabs import EmpirioLabsJobSensor
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator
from airflow_provider_empiriolabs.triggers._events import error_event, job_from_event
from tests.support import event_for, make_context, make_operator, submit_job

#: The written policy: is the task failed without retries when every GET of the job meets this?
SPEC: dict[int | str, bool] = {
    400: True,
    401: True,
    402: True,
    403: True,
    404: True,
    409: True,
    422: True,
    429: False,
    500: False,
    503: False,
    "reset": False,
    "malformed_json": False,
}
PATHS = [
    "worker",
    "deferred",
    "compose_worker",
    "compose_deferred",
    "sensor_poke",
    "sensor_first_poke",
    "sensor_deferred",
    "transfer",
    "image_worker",
    "image_deferred",
    "chain_worker",
    "chain_deferred",
]
HOOK_PARAMS = {"max_attempts": 2}
PACKAGE = Path(airflow_provider_empiriolabs.__file__).parent


def _fault(fault: int | str) -> dict[str, Any]:
    spec: dict[str, Any] = {"match": "poll", "count": 1000}
    if isinstance(fault, int):
        spec["status"] = fault
        spec["retry_after"] = 0  # a 429 pauses the account's budget for as long as it asks: not at all here
    else:
        spec["kind"] = fault
    return spec


def _compose(**kwargs: Any) -> EmpirioLabsComposeOperator:
    storyboard = {"scenes": [{"index": 0, "narration": "A mug on a desk", "duration_seconds": 3}]}
    return EmpirioLabsComposeOperator(
        task_id="render", recipe="ai-ugc-product-ad", mode="render", storyboard=storyboard, poll_interval=0.05, **kwargs
    )


def _submit_for(path: str) -> str:
    """The job a path reads: a Compose render's for the Compose paths, a video's for the others."""
    if not path.startswith("compose"):
        return submit_job()
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

    hook = EmpirioLabsHook()
    try:
        return hook.submit(_compose().request)
    finally:
        hook.close()


def _sensor(job_id: str, **kwargs: Any) -> EmpirioLabsJobSensor:
    return EmpirioLabsJobSensor(task_id="wait", job_id=job_id, poke_interval=0.05, timeout=3, **kwargs)


def _trigger_event(job_id: str) -> dict[str, Any]:
    # Transient trouble keeps the trigger polling to its deadline: a short one ends it with "timeout".
    return event_for(job_id, end_time=time.time() + 1.0, hook_params=HOOK_PARAMS)


def _image_operator(**kwargs: Any) -> EmpirioLabsGenerateImageOperator:
    return EmpirioLabsGenerateImageOperator(
        task_id="draw", prompt="A lighthouse at dawn", poll_interval=0.05, hook_params=HOOK_PARAMS, **kwargs
    )


def _submit_image_job() -> str:
    """One image job, billed once, straight through the hook (as an earlier try would)."""
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

    hook = EmpirioLabsHook()
    try:
        return hook.submit(ImageRequest.build(prompt="A lighthouse at dawn"))
    finally:
        hook.close()


def _run_path(path: str, job_id: str, tmp_path: Path, **sensor_kwargs: Any) -> BaseException:
    """Run one path on the job; the exception it ended with (it must end with one)."""
    try:
        if path == "worker":  # a retry on a worker: the task state store holds the job of the first try
            context = make_context(**{EmpirioLabsGenerateVideoOperator.external_id_key: job_id})
            make_operator(deferrable=False, hook_params=HOOK_PARAMS).execute(context)
        elif path == "deferred":
            make_operator(deferrable=True, hook_params=HOOK_PARAMS).resume_execution(
                "execute_complete", {"event": _trigger_event(job_id)}, make_context()
            )
        elif path == "image_worker":  # the image operator's retry reattaching to its image job
            context = make_context(**{EmpirioLabsGenerateImageOperator.external_id_key: job_id})
            _image_operator(deferrable=False).execute(context)
        elif path == "image_deferred":
            _image_operator(deferrable=True).resume_execution(
                "execute_complete", {"event": _trigger_event(job_id)}, make_context()
            )
        elif path == "compose_worker":
            context = make_context(**{EmpirioLabsComposeOperator.external_id_key: job_id})
            _compose(deferrable=False, hook_params=HOOK_PARAMS).execute(context)
        elif path == "compose_deferred":
            _compose(deferrable=True, hook_params=HOOK_PARAMS).resume_execution(
                "execute_complete", {"event": _trigger_event(job_id)}, make_context()
            )
        elif path == "sensor_poke":
            _sensor(job_id, deferrable=False, hook_params=HOOK_PARAMS, **sensor_kwargs).execute({})
        elif path == "sensor_first_poke":
            _sensor(job_id, deferrable=True, hook_params=HOOK_PARAMS, **sensor_kwargs).execute({})
        elif path == "sensor_deferred":
            sensor = _sensor(job_id, deferrable=True, hook_params=HOOK_PARAMS, **sensor_kwargs)
            sensor.resume_execution("execute_complete", {"event": _trigger_event(job_id)}, {})
        elif path in ("chain_worker", "chain_deferred"):  # the chain's first link is the job: a retry, or resumed
            chain = EmpirioLabsVideoChainOperator(
                task_id="film",
                shots=[{"prompt": "A horse at the shore", "duration": 3}, {"prompt": "It walks into the sea"}],
                poll_interval=0.05,
                deferrable=path == "chain_deferred",
                hook_params=HOOK_PARAMS,
            )
            context = make_context(**{f"{chain.external_id_key}_0": job_id})
            if path == "chain_worker":
                chain.execute(context)
            else:
                chain.resume_execution("execute_complete", {"event": _trigger_event(job_id)}, context)
        elif path == "transfer":
            EmpirioLabsToObjectStorageOperator(
                task_id="copy", job_id=job_id, destination=f"file://{tmp_path}/"
            ).execute(make_context())
        else:
            raise AssertionError(path)
    except TaskDeferred as deferred:
        raise AssertionError(f"{path} deferred instead of failing") from deferred
    except Exception as error:
        return error
    raise AssertionError(f"{path} succeeded although every GET of the job failed")


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook retries what it retries, without sleeping (what it retries is under test, not how long)."""
    monkeypatch.setattr(_retry, "wait_retry_after", lambda fallback, cap=0.0: tenacity.wait_none())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", list(SPEC))
def test_every_path_fails_fast_on_the_same_errors(
    empiriolabs_connection: Any, no_backoff: None, tmp_path: Path, fault: int | str, path: str
) -> None:
    sim = empiriolabs_connection
    job_id = _submit_image_job() if path.startswith("image") else _submit_for(path)  # billed once, before any fault
    sim.configure(fail_next_requests=[_fault(fault)])

    error = _run_path(path, job_id, tmp_path)

    assert isinstance(error, AirflowFailException) is SPEC[fault], (path, fault, repr(error))
    assert sim.stats()["posts"] == 1  # no path ever sent the request again
    assert sim.api_key not in str(error)


@pytest.mark.parametrize("path", ["sensor_poke", "sensor_first_poke", "sensor_deferred"])
@pytest.mark.parametrize("fault", [401, "failed_job"])
def test_soft_fail_skips_alike_on_every_sensor_path(
    empiriolabs_connection: Any, no_backoff: None, tmp_path: Path, fault: int | str, path: str
) -> None:
    sim = empiriolabs_connection
    if fault == "failed_job":
        sim.configure(render_base_seconds=0, render_seconds_per_video_second=0)
        job_id = submit_job(prompt="A horse SIMULATE_CONTENT_POLICY")
    else:
        job_id = submit_job()
        sim.configure(fail_next_requests=[_fault(fault)])

    error = _run_path(path, job_id, tmp_path, soft_fail=True)

    assert isinstance(error, AirflowSkipException), (path, fault, repr(error))


# -- the spec, the module and the package agree ---------------------------------------------------


def _exception_classes(root: type[BaseException]) -> list[type[BaseException]]:
    found, todo = [], [root]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_exception_class_has_a_kind() -> None:
    classes = _exception_classes(EmpirioLabsError)
    assert EmpirioLabsReferenceImageError in classes  # the walk sees classes defined outside exceptions.py
    for cls in classes:
        if cls.__module__ == exceptions.__name__:
            assert cls in KIND_BY_CLASS, f"{cls.__name__} has no explicit kind in _outcome"
        else:  # defined elsewhere: it means what its base in exceptions.py means
            base = next(b for b in cls.__mro__ if b.__module__ == exceptions.__name__)
            assert kind_of(cls("x")) is KIND_BY_CLASS[base], cls


@pytest.mark.parametrize("status", [s for s in SPEC if isinstance(s, int)] + [408, 425, 502, 504])
def test_the_spec_matches_the_module(status: int) -> None:
    error = error_for(status, "", {}, b'{"error": {"code": "x", "message": "m"}}', "sk-secret")
    final = SPEC.get(status, False)
    assert task_retry_helps(error) is not final
    assert (kind_of(error) is ErrorKind.TRANSIENT) is (status in _outcome.TRANSIENT_STATUSES)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_events_carry_the_kind(kind: ErrorKind) -> None:
    error = next(cls("boom") for cls, k in KIND_BY_CLASS.items() if k is kind and issubclass(cls, EmpirioLabsError))
    event = json.loads(json.dumps(error_event("job_1", "EmpirioLabs job job_1: boom", error)))

    assert event["kind"] == kind.value
    with pytest.raises(AirflowException) as caught:
        job_from_event(event)
    assert isinstance(caught.value, AirflowFailException) is (kind in FINAL_KINDS)
    assert "boom" in str(caught.value)


def test_an_event_without_a_kind_fails_with_retries_as_before() -> None:
    # Sent by the previous version of the provider, and still in the database after the upgrade.
    event = {"status": "error", "job_id": "job_1", "message": "EmpirioLabs job job_1: HTTP 401", "job": None}
    with pytest.raises(AirflowException) as caught:
        job_from_event(event)
    assert not isinstance(caught.value, AirflowFailException)


@pytest.mark.parametrize(
    ("code", "billed", "verdict"),
    [
        ("model_unavailable", False, JobVerdict.RESUBMIT),
        ("model_unavailable", None, JobVerdict.BILLING_UNKNOWN),
        ("model_unavailable", True, JobVerdict.FINAL),
        ("content_policy_violation", False, JobVerdict.FINAL),
        ("content_policy_violation", None, JobVerdict.FINAL),
        (None, None, JobVerdict.FINAL),
    ],
)
def test_judge_job(code: str | None, billed: bool | None, verdict: JobVerdict) -> None:
    job = Job(job_id="job_1", status=JobStatus.FAILED, raw_status="failed", error=JobError(code=code, billed=billed))
    assert judge_job(job) is verdict
    with pytest.raises(AirflowException) as caught:
        raise_for_failed_job(job)
    assert isinstance(caught.value, AirflowFailException) is (verdict is not JobVerdict.RESUBMIT)
    running = job.model_copy(update={"status": JobStatus.RUNNING, "error": None})
    assert judge_job(running) is JobVerdict.RUNNING


def _policy_findings(tree: ast.AST, name: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in {
            "AirflowFailException",
            "retry_if_exception",
            "retry_if_exception_type",
        }:
            found.append(f"{where} builds {ast.unparse(node.func)}")
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
            names = {ast.unparse(e) for e in node.type.elts}
            if names & {"EmpirioLabsRateLimitError", "EmpirioLabsServerError"}:
                found.append(f"{where} catches a transient set {sorted(names)}")
        if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
            ints = [e.value for e in node.elts if isinstance(e, ast.Constant) and type(e.value) is int]
            if len(ints) >= 2 and all(300 <= i < 600 for i in ints):
                found.append(f"{where} lists HTTP statuses {ints}")
    return found


def test_no_policy_outside_the_outcome_module() -> None:
    allowed = {
        "_outcome.py",
        "testing",  # the simulator plays the API: it names statuses by design
    }
    findings = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in allowed or rel.split("/")[0] in allowed:
            continue
        findings += _policy_findings(ast.parse(path.read_text()), rel)
    # The two retry loops ask _outcome which errors to repeat: the hook's (a predicate of it) and the
    # download's (its in-loop signal, raised only where _outcome.download_step says "retry").
    expected = {"hooks/_retry.py", "transfers/_download.py"}
    assert {f.split(":")[0] for f in findings if "retry_if_exception" in f} <= expected
    assert [f for f in findings if "retry_if_exception" not in f] == []
