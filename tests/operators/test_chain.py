"""
The chain operator: a long video as links that each extend the one before (real HTTP on the simulator).

Each link is paid once: a crash between links, then a retry, reuses the finished links and never
sends their POSTs again; a bad shot or a chain over its cap is refused before any request.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.operators.chain import EmpirioLabsVideoChainOperator, chain_estimate
from airflow_provider_empiriolabs.sealing import unseal_output_urls
from tests.support import DictStateStore, RecordingTI, event_for, submit_job

SHOTS = [
    {"prompt": "A lighthouse on a cliff at dawn, waves below", "duration": 3},
    {"prompt": "The camera rises over the lighthouse as gulls circle", "duration": 4},
    {"prompt": "Night falls and the lighthouse beam sweeps the sea", "duration": 3},
]


def chain(**kwargs: Any) -> EmpirioLabsVideoChainOperator:
    kwargs.setdefault("task_id", "film")
    kwargs.setdefault("shots", SHOTS)
    kwargs.setdefault("poll_interval", 0.05)
    return EmpirioLabsVideoChainOperator(**kwargs)


def context(store: DictStateStore | None = None) -> Any:
    return {"ti": RecordingTI(), "task_state_store": store if store is not None else DictStateStore()}


def run_deferring(
    make: Callable[[], Any], ctx: Any, on_defer: Callable[[TaskDeferred], None] = lambda deferred: None
) -> tuple[Any, list[str]]:
    """
    Run an operator through its deferrals as Airflow does: a fresh operator per resumption (a new
    process), resumed with the trigger's event and no kwargs (``dag.test()`` drops them), a rate
    limit's wait with none. The result, and the methods it deferred to in order.
    """
    methods: list[str] = []
    call: tuple[str, dict[str, Any]] = ("execute", {})
    while True:
        name, kwargs = call
        try:
            return getattr(make(), name)(ctx, **kwargs), methods
        except TaskDeferred as deferred:
            methods.append(deferred.method_name)
            on_defer(deferred)
            waited = deferred.method_name == "execute_after_rate_limit"  # a timer: no job, no event
            event = {} if waited else {"event": event_for(deferred.trigger.serialize()[1]["job_id"])}
            call = (deferred.method_name, event)


def test_three_links_each_extend_the_one_before(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    summary = chain(max_cost_usd=1.40).execute(context())

    stats = sim.stats()
    assert stats["posts"] == 3 and stats["jobs_created"] == 3
    first, second, third = summary["job_ids"]
    assert stats["extends"] == {second: {"job_id": first}, third: {"job_id": second}}
    assert summary["job_id"] == third and summary["status"] == "completed"
    assert summary["video_seconds"] == 10
    assert summary["estimated_cost_usd"] == pytest.approx(1.40)  # 10 s at 720p, $0.14/s
    assert [link["job_id"] for link in summary["links"]] == [first, second, third]
    assert sim.api_key not in str(summary)
    assert "signature" not in str(summary["output_urls"])  # redacted; the signed ones sealed
    assert unseal_output_urls(summary)[0].startswith("http")  # the chain's summary unseals as a job's does


def test_the_first_link_may_extend_a_stored_video(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    source = {"video_url": "https://videos.example.com/opening.mp4"}
    summary = chain(shots=SHOTS[:2], extend_from=source).execute(context())

    first, second = summary["job_ids"]
    assert sim.stats()["extends"] == {first: source, second: {"job_id": first}}


def test_deferrable_defers_per_link_and_resumes_with_the_next(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    summary, methods = run_deferring(lambda: chain(deferrable=True), context())
    assert methods == ["execute_complete"] * 3
    assert sim.stats()["posts"] == 3
    assert len(summary["job_ids"]) == 3 and summary["status"] == "completed"


def test_a_rate_limited_link_waits_in_the_triggerer_and_the_chain_goes_on_paying_each_link_once(
    empiriolabs_connection: Any,
) -> None:
    sim = empiriolabs_connection

    def on_defer(deferred: TaskDeferred) -> None:
        if deferred.method_name == "execute_after_rate_limit":
            assert type(deferred.trigger).__name__ == "TimeDeltaTrigger"
        elif not sim.stats()["jobs_created"] > 1:  # link 1 is in flight: link 2's POST will be refused
            sim.configure(fail_next_requests=[{"match": "post", "status": 429, "retry_after": 1, "count": 1}])

    summary, methods = run_deferring(
        lambda: chain(deferrable=True, hook_params={"max_attempts": 1}), context(), on_defer
    )
    assert methods == ["execute_complete", "execute_after_rate_limit", "execute_complete", "execute_complete"]
    assert sim.stats()["posts"] == 4 and sim.stats()["jobs_created"] == 3  # the refused POST made nothing
    assert len(summary["job_ids"]) == 3 and summary["status"] == "completed"


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_crash_after_link_k_is_accepted_pays_each_link_once(empiriolabs_connection: Any, k: int) -> None:
    sim = empiriolabs_connection
    store = DictStateStore()
    accepted = 0
    real_save = None

    class Crash(BaseException):
        """The worker dies right after link k's job id was recorded."""

    from airflow_provider_empiriolabs.operators import _job_record

    real_save = _job_record.Ledger.save

    def save(self: Any, state: str, **kwargs: Any) -> None:
        nonlocal accepted
        real_save(self, state, **kwargs)  # type: ignore[arg-type]
        if state == "accepted":
            accepted += 1
            if accepted == k:
                raise Crash

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_job_record.Ledger, "save", save)
        with pytest.raises(Crash):
            chain().execute(context(store))
    assert sim.stats()["posts"] == k
    summary = chain().execute(context(store))  # the retry

    stats = sim.stats()
    assert stats["posts"] == 3 and stats["jobs_created"] == 3  # each link paid exactly once
    assert len(set(summary["job_ids"])) == 3


