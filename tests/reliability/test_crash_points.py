"""
Crash-point injection: every step of a generate task (a video, a Compose render) fails in turn, then
the task is retried.

The steps are not listed here: the harness records every boundary the operator crosses (each
task-state-store read and write, each XCom push, each HTTP exchange, in the worker or the
triggerer, before the request leaves and after it reached the server, each image committed to
storage, the deferral, the trigger, the return value) and a scenario is run once per step, failing
that step. Adding a store write or an API call to the operator adds its crash points here by itself.

A step is named by what it is and which occurrence it is ("the 2nd store.get"), not by its
position: runs differ in length (the number of polls depends on timing, a failure adds a retry),
so a position would name different steps in different runs. Every step seen in any run, the
failing ones included, is failed in turn.

For every step: at most one POST reached the API, and the video is delivered, except where the
failure falls between the POST leaving and its job id being recorded with the process killed
(no code runs after a kill): there, and only there, the task fails saying the outcome is unknown,
without a second POST. A held (``sync``) image answer has no job id: it is recorded done as soon as
its images can be found again (its URLs at once, its ``b64_json`` bytes once written), so a kill
after that finds it recorded; a kill while its bytes are written loses them (they exist only in
that answer), and the task fails, unknown, without a second POST.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_empiriolabs.hooks.empiriolabs import wait_retry_after
from airflow_provider_empiriolabs.operators.chain import EmpirioLabsVideoChainOperator
from airflow_provider_empiriolabs.operators.compose import EmpirioLabsComposeOperator
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.operators.image import EmpirioLabsGenerateImageOperator
from airflow_provider_empiriolabs.transfers._commit import PendingObject
from tests.support import DictStateStore, RecordingTI

MAX_TRIES = 4


class InjectedFailure(Exception):
    """A step failed the way Airflow and networks fail: an exception the task sees."""


class InjectedKill(BaseException):
    """The process died at this step: no ``except Exception`` or later code of the try runs."""


Step = tuple[str, int]  # what the step is, and which occurrence of it (1 for the first)


@dataclass
class Steps:
    """Records the boundary crossings of a run and fails the step ``fail_at`` (once)."""

    fail_at: Step | None = None
    kind: type[BaseException] = InjectedFailure
    names: list[str] = field(default_factory=list)
    crossed: list[Step] = field(default_factory=list)
    failed: str | None = None

    def __call__(self, name: str) -> None:
        self.names.append(name)
        step = (name, self.names.count(name))
        self.crossed.append(step)
        if self.failed is None and step == self.fail_at:
            self.failed = name
            raise self.kind(f"injected at {name} #{step[1]}")


class CrashingStore(DictStateStore):
    """The task state store; every read and write is a step (a write may fail before or after it lands)."""

    def __init__(self, steps: Steps) -> None:
        super().__init__()
        self.steps = steps

    def get(self, key: str, default: Any = None) -> Any:
        self.steps("store.get")
        return super().get(key, default)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        state = value.get("state") if isinstance(value, dict) else value
        self.steps(f"store.set {state}")
        super().set(key, value, **kwargs)
        self.steps(f"store.set {state}: acknowledgement lost")

    def delete(self, key: str) -> None:
        self.steps("store.delete")
        super().delete(key)


class CrashingTI(RecordingTI):
    def __init__(self, steps: Steps) -> None:
        super().__init__()
        self.steps = steps

    def xcom_push(self, key: str, value: Any) -> None:
        self.steps(f"xcom_push {key}")
        super().xcom_push(key, value)


def _path(request: httpx.Request) -> str:
    path = request.url.path
    return "/v1/jobs/{id}" if path.startswith("/v1/jobs/") else path


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Steps]:
    """Every HTTP exchange of the hook, sync and async, is two steps: before sending, and answer lost."""
    current = Steps()
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        name = f"{request.method} {_path(request)}"
        try:
            current(name)
        except InjectedFailure:
            raise httpx.ConnectError("injected: connection refused", request=request) from None
        response = sync_send(self, request, **kwargs)
        try:
            current(f"{name}: answer lost")
        except InjectedFailure:
            response.close()
            raise httpx.ReadError("injected: connection reset", request=request) from None
        return response

    async def asend(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        name = f"{request.method} {_path(request)} (triggerer)"
        try:
            current(name)
        except InjectedFailure:
            raise httpx.ConnectError("injected: connection refused", request=request) from None
        response = await async_send(self, request, **kwargs)
        try:
            current(f"{name}: answer lost")
        except InjectedFailure:
            await response.aclose()
            raise httpx.ReadError("injected: connection reset", request=request) from None
        return response

    # The hook's backoff between retries is real time; here it only slows the enumeration down.
    monkeypatch.setattr(wait_retry_after, "__call__", lambda self, state: 0.01)
    monkeypatch.setattr(httpx.Client, "send", send)
    monkeypatch.setattr(httpx.AsyncClient, "send", asend)
    commit = PendingObject.commit

    def image_written(self: PendingObject, written: int) -> None:  # a b64_json image committed to storage
        current("storage commit")
        commit(self, written)

    monkeypatch.setattr(PendingObject, "commit", image_written)
    yield current


async def _first_event(trigger: Any) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


def _rebuilt(trigger: Any) -> Any:
    """The trigger as the triggerer builds it: from its serialized class path and kwargs."""
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


@dataclass
class Outcome:
    result: Any = None
    final_error: BaseException | None = None
    tries: int = 0


def run_with_retries(make_operator: Any, steps: Steps) -> Outcome:
    """
    What Airflow does with one task instance: tries until success, a final failure or MAX_TRIES.

    A deferral resumes on a fresh operator (a new process in Airflow) after the trigger fired.
    """
    store = CrashingStore(steps)
    outcome = Outcome()
    for _ in range(MAX_TRIES):
        outcome.tries += 1
        context: Any = {"ti": CrashingTI(steps), "task_state_store": store}
        try:
            method, event = "execute", None
            while True:  # a chain defers once per link, resuming each time on a fresh operator
                try:
                    operator = make_operator()
                    result = operator.execute(context) if event is None else getattr(operator, method)(context, event)
                    break
                except TaskDeferred as deferred:
                    steps("defer")
                    trigger = _rebuilt(deferred.trigger)
                    steps("trigger")
                    event = asyncio.run(asyncio.wait_for(_first_event(trigger), 60))
                    steps("trigger event")
                    method = deferred.method_name
            steps("return value")
            outcome.result = result
            return outcome
        except AirflowFailException as error:
            outcome.final_error = error
            return outcome
        except (Exception, InjectedKill):
            continue
    raise AssertionError(f"no outcome after {MAX_TRIES} tries: {steps.names}")


PROMPT = "A horse galloping along a beach at sunrise"
#: A Compose render of two short scenes: a job like a video's, on its own endpoint, ending "succeeded".
STORYBOARD = {"scenes": [{"index": 0, "narration": PROMPT, "duration_seconds": 2}, {"index": 1, "duration_seconds": 2}]}


def _post(path: str) -> str:
    """The billed POST of the path's operator."""
    if path.startswith("compose"):
        return "POST /v1/videos/compose"
    return "POST /v1/images/generations" if path in IMAGE_PATHS else "POST /v1/videos/generations"


