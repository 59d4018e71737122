"""The view's HTML builders: the spend chart's geometry and escaping (pure functions, no server)."""

from __future__ import annotations

import re

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
