"""
The EmpirioLabs hook over real HTTP against the simulator on 127.0.0.1; the waits are slept
for real and measured. Its unit tests (respx) are beside it, one file per hook module.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
    EmpirioLabsInsufficientCreditsError,
    EmpirioLabsNotFoundError,
    EmpirioLabsSubmissionUnknownError,
    EmpirioLabsValidationError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import (
    EmpirioLabsHook,
)
from airflow_provider_empiriolabs.models import (
    HAPPYHORSE_MODEL,
    Job,
    JobStatus,
    VideoRequest,
    estimate_cost_usd,
)
from airflow_provider_empiriolabs.testing import connection_json
from tests.hooks.support import CONN_ENV, KEY, assert_no_key, logged, request

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator


# ---------------------------------------------------------------------------------------------
# Over real HTTP, against the simulator
# ---------------------------------------------------------------------------------------------


def wait_for_terminal(hook: EmpirioLabsHook, job_id: str, limit: float = 20.0) -> Job:
    deadline = time.monotonic() + limit
    while True:
        job = hook.get_job(job_id)
        if job.status.is_terminal():
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.raw_status} after {limit} s"
        time.sleep(0.1)


@pytest.fixture
def sim(empiriolabs_connection: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    return empiriolabs_connection


@pytest.fixture
def sim_hook(sim: EmpirioLabsSimulator) -> Iterator[EmpirioLabsHook]:
    h = EmpirioLabsHook(max_attempts=3)
    yield h
    h.close()


def request_times(hook: EmpirioLabsHook) -> list[tuple[float, str, str]]:
    """(monotonic time, method, path) of every request the hook's client sends from now on."""
    times: list[tuple[float, str, str]] = []
    hook.get_conn().event_hooks["request"].append(lambda r: times.append((time.monotonic(), r.method, r.url.path)))
    return times


