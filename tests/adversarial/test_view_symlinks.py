"""
A task can write where the API server reads (a shared volume under ``view_allowed_storage``): what
it leaves there must not make the view read, show or hang on anything else.

Found by a review of the view: a symlink in an allowed folder led to any file the API server can
read, and the container check's refusal put that file's first 12 bytes in the 404 answer and the
API server's log.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from airflow_provider_empiriolabs.testing.video import sample_video_bytes
from airflow_provider_empiriolabs.ui.media import MediaUnavailable, open_media
from airflow_provider_empiriolabs.ui.records import VideoRecord

SECRET = b"SECRETKEY1234567890 fernet_key=abc"


@pytest.fixture
def allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{folder}/")
    return folder


def _record(uri: str) -> VideoRecord:
    return VideoRecord("d", "r", "t", -1, "job_1", stored={0: [uri]})


def _refused(uri: str, caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.DEBUG), pytest.raises(MediaUnavailable) as caught:
        open_media(_record(uri), 0)
    text = str(caught.value) + caplog.text
    for shown in (SECRET[:12], SECRET[:12].hex(" "), SECRET[:12].hex(), "SECRET"):
        assert (shown if isinstance(shown, str) else shown.decode("latin-1")) not in text
    return str(caught.value)


def test_a_symlink_in_an_allowed_folder_to_a_file_outside_is_never_read(
    allowed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "airflow.cfg"
    secret.write_bytes(SECRET)
    (allowed / "0.mp4").symlink_to(secret)

    message = _refused(f"file://{allowed}/0.mp4", caplog)

    assert "outside" in message


def test_a_symlink_to_a_video_outside_is_not_read_either(allowed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(sample_video_bytes())
    (allowed / "0.mp4").symlink_to(outside)

    with pytest.raises(MediaUnavailable, match="outside"):
        open_media(_record(f"file://{allowed}/0.mp4"), 0)


def test_a_file_that_is_no_video_is_refused_without_showing_a_byte_of_it(
    allowed: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (allowed / "0.mp4").write_bytes(SECRET)

    assert "not a video" in _refused(f"file://{allowed}/0.mp4", caplog)


def test_a_fifo_in_an_allowed_folder_never_holds_a_thread(allowed: Path) -> None:
    os.mkfifo(allowed / "0.mp4")
    outcome: list[BaseException] = []

    def view() -> None:
        try:
            open_media(_record(f"file://{allowed}/0.mp4"), 0)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=view, daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():  # unblock the reader so the test process can end
        with open(allowed / "0.mp4", "wb"):
            pass
        pytest.fail("opening a FIFO of the allowed folder blocked the view's thread")
    assert len(outcome) == 1 and isinstance(outcome[0], MediaUnavailable)
    assert "not a regular file" in str(outcome[0])


def test_a_real_video_under_a_symlinked_allowed_folder_is_still_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real-videos"
    real.mkdir()
    (tmp_path / "videos").symlink_to(real)  # the administrator's path is itself a link: that is theirs to choose
    monkeypatch.setenv("AIRFLOW__EMPIRIOLABS__VIEW_ALLOWED_STORAGE", f"file://{tmp_path / 'videos'}/")
    data = sample_video_bytes()
    (real / "0.mp4").write_bytes(data)

    answer = open_media(_record(f"file://{tmp_path / 'videos'}/0.mp4"), 0)

    assert (answer.status, answer.headers["Content-Type"], b"".join(answer.body)) == (200, "video/mp4", data)
