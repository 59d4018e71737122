"""
Byte counts and rates as people read them, for the transfer's log lines.

A 30 KB test output logged as "0.0 MB" tells nothing, and a 2 GB one as "2147.5 MB" is hard to
read: sizes are shown in the largest decimal unit (B, KB, MB, GB, TB) that keeps the figure at
least 1, like ``ls -h --si`` and the MB/s figures of ``docs/benchmarks.md``.
"""

from __future__ import annotations

__all__ = ["human_rate", "human_size"]

_UNITS = ("KB", "MB", "GB", "TB")


def human_size(size: float) -> str:
    """
    ``size`` bytes as ``"31.2 KB"``, ``"6.3 MB"``, ``"512 B"``.

    :param size: a byte count (a float for rates).
    """
    if size < 1000:
        return f"{size:.0f} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1000
        if value < 1000 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def human_rate(size: int, seconds: float) -> str:
    """
    ``size`` bytes over ``seconds`` as ``"7.8 MB/s"``.

    :param size: bytes moved.
    :param seconds: time taken; a zero time counts as a nanosecond, never a division error.
    """
    return f"{human_size(size / max(seconds, 1e-9))}/s"
