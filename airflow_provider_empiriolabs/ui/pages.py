"""
The view's HTML: server-rendered, self-contained (inline CSS and SVG, no script, no CDN).

The browser may have no internet and the page lives in Airflow's sandboxed iframe, so nothing is
fetched but the plugin's own media URLs. Every value is escaped; no URL here carries a signature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from html import escape
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_empiriolabs.models import displayed_parameters
from airflow_provider_empiriolabs.ui.records import SpendSummary, VideoRecord

__all__ = ["bar_chart_svg", "daily", "render_page", "run_page", "spend_page"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#1a202c;background:#fff}
h1{font-size:1.3rem;margin:0 0 12px} h2{font-size:1.05rem;margin:18px 0 8px}
.card{border:1px solid #e2e8f0;border-radius:8px;padding:12px;margin:0 0 16px;display:flex;gap:16px;flex-wrap:wrap}
.card table{flex:1 1 340px} .media{flex:0 1 440px;max-width:100%}
video,img{width:100%;border-radius:6px;background:#000}
table{border-collapse:collapse;font-size:.9rem}
th{text-align:left;color:#4a5568;padding:3px 12px 3px 0;vertical-align:top}
td{padding:3px 12px 3px 0;vertical-align:top;word-break:break-word} .muted{color:#718096}
.num{font-variant-numeric:tabular-nums} .bar{height:10px;background:#805ad5;border-radius:3px}
.progress{width:160px;height:10px;background:#e2e8f0;border-radius:3px;overflow:hidden}
.kpi{display:inline-block;margin:0 24px 8px 0} .kpi b{display:block;font-size:1.4rem}
"""


def render_page(title: str, body: str, *, refresh_seconds: int | None = None) -> str:
    """
    A whole HTML document around ``body``.

    :param title: the page title (escaped here).
    :param body: HTML already escaped by its builder.
    :param refresh_seconds: reload the page this often (the spend page, for jobs in flight).
    """
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )


#: What the view says of a cost, by where it comes from (``VideoRecord.cost_source``).
_SOURCE_LABELS = {
    "usage": "debited, from the account's usage",
    "job": "as the job reported it",
    "estimate": "estimate: no usage event matched",
}


def _source(record: VideoRecord) -> str:
    label = _SOURCE_LABELS.get(record.cost_source or "")
    return f' <span class="muted" data-field="cost-source">({escape(label)})</span>' if label else ""


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _link(uri: str) -> str:
    """A URI as the page shows it: a link the browser opens itself when http(s), else text.

    The API server never fetches it: a request's image (its query redacted when signed) or a
    stored copy the view does not stream.
    """
    text = f"<code>{escape(uri)}</code>"
    if urlsplit(uri).scheme.lower() in ("http", "https"):
        return f'<a href="{escape(uri)}" target="_blank" rel="noopener noreferrer">{text}</a>'
    return text


def _stored_row(record: VideoRecord, streamed: Callable[[str], bool]) -> str:
    rows = []
    for uris in record.stored.values():
        for uri in uris:
            note = (
                ""
                if streamed(uri)
                else ' <span class="muted">(not streamed by the view: its location is not in the '
                "administrator's [empiriolabs] view_allowed_storage)</span>"
            )
            rows.append(_link(uri) + note)
    return "<br>".join(rows) or (
        '<span class="muted">not stored yet (played from the API\'s output URL, valid 7 days)</span>'
    )


def _field_rows(record: VideoRecord, streamed: Callable[[str], bool]) -> list[tuple[str, str]]:
    request = record.request
    summary = record.summary or {}
    params = {
        name: request.get(name)
        for name in displayed_parameters()  # from the request model: FieldUse(displayed=True)
        if request.get(name) is not None
    }
    extra = request.get("extra_params") or {}
    if isinstance(extra, Mapping):
        params.update(extra)
    seconds = summary.get("video_seconds")
    images = [str(i) for i in request.get("images") or [] if isinstance(i, str)]
    image_row = [("Input image" if len(images) == 1 else "Input images", "<br>".join(map(_link, images)))]
    return [
        ("Prompt", escape(str(request.get("prompt") or "(not recorded)"))),
        ("Model", escape(str(request.get("model") or "(not recorded)"))),
        ("Parameters", escape(", ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)")),
        *(image_row if images else []),
        ("Seed", escape(str(request.get("seed")) if request.get("seed") is not None else "random")),
        ("Job id", f"<code>{escape(record.job_id)}</code>"),
        ("Status", escape(str(summary.get("status") or record.state or "in flight"))),
        ("Images", escape(str(summary.get("image_count", "unknown"))))
        if summary.get("media") == "image"  # an image job: its count of images, not seconds of video
        else ("Duration", escape(f"{seconds:g} s" if isinstance(seconds, (int, float)) else "unknown")),
        ("Estimated cost", f'<span class="num" data-field="estimated">{_usd(record.estimated_cost_usd)}</span>'),
        ("Actual cost", f'<span class="num" data-field="actual">{_usd(record.cost_usd)}</span>{_source(record)}'),
        ("Stored at", _stored_row(record, streamed)),
        ("Task", escape(f"{record.task_id}" + (f" [{record.map_index}]" if record.map_index >= 0 else ""))),
    ]


