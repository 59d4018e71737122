"""Each emulator round-trips a few MB through ObjectStoragePath, as the operator will use it."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

SIZE = 3 * 1024 * 1024 + 17  # a few MB, not a multiple of any block size


def test_write_then_read_back(storage_root: ObjectStoragePath) -> None:
    payload = os.urandom(SIZE)
    target = storage_root / "smoke" / "object.bin"
    if target.protocol == "file":
        target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for start in range(0, SIZE, 1024 * 1024):
            out.write(payload[start : start + 1024 * 1024])

    assert target.exists()
    assert target.size() == SIZE
    with target.open("rb") as back:
        assert hashlib.sha256(back.read()).hexdigest() == hashlib.sha256(payload).hexdigest()
    names = [p.name for p in (storage_root / "smoke").iterdir()]
    assert names == ["object.bin"]


def test_each_test_gets_an_empty_root(storage_root: ObjectStoragePath) -> None:
    assert list(storage_root.iterdir()) == []
