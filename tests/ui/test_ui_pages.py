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


def test_a_stored_video_is_served_whole_or_by_range_as_its_container_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_empiriolabs.testing.video import sample_video_bytes
    from airflow_provider_empiriolabs.ui.media import open_media

    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{tmp_path}/")
    data = sample_video_bytes()
    (tmp_path / "0.html").write_bytes(data)  # the name says HTML: the bytes say MP4
    record = VideoRecord("d", "r", "t", -1, "job_1", stored={0: [f"file://{tmp_path}/0.html"]})

    whole = open_media(record, 0)
    head = open_media(record, 0, "bytes=0-9")
    tail = open_media(record, 0, "bytes=-10")

    assert (whole.status, whole.headers["Content-Type"], b"".join(whole.body)) == (200, "video/mp4", data)
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert whole.headers["Content-Disposition"] == 'inline; filename="job_1-0.mp4"'
    assert (head.status, head.headers["Content-Range"], b"".join(head.body)) == (
        206,
        f"bytes 0-9/{len(data)}",
        data[:10],
    )
    assert (tail.status, b"".join(tail.body)) == (206, data[-10:])


@pytest.mark.parametrize(
    "content",
    [
        b"<html><script>alert(document.cookie)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script/>',
        b"\x89PNG\r\n\x1a\n" + bytes(64),
    ],
    ids=["html", "svg", "png"],
)
def test_a_stored_object_that_is_no_video_is_never_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    from airflow_provider_empiriolabs.ui.media import MediaUnavailable, open_media

    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{tmp_path}/")
    (tmp_path / "0.mp4").write_bytes(content)
    record = VideoRecord("d", "r", "t", -1, "job_1", stored={0: [f"file://{tmp_path}/0.mp4"]})

    with pytest.raises(MediaUnavailable, match="not a video"):
        open_media(record, 0)


@pytest.mark.parametrize(
    ("prefix", "uri", "allowed"),
    [
        ("file:///srv/videos/", "file:///srv/videos/job/0.mp4", True),
        ("file:///srv/videos", "file:///srv/videos/job/0.mp4", True),
        ("file:///srv/videos/", "file:///srv/videos-private/0.mp4", False),
        ("file:///srv/videos", "file:///srv/videos-private/0.mp4", False),
        ("file:///srv/videos/", "file:///srv/videos/../../etc/airflow.cfg", False),
        ("file:///srv/videos/", "file:///srv/videos/%2e%2e/airflow.cfg", False),
        ("file:///srv/videos/", "file:///srv/videos/a.mp4?x=1", False),
        ("s3://bucket/pub/", "s3://bucket/pub/a.mp4", True),
        ("s3://bucket/pub/", "s3://other/pub/a.mp4", False),
        ("s3://bucket/pub/", "gs://bucket/pub/a.mp4", False),
        ("/srv/videos/", "file:///srv/videos/a.mp4", False),
        ("", "file:///srv/videos/a.mp4", False),
    ],
)
def test_only_uris_under_an_allowed_prefix_are_read(prefix: str, uri: str, allowed: bool) -> None:
    from airflow_provider_empiriolabs.ui.media import is_allowed_storage

    assert is_allowed_storage(uri, (prefix,)) is allowed


def test_nothing_stored_is_read_when_no_storage_is_allowed(tmp_path: Path) -> None:
    from airflow_provider_empiriolabs.testing.video import sample_video_bytes
    from airflow_provider_empiriolabs.ui.media import MediaUnavailable, allowed_storage, open_media

    (tmp_path / "0.mp4").write_bytes(sample_video_bytes())
    record = VideoRecord("d", "r", "t", -1, "job_1", stored={0: [f"file://{tmp_path}/0.mp4"]})

    assert allowed_storage() == ()  # the default
    with pytest.raises(MediaUnavailable, match="not under \\[empiriolabs\\] view_allowed_storage"):
        open_media(record, 0)


def test_a_video_with_no_copy_and_no_url_is_unavailable_without_a_secret() -> None:
    from airflow_provider_empiriolabs.ui.media import MediaUnavailable, open_media

    record = VideoRecord("d", "r", "t", -1, "job_1", stored={0: ["file:///nonexistent/0.mp4"]})

    with pytest.raises(MediaUnavailable, match="output 0 of job job_1 cannot be read"):
        open_media(record, 0)


def test_an_i2v_input_image_is_a_link_the_browser_opens_itself_never_fetched_by_the_server() -> None:
    images = ["https://assets.example.com/stills/horse.png", "javascript:alert(1)"]
    record = VideoRecord("d", "r", "t", -1, "job_1", request={"prompt": "p", "images": images}, summary=None)

    page = run_page("t", [record], lambda r, i: f"/empiriolabs/media/{i}", "none")

    link = '<a href="https://assets.example.com/stills/horse.png" target="_blank" rel="noopener noreferrer">'
    assert "<th>Input images</th>" in page and link in page
    assert 'href="javascript:' not in page and "<code>javascript:alert(1)</code>" in page
    assert "<img" not in page  # the view serves only video: the image is never embedded


def test_a_stored_copy_the_view_may_not_stream_is_named_with_why() -> None:
    record = VideoRecord("d", "r", "t", -1, "job_1", stored={0: ["s3://b/k/0.mp4"]}, summary={"job_id": "job_1"})

    shown = run_page("t", [record], lambda r, i: f"/m/{i}", "none", streamed=lambda uri: False)
    allowed = run_page("t", [record], lambda r, i: f"/m/{i}", "none", streamed=lambda uri: True)

    assert "<code>s3://b/k/0.mp4</code>" in shown and "view_allowed_storage" in shown
    assert "<code>s3://b/k/0.mp4</code>" in allowed and "view_allowed_storage" not in allowed
