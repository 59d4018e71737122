"""The poll planner on scripted progress curves: when it polls, and how often."""

from __future__ import annotations

import pytest

from airflow_provider_empiriolabs.triggers.polling import PollPlanner


def polls_until_done(planner: PollPlanner, progress_at: dict[str, float], *, start: float = 0.0) -> list[float]:
    """Run the planner against a job whose progress is a function of time; return the poll times."""
    render_start, render_end = progress_at["start"], progress_at["end"]

    def progress(t: float) -> float | None:
        if t < render_start:
            return None
        return min((t - render_start) / (render_end - render_start), 1.0)

    now = start + planner.first_delay(start)
    polls = []
    for _ in range(200):
        polls.append(now)
        if now >= render_end:
            return polls
        now += planner.next_delay(now, progress(now))
    raise AssertionError("the planner never saw the job finish")


def test_a_linear_render_is_found_in_a_few_polls_with_little_lag() -> None:
    # Queued 5 s, then 45 s of rendering; expected end 50 s; bound 60 s.
    planner = PollPlanner(poll_interval=60, expected_done_at=50)
    polls = polls_until_done(planner, {"start": 5, "end": 50})
    assert len(polls) <= 3
    assert polls[-1] - 50 <= 5  # detection lag at most 10 % of the render


def test_a_render_longer_than_expected_is_followed_by_its_progress() -> None:
    # Expected at 50 s, actually ends at 150 s: the progress rate takes over from the guess.
    planner = PollPlanner(poll_interval=60, expected_done_at=50)
    polls = polls_until_done(planner, {"start": 10, "end": 150})
    assert len(polls) <= 5
    assert polls[-1] - 150 <= 15


def test_a_5_second_poller_would_need_three_times_as_many_requests() -> None:
    planner = PollPlanner(poll_interval=60, expected_done_at=50)
    polls = polls_until_done(planner, {"start": 5, "end": 50})
    fixed_5s = 50 // 5 + 1
    assert len(polls) * 3 <= fixed_5s


def test_never_waits_longer_than_poll_interval() -> None:
    planner = PollPlanner(poll_interval=10, expected_done_at=1000)
    assert planner.first_delay(0) == 10
    assert planner.next_delay(10, 0.01) <= 10
    assert planner.next_delay(20, 0.02) <= 10  # an ETA of ~1000 s is still capped


def test_a_render_faster_than_expected_is_found_soon_after_it_ends() -> None:
    # Expected at 100 s, actually ends at 80 s: polling at the expected end would lag 20 s (25 %).
    planner = PollPlanner(poll_interval=60, expected_done_at=100)
    polls = polls_until_done(planner, {"start": 8, "end": 80})
    assert len(polls) <= 4
    assert polls[-1] - 80 <= 8  # at most 10 % of the render


def test_backs_off_while_nothing_moves() -> None:
    planner = PollPlanner(poll_interval=60)
    first = planner.next_delay(0, 0.5)
    second = planner.next_delay(first, 0.5)
    third = planner.next_delay(first + second, 0.5)
    assert first < second < third <= 60


def test_without_progress_or_expectation_it_backs_off_from_the_minimum() -> None:
    planner = PollPlanner(poll_interval=60)
    delays = [planner.next_delay(t, None) for t in range(6)]
    assert delays[0] == pytest.approx(2.0)
    assert delays == sorted(delays)
    assert delays[-1] == 60


def test_a_failed_poll_backs_off_within_the_bounds() -> None:
    planner = PollPlanner(poll_interval=60)
    waits = [planner.backoff() for _ in range(8)]
    assert waits[0] == pytest.approx(4.0)
    assert max(waits) == 60


def test_the_first_poll_comes_before_the_expected_end_but_not_past_the_bound() -> None:
    # Three quarters of the expected time left: a faster render is still running, its progress times the rest.
    assert PollPlanner(poll_interval=60, expected_done_at=130).first_delay(100) == 22.5
    assert PollPlanner(poll_interval=60, expected_done_at=90).first_delay(100) == 0
    assert PollPlanner(poll_interval=60, expected_done_at=500).first_delay(100) == 60