#: The image paths: the job path on a worker and deferred, and a held (sync) request whose images come as
#: URLs or as b64.
IMAGE_PATHS: dict[str, dict[str, Any]] = {
    "image": {},
    "image_deferrable": {"deferrable": True},
    "image_sync_url": {"sync": True},
    "image_sync_b64": {"sync": True, "response_format": "b64_json"},
}
#: The paths whose search takes long (a deferral per link, or per job besides the video's): run by make test,
#: left out of make test-quick's edit-run loop, which keeps every job kind on a worker, the video deferred and
#: the images held.
SLOW_PATHS = ("image_deferrable", "compose-deferrable", "chain", "chain_deferrable")
#: The steps that may leave a held answer unrecorded: the POST, its answer, the record's writes, the image writes.
HELD_UNRECORDED = ("store.set", "storage commit")


#: The chain paths' storyboard: every step of both links, and so every step between them, is failed in turn.
CHAIN_SHOTS = [{"prompt": PROMPT, "duration": 3}, {"prompt": "The horse slows to a walk at the water's edge"}]


def _factory(tmp_path: Path, path: str) -> Any:
    if path in IMAGE_PATHS:
        image_kwargs: dict[str, Any] = {"task_id": "draw", "prompt": PROMPT, "num_images": 2, "poll_interval": 0.02}
        image_kwargs.update(IMAGE_PATHS[path], destination=f"file://{tmp_path}/images/")
        return lambda: EmpirioLabsGenerateImageOperator(**image_kwargs)
    if path.startswith("compose"):
        compose = {"task_id": "render", "recipe": "ai-ugc-product-ad", "mode": "render", "storyboard": STORYBOARD}
        compose.update(poll_interval=0.02, deferrable=path == "compose-deferrable")
        return lambda: EmpirioLabsComposeOperator(**compose)
    if path.startswith("chain"):
        deferrable = path == "chain_deferrable"
        return lambda: EmpirioLabsVideoChainOperator(
            task_id="film", shots=CHAIN_SHOTS, poll_interval=0.02, deferrable=deferrable
        )
    kwargs: dict[str, Any] = {"task_id": "generate", "prompt": PROMPT, "duration": 3, "poll_interval": 0.02}
    if path == "deferrable":
        kwargs["deferrable"] = True
    if path == "upload":
        image = tmp_path / "still.png"
        image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        kwargs.update(images=[str(image)], mode="i2v")
    return lambda: EmpirioLabsGenerateVideoOperator(**kwargs)