def _media_tag(src: str, image: bool = False) -> str:
    if image:  # an image job's output: served with its verified image type, like a video
        return f'<img src="{escape(src)}" alt="" loading="lazy">'
    return f'<video src="{escape(src)}" controls muted autoplay loop playsinline preload="auto"></video>'


def run_page(
    title: str,
    records: Sequence[VideoRecord],
    media_url: Callable[[VideoRecord, int], str],
    empty: str,
    links: Mapping[str, str] | None = None,
    streamed: Callable[[str], bool] = lambda uri: True,
) -> str:
    """
    The videos a DAG run (or one task instance) made, each playable, with what it was and cost.

    :param title: the heading.
    :param records: the jobs to show.
    :param media_url: the plugin's own URL of a job's output (never a signed URL).
    :param empty: what to say when there is no job.
    :param links: text -> URL of pages to go on to (the run in Airflow, the spend page), opened in
        the whole window rather than in Airflow's frame.
    :param streamed: whether the view streams a stored copy's URI (the administrator allowed its
        location); the others are only named.
    """
    cards = []
    for record in records:
        image = (record.summary or {}).get("media") == "image"
        media = "".join(_media_tag(media_url(record, index), image) for index in range(record.outputs))
        if not media:
            media = f'<p class="muted">No video yet: the task is {escape(str(record.state or "waiting"))}.</p>'
        rows = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in _field_rows(record, streamed))
        cards.append(
            f'<section class="card" data-job-id="{escape(record.job_id)}"><div class="media">{media}</div>'
            f"<table>{rows}</table></section>"
        )
    total = sum(r.cost_usd or 0.0 for r in records)
    nav = " · ".join(f'<a href="{escape(url)}" target="_top">{escape(text)}</a>' for text, url in (links or {}).items())
    head = f"<h1>{escape(title)}</h1>" + (f'<p class="muted">{nav}</p>' if nav else "")
    if not cards:
        return render_page(title, f'{head}<p class="muted">{escape(empty)}</p>')
    count = f'<p class="muted">{len(records)} job(s), actual cost {_usd(total)}</p>'
    return render_page(title, head + count + "".join(cards))


def daily(per_day: Mapping[str, float], max_days: int = 31) -> dict[str, float]:
    """
    Every day from the first to the last with spend (at most the last ``max_days``), 0 where none.

    :param per_day: USD per ``YYYY-MM-DD``.
    :param max_days: the longest span shown.
    """
    days = sorted(date.fromisoformat(day) for day in per_day)
    first = max(days[0], days[-1] - timedelta(days=max_days - 1))
    span = (days[-1] - first).days + 1
    return {str(first + timedelta(days=n)): per_day.get(str(first + timedelta(days=n)), 0.0) for n in range(span)}


