"""
Helpers of the reliability suite: reading a finished ``dag.test()`` run, the landed objects, and a
destination filesystem that breaks half-way through a write.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from fsspec.implementations.local import LocalFileOpener, LocalFileSystem

#: Scheme of :class:`HalfWayFailingFileSystem` (a local directory behind another scheme).
FLAKY_SCHEME = "flakyfile"


def task_outcomes(run: Any) -> dict[str, tuple[str, int]]:
    """``{task_id: (state, try_number)}`` of a finished run (mapped tasks are not used here)."""
    return {ti.task_id: (str(ti.state), int(ti.try_number)) for ti in run.get_task_instances()}


def landed_files(root: Path) -> list[Path]:
    """Every file under ``root``, hidden ones (temporary ``.partial`` objects) included."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _HalfWayFailingWriter(LocalFileOpener):
    """A local file opened for writing that runs out of space once ``budget`` bytes are written."""

    budget: int = 0
    written: int = 0

    def write(self, data: Any) -> int:
        room = self.budget - self.written
        if len(data) > room:
            if room > 0:
                super().write(bytes(data[:room]))
                self.written += room
            raise OSError(errno.ENOSPC, "No space left on device (simulated half-way through the write)")
        self.written += len(data)
        return int(super().write(data))


class HalfWayFailingFileSystem(LocalFileSystem):
    """
    A local filesystem under the ``flakyfile://`` scheme whose writes fail half-way, a set number of times.

    It stands for a bucket that goes away, a full disk or a revoked credential in the middle of an
    upload: the bytes already written stay where they were put, and the writer gets an ``OSError``.

    Class-level settings, set by :func:`half_way_failing_storage`: ``failures_left`` writes fail
    after ``fail_after_bytes`` bytes; later writes succeed.
    """

    protocol: ClassVar[tuple[str, ...]] = (FLAKY_SCHEME,)  # type: ignore[misc]
    failures_left: ClassVar[int] = 0
    fail_after_bytes: ClassVar[int] = 0
    failures_raised: ClassVar[int] = 0

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        text = str(path)
        if text.startswith(f"{FLAKY_SCHEME}://"):
            text = text[len(FLAKY_SCHEME) + 3 :]
        return super()._strip_protocol(text)

    def _open(self, path: Any, mode: str = "rb", block_size: Any = None, **kwargs: Any) -> Any:
        cls = type(self)
        if "w" in mode and cls.failures_left > 0:
            cls.failures_left -= 1
            cls.failures_raised += 1
            if self.auto_mkdir:
                self.makedirs(self._parent(path), exist_ok=True)
            writer = _HalfWayFailingWriter(self._strip_protocol(path), mode, fs=self, **kwargs)
            writer.budget = cls.fail_after_bytes
            return writer
        return super()._open(path, mode, block_size=block_size, **kwargs)


@contextmanager
def half_way_failing_storage(*, failures: int, fail_after_bytes: int) -> Iterator[type[HalfWayFailingFileSystem]]:
    """
    Register ``flakyfile://`` with fsspec and Airflow's ObjectStoragePath for the duration.

    :param failures: how many writes fail (the next ones succeed).
    :param fail_after_bytes: bytes a failing write accepts before raising.
    """
    import warnings

    import fsspec
    from airflow.sdk.io import fs as airflow_fs

    registry = airflow_fs._register_filesystems()  # the cached scheme -> factory mapping
    fsspec.register_implementation(FLAKY_SCHEME, HalfWayFailingFileSystem, clobber=True)
    registry[FLAKY_SCHEME] = lambda conn_id, options=None: HalfWayFailingFileSystem(auto_mkdir=True)  # type: ignore[index]
    HalfWayFailingFileSystem.failures_left = failures
    HalfWayFailingFileSystem.fail_after_bytes = fail_after_bytes
    HalfWayFailingFileSystem.failures_raised = 0
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*filesystem not explicitly implemented.*")
            yield HalfWayFailingFileSystem
    finally:
        registry.pop(FLAKY_SCHEME, None)  # type: ignore[attr-defined]
        HalfWayFailingFileSystem.failures_left = 0
