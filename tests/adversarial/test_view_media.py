"""
The EmpirioLabs view against a hostile output host: only video leaves the API server, every wait
ends, and no number of slow hosts holds Airflow's shared thread pool.

The view's app runs over real HTTP on 127.0.0.1 (uvicorn, mounted at ``/empiriolabs``); the job's
sealed output URL points at a misbehaving ``http.server`` (``tests/transfers/hostile_server``)
that answers HTML, SVG, lies about its type or length, or drips its headers. The job's record is
the only stand-in (the database reads are ``test_view_forgery``'s and ``tests/ui``' subject).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from airflow_provider_empiriolabs.hooks.empiriolabs import user_agent
from airflow_provider_empiriolabs.sealing import seal_summary
from airflow_provider_empiriolabs.testing.video import sample_video_bytes
from airflow_provider_empiriolabs.ui.records import VideoRecord
from tests.adversarial.support import KEY
from tests.transfers.hostile_server import HostileServer, body, drip, hostile_server
from tests.ui.view_server import StandInAuthManager, serve_view

pytestmark = pytest.mark.usefixtures("airflow_db")

VIDEO = sample_video_bytes()
MEDIA = "/media/d/r/generate/-1/0"
HTML = b"<html><body><script>fetch('/api/v2/connections').then(r=>r.text()).then(alert)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>'


@pytest.fixture
def host() -> Iterator[HostileServer]:
    with hostile_server() as server:
        yield server


def _record(host: HostileServer) -> VideoRecord:
    summary = {"job_id": "job_hostile", "status": "completed", "output_urls": [host.url("/v")], "cost_usd": 0.7}
    return VideoRecord("d", "r", "generate", -1, "job_hostile", request={}, summary=seal_summary(summary, KEY))


@pytest.fixture
def view(host: HostileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """The view over HTTP, signed in, its one job's output URL on the hostile host."""
    from airflow_provider_empiriolabs.ui import app as view_app

    conn = {
        "conn_type": "empiriolabs",
        "host": f"http://127.0.0.1:{host.port}",
        "password": KEY,
        "extra": {"allow_private_output_hosts": True, "timeout": 5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", json.dumps(conn))
    record = _record(host)
    monkeypatch.setattr(view_app, "_records", lambda *args, **kwargs: [record])
    auth = {"Authorization": "Bearer admin-token"}
    with (
        serve_view(monkeypatch, StandInAuthManager({"d"})) as url,
        httpx.Client(base_url=url, headers=auth, timeout=60) as client,
    ):
        yield client


def _assert_safe(resp: httpx.Response) -> None:
    """Whatever the answer: not a page, not sniffable, nothing that runs."""
    kind = resp.headers.get("content-type", "")
    assert not kind.startswith(("text/html", "image/svg", "text/xml", "application/xhtml")), kind
    assert resp.headers.get("x-content-type-options") == "nosniff"
    assert "default-src 'none'" in resp.headers.get("content-security-policy", "")
    assert b"<script" not in resp.content and b"<svg" not in resp.content


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/html", HTML),
        ("image/svg+xml", SVG),
        ("video/mp4", HTML),  # the type lies
        ("application/octet-stream", SVG),  # the type allows anything
        ("text/html", VIDEO),  # a video, but the transfer would refuse this type too
    ],
    ids=["html", "svg", "html-as-mp4", "svg-as-octet-stream", "video-as-html"],
)
def test_an_output_host_answering_no_video_gets_nothing_sent(
    view: httpx.Client, host: HostileServer, content_type: str, content: bytes
) -> None:
    host.routes["/v"] = body(content, content_type)

    resp = view.get(MEDIA)

    assert resp.status_code == 404, (resp.status_code, resp.headers)
    _assert_safe(resp)
    assert "signature=s3cr3t" not in resp.text and KEY not in resp.text


def test_a_video_is_sent_as_its_container_says_with_safe_headers_and_the_providers_user_agent(
    view: httpx.Client, host: HostileServer
) -> None:
    host.routes["/v"] = body(VIDEO, "application/octet-stream")

    resp = view.get(MEDIA)

    assert resp.status_code == 200 and resp.content == VIDEO
    assert resp.headers["content-type"] == "video/mp4"
    assert "sandbox" in resp.headers["content-security-policy"]
    assert resp.headers["content-disposition"] == 'inline; filename="job_hostile-0.mp4"'
    _assert_safe(resp)
    assert [seen.headers.get("user-agent") for seen in host.seen] == [user_agent()]


def test_a_ranged_answer_is_sent_only_after_the_outputs_first_bytes_were_checked(
    view: httpx.Client, host: HostileServer
) -> None:
    def ranged(handler: BaseHTTPRequestHandler) -> None:  # honours Range over an HTML body
        first, _, last = handler.headers.get("Range", "bytes=0-").removeprefix("bytes=").partition("-")
        part = HTML[int(first) : int(last) + 1 if last else None]
        handler.send_response(206)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Content-Range", f"bytes {first}-{int(first) + len(part) - 1}/{len(HTML)}")
        handler.send_header("Content-Length", str(len(part)))
        handler.end_headers()
        handler.wfile.write(part)

    host.routes["/v"] = ranged

    resp = view.get(MEDIA, headers={"Range": "bytes=20-"})

    assert resp.status_code == 404
    _assert_safe(resp)


