"""The view's HTML builders: the spend chart's geometry and escaping (pure functions, no server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_empiriolabs.ui.pages import bar_chart_svg, daily, run_page
from airflow_provider_empiriolabs.ui.records import VideoRecord


def _bars(svg: str) -> dict[str, float]:
    return {
        m[0]: float(m[1])
        for m in re.findall(
            r'data-label="([^"]+)" data-usd="[^"]+" x="[^"]+" y="[^"]+" '
            r'width="[^"]+" height="([^"]+)"',
            svg,
        )
    }


def test_daily_fills_the_days_between_and_keeps_the_last_month() -> None:
    assert daily({"2026-11-01": 1.0, "2026-11-03": 2.0}) == {"2026-11-01": 1.0, "2026-11-02": 0.0, "2026-11-03": 2.0}
    long = daily({"2026-01-01": 5.0, "2026-11-29": 1.0})
    assert len(long) == 31 and list(long)[-1] == "2026-11-29" and "2026-01-01" not in long


def test_bar_heights_are_proportional_to_the_cost() -> None:
    svg = bar_chart_svg({"2026-11-01": 0.70, "2026-11-02": 0.0, "2026-11-03": 1.40}, height=220)

    bars = _bars(svg)
    assert bars["2026-11-02"] == 0
    assert bars["2026-11-03"] == pytest.approx(2 * bars["2026-11-01"], rel=0.01)
    assert bars["2026-11-03"] == pytest.approx(220 - 36 - 16)  # the whole plot height


def test_the_run_page_escapes_what_the_user_wrote() -> None:
    record = VideoRecord(
        "d", "r", "t", -1, "job_1", request={"prompt": "<script>alert(1)</script>", "model": "m"}, summary=None
    )

    page = run_page("<b>title</b>", [record], lambda r, i: f"/empiriolabs/media/{i}", "none")

    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>title</b>" not in page


def test_the_spend_page_lists_jobs_in_flight_with_their_progress() -> None:
    from airflow_provider_empiriolabs.ui.pages import spend_page
    from airflow_provider_empiriolabs.ui.records import SpendSummary

    flying = VideoRecord("d", "r", "t", -1, "job_9", request={"estimated_cost_usd": 0.7}, state="deferred")
    summary = SpendSummary(per_dag={"d": 1.4}, per_day={"2026-11-29": 1.4}, jobs=2, in_flight=[flying])

    page = spend_page(
        summary, {"job_9": 0.45}, {"conn_id": "c", "balance_usd": 12.5}, lambda r: "/empiriolabs/runs/d/r"
    )

    assert 'data-job-id="job_9"' in page and "45%" in page and "deferred" in page
    assert '<meta http-equiv="refresh" content="30">' in page  # reloads while jobs are in flight
    assert '<b id="balance" class="num">$12.50</b>' in page and '<b id="total" class="num">$1.40</b>' in page


def test_progress_is_read_from_the_api_server_side(empiriolabs_connection: object) -> None:
    from airflow_provider_empiriolabs.ui import app as view_app
    from tests.support import submit_job

    view_app._cache.clear()
    job_id = submit_job()
    known = VideoRecord("d", "r", "t", -1, job_id, state="deferred")
    unknown = VideoRecord("d", "r", "t2", -1, "job_does_not_exist", state="deferred")

    progress = view_app._progress([known, unknown])

    assert isinstance(progress[job_id], float) and 0.0 <= progress[job_id] <= 1.0
    assert progress["job_does_not_exist"] is None  # a failed poll is "unknown", never an error page


def test_a_stored_object_is_served_whole_or_by_range_with_its_type(tmp_path: Path) -> None:
    from airflow_provider_empiriolabs.ui.media import open_media

    data = bytes(range(256)) * 4
    (tmp_path / "0.png").write_bytes(data)
    record = VideoRecord("d", "r", "t", -1, "job_1", stored={0: [f"file://{tmp_path}/0.png"]})

    whole = open_media(record, 0)
    head = open_media(record, 0, "bytes=0-9")
    tail = open_media(record, 0, "bytes=-10")

    assert (whole.status, whole.headers["Content-Type"], b"".join(whole.body)) == (200, "image/png", data)
    assert (head.status, head.headers["Content-Range"], b"".join(head.body)) == (206, "bytes 0-9/1024", data[:10])
    assert (tail.status, b"".join(tail.body)) == (206, data[-10:])


def test_a_video_with_no_copy_and_no_url_is_unavailable_without_a_secret() -> None:
    from airflow_provider_empiriolabs.ui.media import MediaUnavailable, open_media

    record = VideoRecord("d", "r", "t", -1, "job_1", stored={0: ["file:///nonexistent/0.mp4"]})

    with pytest.raises(MediaUnavailable, match="output 0 of job job_1 cannot be read"):
        open_media(record, 0)