def _outcome_unknown(steps: Steps, kind: type[BaseException], post: str, *, held: bool = False) -> bool:
    """
    Whether the injected failure left a POST whose outcome nobody can know.

    An exception can do that only by losing the POST's answer (the hook says so); a kill can
    also strike after "sending" landed in the store and before "accepted" did: the record then
    says a POST may have left, and no later try may send another. A held answer is recorded as
    soon as it is read (its bytes once written): a kill at any other step finds it recorded.
    """
    if steps.failed == f"{post}: answer lost":
        return True
    if kind is not InjectedKill:
        return False
    if held and not (steps.failed or "").startswith((post, *HELD_UNRECORDED)):
        return False
    landed = [name.split()[1] for name in steps.names if name.endswith(": acknowledgement lost")]
    return bool(landed) and landed[-1].startswith("sending")


@pytest.mark.parametrize("kind", [InjectedFailure, InjectedKill], ids=["failure", "kill"])
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, marks=pytest.mark.slow) if path in SLOW_PATHS else path
        for path in (
            "worker",
            "deferrable",
            "upload",
            *IMAGE_PATHS,
            "compose",
            "compose-deferrable",
            "chain",
            "chain_deferrable",
        )
    ],
)
def test_every_step_failing_in_turn_pays_at_most_once_and_delivers_the_video(
    empiriolabs_connection: Any, steps: Steps, tmp_path: Path, path: str, kind: type[BaseException]
) -> None:
    sim = empiriolabs_connection
    # Renders long enough for a poll to see the job running; a chain's links, shorter (it renders two).
    render = (
        {"render_base_seconds": 0.4, "render_seconds_per_video_second": 0.1}
        if path.startswith("chain")
        else {"render_base_seconds": 1.0, "render_seconds_per_video_second": 0.5}
    )
    sim.configure(**render)
    make_operator = _factory(tmp_path, path)

    links = len(CHAIN_SHOTS) if path.startswith("chain") else 1  # each link is one billed POST
    clean = run_with_retries(make_operator, steps)
    done = "succeeded" if path.startswith("compose") else "completed"  # Compose's word for it (the blog's)
    assert clean.result["status"] == done and clean.tries == 1, clean
    held = path.startswith("image_sync")  # no job to poll: the answer holds the images (b64: written to storage)
    assert steps.names.count(_post(path)) == links
    seen: list[str] = []
    failed_steps: list[Step] = []
    pending = list(steps.crossed)
    known = set(pending)
    while pending:
        step = pending.pop(0)
        sim.reset()
        sim.configure(**render)
        steps.__init__(fail_at=step, kind=kind)  # type: ignore[misc]
        outcome = run_with_retries(make_operator, steps)
        for new in steps.crossed:  # steps only a failure reaches (the retry's) are failed too
            if new not in known:
                known.add(new)
                pending.append(new)
        if steps.failed is None:  # this run did not reach ``step`` (fewer polls this time)
            continue
        seen.append(steps.failed)
        failed_steps.append(step)
        where = f"{step[0]} #{step[1]} ({kind.__name__}, {path})"
        stats = sim.stats()
        assert stats["posts"] <= links, where
        assert len(set(map(str, stats["extends"].values()))) == len(stats["extends"]), where  # no link made twice
        if outcome.final_error is None:
            assert outcome.result["status"] == done, where
            assert stats["jobs_created"] == links, where
            if path == "image_sync_url":
                assert len(outcome.result["output_urls"]) == 2, where
            elif held:
                assert len(outcome.result["stored_uris"]) == 2, where
                assert all(Path(uri.removeprefix("file://")).is_file() for uri in outcome.result["stored_uris"]), where
            else:
                assert outcome.result["job_id"] in stats["gets_per_job"], where
                assert outcome.result["output_urls"], where
            if path.startswith("compose"):  # the render's manifest, read from the job after it finished
                assert outcome.result["manifest"]["scenes"], where
        else:
            # The only way not to deliver: the outcome of the one POST is unknown, and said so.
            assert _outcome_unknown(steps, kind, _post(path), held=held), where
            assert "usage" in str(outcome.final_error), where
    # The harness did cross the steps that matter for money (a guard against it testing nothing).
    assert any(name.startswith("store.set sending") for name in seen)
    assert any(name.startswith("store.set done" if held else "store.set accepted") for name in seen)
    assert any(name.startswith("xcom_push") for name in seen)
    assert "return value" in seen
    if path.endswith("deferrable"):
        assert {"defer", "trigger", "trigger event"} <= set(seen)
    if path == "image_sync_b64":
        assert "storage commit" in seen
    if path.startswith("chain"):  # both links' steps were failed, so those between them too
        assert {("store.set done", 1), ("POST /v1/videos/generations", links)} <= set(failed_steps)
    if path == "upload":
        assert any(name.startswith("POST /v1/files/upload") for name in seen)