def test_a_huge_content_length_is_refused_before_any_byte(view: httpx.Client, host: HostileServer) -> None:
    host.routes["/v"] = body(VIDEO, "video/mp4", length=10**13)

    resp = view.get(MEDIA)

    assert resp.status_code == 404 and "over the" in resp.json()["detail"]
    _assert_safe(resp)


def test_a_body_with_no_length_is_cut_at_the_largest_video(
    view: httpx.Client, host: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_empiriolabs.ui import media

    limit = 256 * 1024
    monkeypatch.setattr(media, "_max_size", lambda: limit)

    def endless(handler: BaseHTTPRequestHandler) -> None:  # no Content-Length: ends when it closes
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(VIDEO)
        for _ in range(64):
            handler.wfile.write(bytes(64 * 1024))

    host.routes["/v"] = endless

    with view.stream("GET", MEDIA) as resp:
        received = 0
        try:
            for chunk in resp.iter_raw():
                received += len(chunk)
        except httpx.HTTPError:
            pass

    assert resp.status_code == 200
    assert received <= limit < len(VIDEO) + 64 * 64 * 1024


@pytest.mark.parametrize("headers_too", [True, False], ids=["dripping-headers", "dripping-first-bytes"])
def test_a_dripping_output_host_is_cut_off_by_the_total_deadline(
    view: httpx.Client, host: HostileServer, monkeypatch: pytest.MonkeyPatch, headers_too: bool
) -> None:
    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_MEDIA_TIMEOUT_SECONDS", "1")
    stop = threading.Event()
    host.routes["/v"] = drip(VIDEO, every=0.2, headers_too=headers_too, stop=stop)
    gave_up = threading.Timer(120, stop.set)  # the host gives up long after any deadline: a hang ends
    gave_up.start()
    try:
        resp = view.get(MEDIA, timeout=180)
    finally:
        finished_by_the_view = not stop.is_set()
        stop.set()
        gave_up.cancel()

    assert finished_by_the_view, "the answer ended only when the output host gave up"
    assert resp.status_code == 404 and "view_media_timeout_seconds" in resp.json()["detail"]


def test_slow_output_hosts_never_hold_airflows_shared_thread_pool(
    view: httpx.Client, host: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two slots, both held by a host that drips its headers; 40 more viewers; the spend page still answers."""
    from airflow_provider_empiriolabs.ui import app as view_app

    monkeypatch.setattr(view_app, "media_pool", view_app.MediaPool(2))
    stop = threading.Event()
    host.routes["/v"] = drip(VIDEO, every=0.5, headers_too=True, stop=stop)
    url = str(view.base_url).rstrip("/") + MEDIA
    auth = {"Authorization": "Bearer admin-token"}
    held: list[Any] = []

    def watch() -> None:
        try:
            held.append(httpx.get(url, headers=auth, timeout=300).status_code)
        except httpx.HTTPError as error:
            held.append(error)

    watchers = [threading.Thread(target=watch) for _ in range(2)]
    for thread in watchers:
        thread.start()
    try:
        from tests.transfers.hostile_server import wait_for

        assert wait_for(lambda: len(host.seen) == 2, timeout=60), host.seen  # both slots held
        answers: list[Any] = []

        def viewer() -> None:
            try:
                answers.append(httpx.get(url, headers=auth, timeout=60))
            except httpx.HTTPError as error:
                answers.append(error)

        viewers = [threading.Thread(target=viewer) for _ in range(40)]
        for thread in viewers:
            thread.start()
        for thread in viewers:
            thread.join()
        spend = view.get("/api/spend", timeout=60)
    finally:
        stop.set()
        for thread in watchers:
            thread.join(timeout=120)

    assert all(isinstance(a, httpx.Response) and a.status_code == 503 for a in answers), answers[:3]
    assert all(a.headers.get("retry-after") for a in answers)
    assert spend.status_code == 200 and "total_usd" in spend.json()
    assert len([s for s in host.seen if s.path == "/v"]) == 2  # the refused viewers never reached it


def test_a_user_who_may_not_read_the_dag_never_reaches_the_output_host(view: httpx.Client, host: HostileServer) -> None:
    host.routes["/v"] = body(VIDEO, "video/mp4")

    resp = view.get(MEDIA, headers={"Authorization": "Bearer nobody-token"})
    anonymous = httpx.get(str(view.base_url).rstrip("/") + MEDIA, timeout=30)

    assert resp.status_code == 404 and anonymous.status_code == 401
    assert host.seen == []
    _assert_safe(resp)