def bar_chart_svg(values: Mapping[str, float], *, width: int = 640, height: int = 220) -> str:
    """
    A bar chart of USD per label (days), as inline SVG: one ``rect`` per label, with its value.

    :param values: label -> USD, in display order.
    :param width: the SVG's width in pixels.
    :param height: the SVG's height in pixels.
    """
    labels = list(values)
    top = max(values.values(), default=0.0) or 1.0
    pad_left, pad_bottom, pad_top = 48, 36, 16
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    slot = plot_w / max(len(labels), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Cost per day" id="spend-chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 8}" y2="{pad_top + plot_h}" stroke="#a0aec0"/>',
        f'<text x="4" y="{pad_top + 4}" font-size="11" fill="#4a5568">${top:,.2f}</text>',
        f'<text x="4" y="{pad_top + plot_h}" font-size="11" fill="#4a5568">$0</text>',
    ]
    bar_w = min(slot * 0.7, 56.0)
    every = max(len(labels) // 8, 1)  # at most about 8 date labels under the axis
    for i, label in enumerate(labels):
        value = values[label]
        bar_h = plot_h * value / top if value > 0 else 0.0
        middle = pad_left + (i + 0.5) * slot
        y = pad_top + plot_h - bar_h
        parts.append(
            f'<rect class="day-bar" data-label="{escape(label)}" data-usd="{value:.4f}" x="{middle - bar_w / 2:.1f}" '
            f'y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" fill="#805ad5"><title>{escape(label)}: '
            f"${value:,.2f}</title></rect>"
        )
        if value > 0 and len(labels) <= 12:
            parts.append(
                f'<text x="{middle:.1f}" y="{y - 4:.1f}" font-size="11" text-anchor="middle" fill="#1a202c">'
                f"${value:,.2f}</text>"
            )
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text x="{middle:.1f}" y="{height - 20}" font-size="11" text-anchor="middle" '
                f'fill="#4a5568">{escape(label[5:] if len(labels) > 6 else label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def spend_page(
    summary: SpendSummary,
    progress: Mapping[str, float | None],
    balance: Mapping[str, Any],
    run_url: Callable[[VideoRecord], str],
) -> str:
    """
    The spend page: balance, total, cost per day (chart) and per DAG, jobs in flight.

    :param summary: from :func:`~airflow_provider_empiriolabs.ui.records.spend_summary`.
    :param progress: job id -> progress (0 to 1) the API reported, ``None`` when unknown.
    :param balance: ``balance_usd`` and ``conn_id``, or ``error`` (text without secrets).
    :param run_url: the view's page of a job's DAG run.
    """
    if balance.get("error"):
        balance_html = f'<span class="muted" id="balance">unavailable ({escape(str(balance["error"]))})</span>'
    else:
        balance_html = f'<b id="balance" class="num">{_usd(balance.get("balance_usd"))}</b>'
    kpis = (
        f'<div class="kpi">Account balance ({escape(str(balance.get("conn_id", "")))}){balance_html}</div>'
        f'<div class="kpi">Spent through your DAGs<b id="total" class="num">{_usd(summary.total_usd)}</b></div>'
        f'<div class="kpi">Finished jobs<b class="num">{summary.jobs}</b></div>'
    )
    chart = bar_chart_svg(daily(summary.per_day)) if summary.per_day else '<p class="muted">No finished job yet.</p>'
    top = max(summary.per_dag.values(), default=0.0) or 1.0
    dag_rows = "".join(
        f'<tr data-dag-id="{escape(dag_id)}"><td>{escape(dag_id)}</td><td class="num">{_usd(usd)}</td>'
        f'<td><div class="bar" style="width:{max(200 * usd / top, 2):.0f}px"></div></td></tr>'
        for dag_id, usd in summary.per_dag.items()
    )
    flight_rows = []
    for record in summary.in_flight:
        fraction = progress.get(record.job_id)
        bar = (
            f'<div class="progress"><div class="bar" style="width:{fraction * 100:.0f}%"></div></div> {fraction:.0%}'
            if fraction is not None
            else '<span class="muted">unknown</span>'
        )
        flight_rows.append(
            f'<tr data-job-id="{escape(record.job_id)}"><td><a href="{escape(run_url(record))}">'
            f"{escape(record.dag_id)} / {escape(record.task_id)}</a></td><td><code>{escape(record.job_id)}</code></td>"
            f'<td>{escape(str(record.state))}</td><td>{bar}</td><td class="num">'
            f"{_usd(record.estimated_cost_usd)}</td></tr>"
        )
    flights = (
        "<table><tr><th>Task</th><th>Job</th><th>State</th><th>Progress</th><th>Estimate</th></tr>"
        + "".join(flight_rows)
        + "</table>"
        if flight_rows
        else '<p class="muted">No job in flight.</p>'
    )
    unpriced = (
        f'<p class="muted">{summary.unpriced} finished job(s) with no known cost.</p>' if summary.unpriced else ""
    ) + (
        f'<p class="muted" id="estimated">{summary.estimated} finished job(s) counted at their estimate '
        f"({_usd(summary.estimated_usd)}): no usage event of the account matched them.</p>"
        if summary.estimated
        else ""
    )
    body = (
        f"<h1>EmpirioLabs spend</h1>{kpis}<h2>Cost per day (UTC)</h2>{chart}{unpriced}"
        f'<h2>Cost per DAG</h2><table id="per-dag">{dag_rows}</table>'
        f"<h2>Jobs in flight</h2>{flights}"
    )
    return render_page("EmpirioLabs spend", body, refresh_seconds=30 if summary.in_flight else None)
