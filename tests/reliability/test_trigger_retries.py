"""
The trigger is the retry loop of a deferred wait: the hook's own retries must not run inside it.

Found by the fault matrix (case ``5xx-burst-poll``): with ``hook_params={"max_attempts": 3}`` on
the operator, each poll in the triggerer retried inside the hook with its own backoff (1 to 60 s
per retry, deaf to the deadline), so a burst of errors stretched the wait and a persistent one
could hold the trigger far past ``timeout``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.support import afirst_event, submit_job


async def test_the_deadline_holds_whatever_the_hook_params_say(empiriolabs_connection: Any) -> None:
    from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger

    sim = empiriolabs_connection
    job_id = await asyncio.to_thread(submit_job, duration=15)
    sim.configure(fail_next_requests=[{"match": "poll", "status": 503, "count": 1000}])
    trigger = EmpirioLabsJobTrigger(
        job_id=job_id,
        poll_interval=0.2,
        end_time=time.time() + 1.0,
        hook_params={"max_attempts": 6},  # what a user sets for the worker's calls
    )

    # A guard against hanging, not a speed check: six hook attempts would back off 1 + 2 + 4 + 8 + 16 s.
    event = await afirst_event(trigger, limit_seconds=15)

    assert event["status"] == "timeout"
    assert job_id in event["message"]
    assert sim.stats()["posts"] == 1  # the trigger only reads
