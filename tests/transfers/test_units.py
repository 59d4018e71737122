"""The transfer's log lines show sizes people can read: 31.2 KB, not 0.0 MB."""

from __future__ import annotations

import pytest

from airflow_provider_empiriolabs.transfers._units import human_rate, human_size


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (31_200, "31.2 KB"),
        (6_295_776, "6.3 MB"),
        (2_147_483_648, "2.1 GB"),
        (5 * 10**15, "5000.0 TB"),
    ],
)
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_human_rate() -> None:
    assert human_rate(31_200, 4.0) == "7.8 KB/s"
    assert human_rate(50_000_000, 0.5) == "100.0 MB/s"
    assert human_rate(10, 0.0).endswith("GB/s")  # no division by zero
