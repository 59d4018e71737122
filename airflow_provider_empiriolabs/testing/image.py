"""The images the simulator serves: tiny, valid PNGs computed from a seed, and their bytes for tests to compare.

A PNG is a signature and three chunks (``IHDR``, ``IDAT``, ``IEND``), each with its CRC: built here
with :mod:`zlib` and :mod:`struct` alone, so an image output (a URL or ``b64_json``) is a genuine file
that a content-type sniffer, a browser and a storage upload all accept, and no test needs Pillow.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import lru_cache

__all__ = ["PNG_SIGNATURE", "png_bytes"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@lru_cache(maxsize=64)
def png_bytes(seed: str = "", width: int = 16, height: int = 16) -> bytes:
    """
    A valid RGB PNG of ``width`` x ``height`` pixels whose colours follow from ``seed``.

    :param seed: any text (a job id and output index): the same seed gives the same bytes.
    :param width: pixels, 1 to 4096.
    :param height: pixels, 1 to 4096.
    """
    if not (1 <= width <= 4096 and 1 <= height <= 4096):
        raise ValueError(f"width and height must be 1 to 4096 pixels (got {width}x{height})")
    colour = hashlib.sha256(seed.encode()).digest()
    rows = b"".join(
        b"\x00" + b"".join(colour[(x + y) % 30 : (x + y) % 30 + 3] for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")
