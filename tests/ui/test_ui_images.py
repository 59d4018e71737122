"""
The EmpirioLabs view shows an image job's images as it shows videos: the image example DAG on
``dag.test()`` against the simulator, then the view's app through Starlette's TestClient.

Images are served with their verified type (PNG here), with the media security headers
(``nosniff``, a sandboxing CSP); what is no image nor video (an HTML page in place of the stored
copy) is still refused, and no byte of it sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_empiriolabs.testing.image import PNG_SIGNATURE
from tests.ui.view_server import StandInAuthManager

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_ID = "example_empiriolabs_image"
ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture(scope="module")
def image_run(empiriolabs_simulator_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.example_dags.test_example_dags import _run, _xcom

    sim = empiriolabs_simulator_session
    sim.reset()
    out = tmp_path_factory.mktemp("view-images")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", sim.connection_json())
        run = _run(DAG_ID, destination=f"file://{out}/")
        yield {"run_id": run.run_id, "summary": _xcom(run, "draw_posters"), "out": out, "sim": sim}


@pytest.fixture
def client(image_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.api_fastapi import app as airflow_app
    from fastapi.testclient import TestClient

    from airflow_provider_empiriolabs.ui import app as view_app

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", StandInAuthManager({DAG_ID}))
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", image_run["sim"].connection_json())
    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{image_run['out']}/")
    view_app._cache.clear()
    return TestClient(view_app.create_app(), root_path="/empiriolabs")


def _media(image_run: dict[str, Any], index: int = 0) -> str:
    return f"/media/{DAG_ID}/{quote(image_run['run_id'], safe='')}/draw_posters/-1/{index}"


def test_the_run_page_shows_the_images_as_images(client: Any, image_run: dict[str, Any]) -> None:
    page = client.get(f"/runs/{DAG_ID}/{quote(image_run['run_id'], safe='')}", headers=ADMIN)
    assert page.status_code == 200
    assert page.text.count("<img ") == 2  # the two posters; the held thumbnails are only in storage
    assert "<th>Images</th><td>2</td>" in page.text
    assert "<video" not in page.text.split(image_run["summary"]["job_id"], 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize("source", ["stored", "signed-url"])
def test_an_image_is_served_with_its_verified_type_and_the_media_headers(
    client: Any, image_run: dict[str, Any], source: str
) -> None:
    stored = next(Path(image_run["out"]).rglob(f"{image_run['summary']['job_id']}/0.png"))
    saved = stored.read_bytes()
    if source == "signed-url":
        stored.unlink()  # the stored copy is gone: the signed URL is read server-side instead
    try:
        resp = client.get(_media(image_run), headers=ADMIN)
    finally:
        stored.write_bytes(saved)

    assert resp.status_code == 200, resp.text
    assert resp.headers["x-empiriolabs-source"] == source
    assert resp.headers["content-type"] == "image/png"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in resp.headers["content-security-policy"]
    assert resp.content.startswith(PNG_SIGNATURE) and resp.content == saved


def test_an_html_page_in_place_of_an_image_is_refused_and_not_sent(client: Any, image_run: dict[str, Any]) -> None:
    stored = next(Path(image_run["out"]).rglob(f"{image_run['summary']['job_id']}/1.png"))
    saved = stored.read_bytes()
    stored.write_bytes(b"<html><script>alert(document.cookie)</script></html>")
    try:
        resp = client.get(_media(image_run, 1), headers=ADMIN)
    finally:
        stored.write_bytes(saved)

    # The stored copy is refused (no byte of it sent); the view falls back to the job's signed URL.
    assert b"script" not in resp.content and "text/html" not in resp.headers.get("content-type", "")
    assert resp.headers.get("x-empiriolabs-source") != "stored"
    assert resp.status_code != 200 or resp.content.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(("media", "served"), [("image", "image/png"), (None, None)], ids=["image job", "video job"])
def test_a_png_is_served_for_an_image_job_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, media: str | None, served: str | None
) -> None:
    from airflow_provider_empiriolabs.testing.image import png_bytes
    from airflow_provider_empiriolabs.ui.media import MediaUnavailable, open_media
    from airflow_provider_empiriolabs.ui.records import VideoRecord

    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{tmp_path}/")
    (tmp_path / "0.png").write_bytes(png_bytes("x"))
    summary: dict[str, Any] = {"job_id": "job_1", "output_urls": [], "media": media}
    record = VideoRecord("d", "r", "t", -1, "job_1", summary=summary, stored={0: [f"file://{tmp_path}/0.png"]})

    if served is None:
        with pytest.raises(MediaUnavailable, match="not a video"):
            open_media(record, 0)
        return
    stream = open_media(record, 0)
    assert stream.headers["Content-Type"] == served
    assert stream.headers["X-Content-Type-Options"] == "nosniff"
    assert b"".join(stream.body) == png_bytes("x")