@pytest.mark.parametrize(
    ("shots", "said"),
    [
        (
            [SHOTS[0], {"prompt": "p", "duration": 20}],
            "shots[1]: Invalid EmpirioLabs request: duration: must be 3 to 15 seconds (got 20)",
        ),
        (
            [SHOTS[0], {"prompt": "p", "resolution": "4k"}],
            "shots[1]: Invalid EmpirioLabs request: resolution: must be one of '720p', '1080p'",
        ),
        ([{"prompt": ""}], "shots[0]: Invalid EmpirioLabs request: prompt: empty"),
        ([SHOTS[0], {"prompt": "p", "model": "wan-2-6"}], "shots[1].model: set by the chain"),
        ([SHOTS[0], {"prompt": "p", "extend_from": {"job_id": "job_1"}}], "shots[1].extend_from: set by the chain"),
        ([SHOTS[0], {"prompt": "p", "lenght": 3}], "shots[1].'lenght': not a request field"),
        ([SHOTS[0], "a prompt"], "shots[1]: must be a mapping"),
        ([], "shots: must be a non-empty list"),
    ],
)
def test_a_bad_shot_is_refused_when_the_dag_is_parsed(shots: list[Any], said: str) -> None:
    with pytest.raises(EmpirioLabsRequestError) as caught:
        chain(shots=shots)
    assert said in str(caught.value)
    assert "film" in str(caught.value)  # the task


def test_the_cap_holds_the_whole_chain() -> None:
    assert chain(max_cost_usd=1.40)  # 10 s at $0.14
    with pytest.raises(EmpirioLabsRequestError) as caught:
        chain(max_cost_usd=1.39)
    said = str(caught.value)
    assert "max_cost_usd: the chain's estimated cost $1.40" in said and "$0.42 + $0.56 + $0.42" in said
    assert "nothing was sent" in said


def test_an_extension_is_priced_as_a_generation_only_inside_the_chain() -> None:
    from airflow_provider_empiriolabs.models import VideoRequest

    link = VideoRequest.build(prompt="p", duration=5, extend_from={"job_id": "job_1"})
    assert link.estimated_cost_usd() is None  # the single request stays unpriced: no published price
    assert chain_estimate([link]) == pytest.approx(0.70)  # the chain's inference: 5 s at $0.14


def test_an_unpriced_link_is_refused_under_a_cap_naming_the_shot() -> None:
    with pytest.raises(EmpirioLabsRequestError) as caught:
        chain(shots=[SHOTS[0], {**SHOTS[1], "template": "dance-loop"}], max_cost_usd=10)
    assert "shots[1]: max_cost_usd: the estimated cost is unknown: template" in str(caught.value)


