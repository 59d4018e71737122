"""The video the simulator serves, and the same bytes computed for tests to compare against.

A real, playable MP4 (5 s, 320x180, H.264 + AAC, ~31 KB) is committed next to this module so that a
client's download path (content type sniffing, ``ftyp`` checks, players, storage uploads) sees a
genuine file, and no test needs ffmpeg. Bigger outputs are produced by appending one MP4 ``free``
box: players skip it, so the file stays valid, and the box body is all zeros, which a sparse file
stores for free. A 1 GB output therefore costs neither memory nor disk nor time to build, and the
expected SHA-256 can be computed by streaming zeros instead of reading a file.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import struct
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

#: The committed sample video; every output starts with exactly these bytes.
SAMPLE_VIDEO_PATH: Path = Path(__file__).with_name("assets") / "sample.mp4"

_BOX_HEADER = 8
_ZERO_CHUNK = bytes(1024 * 1024)

_cache_lock = threading.Lock()
_cache_dir: Path | None = None
_padded_paths: dict[int, Path] = {}


@lru_cache(maxsize=1)
def sample_video_bytes() -> bytes:
    """The committed MP4, read once (it is small)."""
    return SAMPLE_VIDEO_PATH.read_bytes()


def sample_video_size() -> int:
    """Size in bytes of the committed MP4, the smallest output the simulator can serve."""
    return len(sample_video_bytes())


def _free_box_header(box_size: int) -> bytes:
    """Header of a ``free`` box of ``box_size`` bytes in total (32-bit or 64-bit size form)."""
    if box_size < 2**32:
        return struct.pack(">I4s", box_size, b"free")
    return struct.pack(">I4sQ", 1, b"free", box_size)


def _padding_header(size: int) -> bytes:
    """The bytes that follow the sample to pad the file to ``size`` (the zeros are implicit)."""
    pad = size - sample_video_size()
    if pad == 0:
        return b""
    if pad < _BOX_HEADER:
        raise ValueError(
            f"output size {size} is invalid: it must be the sample size ({sample_video_size()}) "
            f"or at least {sample_video_size() + _BOX_HEADER} bytes (room for an MP4 free box header)"
        )
    return _free_box_header(pad)


def validate_output_size(size: int | None) -> None:
    """Raise ``ValueError`` early (at configure time) for a size that cannot be a valid MP4.

    :param size: requested output size in bytes, or ``None`` for the bare sample.
    """
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, int):
        raise ValueError("output_size_bytes must be an integer or null")
    if size < sample_video_size():
        raise ValueError(f"output_size_bytes must be at least the sample size ({sample_video_size()} bytes)")
    _padding_header(size)


def _get_cache_dir() -> Path:
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = Path(tempfile.mkdtemp(prefix="empiriolabs-sim-video-"))
        atexit.register(shutil.rmtree, _cache_dir, True)
    return _cache_dir


def video_path(size: int | None = None) -> Path:
    """Path of a file holding the output of ``size`` bytes, built lazily and cached per size.

    The padded file is sparse (seek + truncate), so even 1 GB takes microseconds and no disk blocks.

    :param size: total size in bytes; ``None`` or the sample size returns the committed asset.
    """
    if size is None or size == sample_video_size():
        return SAMPLE_VIDEO_PATH
    validate_output_size(size)
    with _cache_lock:
        path = _padded_paths.get(size)
        if path is not None and path.exists():
            return path
        path = _get_cache_dir() / f"sample-{size}.mp4"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(sample_video_bytes())
            fh.write(_padding_header(size))
            fh.truncate(size)
        os.replace(tmp, path)
        _padded_paths[size] = path
        return path


def expected_video_bytes(size: int | None = None) -> bytes:
    """The exact bytes a download of an output of ``size`` bytes returns, built in memory.

    Meant for byte-for-byte comparisons of small or multi-MB outputs; for huge ones use
    :func:`expected_video_sha256`.

    :param size: total size in bytes, ``None`` for the bare sample.
    """
    if size is None or size == sample_video_size():
        return sample_video_bytes()
    header = _padding_header(size)
    body = sample_video_bytes() + header
    return body + bytes(size - len(body))


def expected_video_sha256(size: int | None = None) -> str:
    """Hex SHA-256 of the output of ``size`` bytes, streamed (no file, constant memory).

    :param size: total size in bytes, ``None`` for the bare sample.
    """
    digest = hashlib.sha256(sample_video_bytes())
    if size is not None and size != sample_video_size():
        header = _padding_header(size)
        digest.update(header)
        remaining = size - sample_video_size() - len(header)
        while remaining > 0:
            chunk = _ZERO_CHUNK if remaining >= len(_ZERO_CHUNK) else bytes(remaining)
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()