class TestAgainstSimulator:
    def test_submit_and_poll_to_completion(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(VideoRequest.build(prompt="a horse at sunset", duration=3))
        assert job_id.startswith("job_")
        job = wait_for_terminal(sim_hook, job_id)
        assert job.status is JobStatus.SUCCEEDED
        assert job.progress == 1.0
        assert job.error is None
        assert len(job.output_urls) == 1
        assert job.output_urls[0].startswith(f"{sim.url}/v1/outputs/{job_id}/")
        assert job.billable_seconds == 3
        video = httpx.get(job.output_urls[0])
        assert video.status_code == 200
        assert video.content[4:8] == b"ftyp", "a real MP4"
        stats = sim.stats()
        assert stats["posts"] == 1
        assert stats["jobs_created"] == 1

    def test_failed_job_carries_the_error(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(VideoRequest.build(prompt="SIMULATE_CONTENT_POLICY", duration=3))
        job = wait_for_terminal(sim_hook, job_id)
        assert job.status is JobStatus.FAILED
        assert job.error is not None
        assert job.error.code == "content_policy_violation"
        assert not job.error.is_transient()
        assert job.output_urls == []

    def test_auth_failure_without_the_key(
        self,
        sim: EmpirioLabsSimulator,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        wrong = "sk-empiriolabs-WRONG-0123456789"
        monkeypatch.setenv(CONN_ENV, connection_json(sim.url, wrong))
        hook = EmpirioLabsHook(max_attempts=3)
        with pytest.raises(EmpirioLabsAuthenticationError) as info:
            hook.submit_video(request())
        hook.close()
        assert info.value.status_code == 401
        assert info.value.code == "invalid_api_key"
        assert wrong not in str(info.value)
        assert wrong not in repr(hook)
        assert wrong not in logged(caplog, capfd)
        stats = sim.stats()
        assert stats["unauthorized"] == 1, "a 401 is not retried"
        assert stats["jobs_created"] == 0

    def test_insufficient_credits_fail_at_once(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        sim.configure(credit_balance_usd=0.1)
        with pytest.raises(EmpirioLabsInsufficientCreditsError) as info:
            sim_hook.submit_video(request())
        assert info.value.status_code == 402
        assert info.value.code == "insufficient_credits"
        assert "$0.70" in info.value.message
        assert sim.stats()["posts"] == 1
        assert sim.stats()["jobs_created"] == 0

    def test_429_on_a_poll_honours_retry_after(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(request())
        sim.configure(fail_next_requests=[{"match": "poll", "status": 429, "retry_after": 1, "count": 1}])
        times = request_times(sim_hook)
        assert sim_hook.get_job(job_id).job_id == job_id
        polls = [t for t, method, _ in times if method == "GET"]
        assert len(polls) == 2
        assert polls[1] - polls[0] >= 1.0, "waited at least the Retry-After"
        assert sim.stats()["gets_per_job"][job_id] == 2

    def test_429_on_the_post_honours_retry_after_and_creates_one_job(
        self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook
    ) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 429, "retry_after": 1, "count": 1}])
        times = request_times(sim_hook)
        job_id = sim_hook.submit_video(request())
        assert len(times) == 2
        assert times[1][0] - times[0][0] >= 1.0
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (2, 1)
        assert sim_hook.get_job(job_id).job_id == job_id

    def test_the_accounts_rate_limit_is_waited_out(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        sim.configure(rate_limit_rpm=2)
        for _ in range(3):
            sim_hook.list_models()
        stats = sim.stats()
        assert stats["rate_limited"] >= 1
        assert stats["responses_by_status"]["200"] == 3

    def test_503_on_the_post_is_retried(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 503, "retry_after": 0, "count": 1}])
        job_id = sim_hook.submit_video(request())
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (2, 1)
        assert stats["responses_by_status"]["503"] == 1
        assert sim_hook.get_job(job_id).job_id == job_id

    def test_503_on_a_poll_is_retried_with_backoff(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        job_id = sim_hook.submit_video(request())
        sim.configure(fail_next_requests=[{"match": "poll", "status": 503, "count": 1}])
        times = request_times(sim_hook)
        assert sim_hook.get_job(job_id).job_id == job_id
        assert len(times) == 2
        assert times[1][0] - times[0][0] >= 1.0, "exponential backoff starts at 1 s"
        assert sim.stats()["gets_per_job"][job_id] == 2

    @pytest.mark.parametrize("accepted", [False, True])
    def test_post_not_retried_after_a_500(
        self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook, accepted: bool
    ) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 500, "accepted": accepted}])
        with pytest.raises(EmpirioLabsSubmissionUnknownError) as info:
            sim_hook.submit_video(request())
        assert info.value.status_code == 500
        stats = sim.stats()
        assert stats["posts"] == 1
        assert stats["jobs_created"] == int(accepted)
        # What the error tells the user to do finds the job when there is one.
        assert len(sim_hook.get_account_usage().events) == int(accepted)

    def test_post_not_retried_after_a_dropped_connection(
        self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook
    ) -> None:
        sim.configure(fail_next_requests=[{"kind": "reset", "match": "post", "accepted": True}])
        with pytest.raises(EmpirioLabsSubmissionUnknownError):
            sim_hook.submit_video(request())
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (1, 1)

    def test_post_not_retried_after_a_read_timeout(self, sim: EmpirioLabsSimulator) -> None:
        sim.configure(fail_next_requests=[{"kind": "delay", "match": "post", "seconds": 1.5}])
        hook = EmpirioLabsHook(timeout=0.3, max_attempts=3)
        with pytest.raises(EmpirioLabsSubmissionUnknownError, match="ReadTimeout"):
            hook.submit_video(request())
        hook.close()
        stats = sim.stats()
        assert (stats["posts"], stats["jobs_created"]) == (1, 1)

    def test_unknown_job_is_not_found_at_once(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        with pytest.raises(EmpirioLabsNotFoundError) as info:
            sim_hook.get_job("job_doesnotexist")
        assert info.value.status_code == 404
        assert sim.stats()["gets_per_job"]["job_doesnotexist"] == 1

    def test_test_connection_true(self, sim: EmpirioLabsSimulator) -> None:
        ok, message = EmpirioLabsHook().test_connection()
        assert ok is True
        assert sim.url in message

    def test_test_connection_false(self, sim: EmpirioLabsSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
        wrong = "sk-empiriolabs-NOT-THE-KEY-42"
        monkeypatch.setenv(CONN_ENV, connection_json(sim.url, wrong))
        ok, message = EmpirioLabsHook().test_connection()
        assert ok is False
        assert "401" in message
        assert "invalid_api_key" in message
        assert wrong not in message

    def test_test_connection_unreachable(self, set_conn: Callable[..., None]) -> None:
        set_conn(host="http://127.0.0.1:9", password=KEY)
        ok, message = EmpirioLabsHook(max_attempts=1).test_connection()
        assert ok is False
        assert message
        assert_no_key(message)

    def test_list_models_and_get_model(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        ids = [m["id"] for m in sim_hook.list_models()]
        assert HAPPYHORSE_MODEL in ids
        model = sim_hook.get_model(HAPPYHORSE_MODEL)
        assert model["id"] == HAPPYHORSE_MODEL
        assert {"prompt", "duration", "seed"} <= {p["name"] for p in model["supported_parameters"]}
        prices = {row["resolution"]: row["price_usd"] for row in model["pricing_rows"]}
        assert prices == {"720p": 0.14, "1080p": 0.18}  # the model page's
        with pytest.raises(EmpirioLabsNotFoundError) as info:
            sim_hook.get_model("no-such-model")
        assert info.value.code == "model_not_found"

    def test_account_usage_costs_what_was_estimated(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        before = sim_hook.get_account_usage()
        assert before.events == []
        req = VideoRequest.build(prompt="a horse", resolution="1080p", duration=4)
        job_id = sim_hook.submit_video(req)
        after = sim_hook.get_account_usage()
        assert [e.job_id for e in after.events] == [job_id]
        assert after.events[0].cost_usd == pytest.approx(req.estimated_cost_usd())
        assert after.events[0].cost_usd == pytest.approx(estimate_cost_usd(HAPPYHORSE_MODEL, "1080p", 4))
        assert before.balance_usd is not None
        assert after.balance_usd == pytest.approx(before.balance_usd - 0.72)
        assert sim_hook.get_account_usage(model="wan-2-5").events == []

    def test_upload_file_and_use_it(self, sim: EmpirioLabsSimulator, sim_hook: EmpirioLabsHook) -> None:
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
        uploaded = sim_hook.upload_file(io.BytesIO(png), "horse.png", "image/png")
        assert uploaded.path.startswith("bunny://")
        assert sim.stats()["uploads"] == 1
        job_id = sim_hook.submit_video(VideoRequest.build(prompt="it runs", images=[uploaded.path], duration=3))
        assert wait_for_terminal(sim_hook, job_id).status is JobStatus.SUCCEEDED

    def test_upload_refused_type_is_a_validation_error(self, sim_hook: EmpirioLabsHook) -> None:
        with pytest.raises(EmpirioLabsValidationError) as info:
            sim_hook.upload_file(b"text", "a.txt", "text/plain")
        assert info.value.status_code == 400

    async def test_async_submit_and_poll(self, sim: EmpirioLabsSimulator) -> None:
        hook = EmpirioLabsHook(max_attempts=3)
        try:
            job_id = await hook.asubmit_video(VideoRequest.build(prompt="async horse", duration=3))
            deadline = time.monotonic() + 20
            job = await hook.aget_job(job_id)
            while not job.status.is_terminal():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
                job = await hook.aget_job(job_id)
        finally:
            await hook.aclose()
        assert job.status is JobStatus.SUCCEEDED
        assert job.output_urls
        assert sim.stats()["posts"] == 1

    async def test_async_post_not_retried_after_a_500(self, sim: EmpirioLabsSimulator) -> None:
        sim.configure(fail_next_requests=[{"match": "post", "status": 500}])
        hook = EmpirioLabsHook(max_attempts=3)
        with pytest.raises(EmpirioLabsSubmissionUnknownError):
            await hook.asubmit_video(request())
        await hook.aclose()
        assert sim.stats()["posts"] == 1