def test_a_failed_link_fails_the_chain_without_sending_the_next(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    shots = [SHOTS[0], {"prompt": "A lighthouse SIMULATE_CONTENT_POLICY", "duration": 3}, SHOTS[2]]
    with pytest.raises(AirflowFailException):
        chain(shots=shots).execute(context())
    assert sim.stats()["posts"] == 2


def test_a_resumed_job_that_no_record_names_sends_nothing(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    stray = submit_job()  # a job the trigger waited for, whose record was deleted since
    event = event_for(stray)
    with pytest.raises(AirflowFailException) as caught:  # final: no retry could know more
        chain(deferrable=True).execute_complete(context(), event)
    assert "no link's job record names" in str(caught.value)
    assert sim.stats()["posts"] == 1  # the stray job alone


def test_a_deferred_chain_without_a_state_store_resumes_nothing(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    event = event_for(submit_job())
    with pytest.raises(AirflowException, match="no task state store"):
        chain(deferrable=True).execute_complete({"ti": RecordingTI(), "task_state_store": None}, event)
    assert sim.stats()["posts"] == 1


def test_a_templated_shot_is_checked_once_rendered_before_any_request(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    operator = chain(shots=[SHOTS[0], {"prompt": "p", "duration": "{{ params.seconds }}"}])  # not checkable yet
    operator.shots = [SHOTS[0], {"prompt": "p", "duration": "20"}]  # as rendered
    with pytest.raises(AirflowFailException) as caught:
        operator.execute(context())
    assert "shots[1]: Invalid EmpirioLabs request: duration: must be 3 to 15 seconds (got 20)" in str(caught.value)
    assert sim.stats()["requests_total"] == 0


def test_a_templated_shot_with_an_unknown_field_is_refused_when_parsed() -> None:
    with pytest.raises(EmpirioLabsRequestError, match=r"shots\[0\]\.'durration': not a request field"):
        chain(shots=[{"prompt": "{{ params.prompt }}", "durration": 5}])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=3, max_value=15), st.sampled_from(["720p", "1080p"])), min_size=1, max_size=6
    ),
    st.floats(min_value=0, max_value=20),
)
def test_the_cap_refuses_exactly_the_chains_whose_sum_exceeds_it(shots: list[tuple[float, str]], cap: float) -> None:
    rate = {"720p": 0.14, "1080p": 0.18}
    total = sum(rate[resolution] * math.ceil(seconds) for seconds, resolution in shots)
    storyboard = [{"prompt": f"shot {n}", "duration": s, "resolution": r} for n, (s, r) in enumerate(shots)]
    try:
        chain(shots=storyboard, max_cost_usd=cap)
    except EmpirioLabsRequestError as error:
        assert total > cap - 1e-6, (total, cap, str(error))
        assert f"the chain's estimated cost ${total:.2f}" in str(error)
    else:
        assert total <= cap + 1e-6, (total, cap)


def test_after_a_clear_a_changed_shot_pays_from_that_shot_on(empiriolabs_connection: Any) -> None:
    sim = empiriolabs_connection
    store = DictStateStore()

    def run(shots: list[dict[str, Any]], clears: int) -> dict[str, Any]:
        ctx = context(store)
        ctx["ti"].max_tries = clears  # each clear adds the task's retries + 1 to max_tries: a new generation
        return chain(shots=shots).execute(ctx)

    before = run(SHOTS, 0)
    same = run(SHOTS, 1)  # cleared, nothing changed: the same film, unpaid
    assert same["job_ids"] == before["job_ids"] and sim.stats()["posts"] == 3
    changed = [SHOTS[0], {**SHOTS[1], "prompt": "The camera dives toward the rocks"}, SHOTS[2]]
    after = run(changed, 2)

    assert sim.stats()["posts"] == 5  # shots 2 and 3 again; shot 1 kept
    assert after["job_ids"][0] == before["job_ids"][0]
    assert not set(after["job_ids"][1:]) & set(before["job_ids"])


@pytest.mark.parametrize(("model", "per_link"), [("kling-3-0-turbo", 0.90), ("wan-2-6", 0.69), ("pixverse-v5-6", 0.75)])
def test_other_models_chains_are_priced_by_their_specs(model: str, per_link: float) -> None:
    shots = [{"prompt": f"shot {n}", "duration": 5} for n in range(3)]
    assert chain(shots=shots, model=model, max_cost_usd=3 * per_link + 0.001)
    with pytest.raises(EmpirioLabsRequestError, match=rf"the chain's estimated cost \${3 * per_link:.2f}"):
        chain(shots=shots, model=model, max_cost_usd=3 * per_link - 0.01)
