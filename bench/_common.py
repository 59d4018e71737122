"""Shared helpers of the polling, triggerer, rate-budget, worker-slot and import benchmarks.

Process figures come from ``/proc`` (Linux): CPU seconds (user + system) and RSS of any process
by pid, so the simulator (a child process) is measured apart from the client it serves. Figures
go to ``docs/benchmarks.md``, one ``## <title>`` section per benchmark, replaced in place so the
other sections (``## Transfer`` belongs to ``bench/transfer.py``) are left alone.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import re
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def setup_airflow_env() -> Path:
    """
    A throwaway Airflow home (and SQLite DB path), set before anything imports Airflow.

    The benchmarks never touch the user's own ``AIRFLOW_HOME``; connections come from
    ``AIRFLOW_CONN_*`` variables, which need no DB.
    """
    if "REPO_BENCH_AIRFLOW_HOME" in os.environ:
        home = Path(os.environ["REPO_BENCH_AIRFLOW_HOME"])
    else:
        home = Path(tempfile.mkdtemp(prefix="empiriolabs-bench-airflow-home-"))
        os.environ["REPO_BENCH_AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(home / "dags")
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"
    (home / "dags").mkdir(exist_ok=True)
    return home


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process so far (this one by default), from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid or 'self'}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of stat): utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process now (this one by default), from ``/proc/<pid>/statm``."""
    with open(f"/proc/{pid or 'self'}/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class CpuMeter:
    """CPU seconds a process spends between :meth:`start` and :meth:`stop`, and its share of wall time."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self._cpu0 = self._wall0 = 0.0
        self.cpu = self.wall = 0.0

    def start(self) -> CpuMeter:
        self._cpu0, self._wall0 = cpu_seconds(self.pid), time.monotonic()
        return self

    def stop(self) -> CpuMeter:
        self.cpu = cpu_seconds(self.pid) - self._cpu0
        self.wall = time.monotonic() - self._wall0
        return self

    @property
    def percent(self) -> float:
        """CPU use in percent of one core over the measured span."""
        return 100.0 * self.cpu / self.wall if self.wall > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest-rank; ``nan`` for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, to say how busy the machine was."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> str:
    """One line naming the machine and the moment, for the docs."""
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}, "
        f"{datetime.date.today().isoformat()}"
    )


def command_line() -> str:
    """How this benchmark was run, with the repository's interpreter path."""
    args = " ".join(sys.argv[1:])
    return f".venv/bin/python bench/{Path(sys.argv[0]).name}" + (f" {args}" if args else "")


def write_section(title: str, body: str, docs: Path = DOCS) -> None:
    """
    Put ``## <title>`` with ``body`` into the docs, replacing that section only.

    :param title: the section heading, without ``## ``.
    :param body: the section's Markdown, without the heading.
    :param docs: the file (``docs/benchmarks.md``).
    """
    text = docs.read_text() if docs.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    docs.write_text(text)


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one character per column, ``l`` or ``r`` (default: first left)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def bench_arguments(doc: str | None, quick_help: str) -> argparse.ArgumentParser:
    """
    The common command line of a bench: ``--quick`` (a smoke run that writes nothing) and
    ``--no-docs``; SIGTERM exits through the clean-ups (simulator, trigger runner).
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    return parser


def publish(title: str, text: str, args: argparse.Namespace) -> None:
    """Print a bench's section, and write it into the docs unless it was a smoke or print-only run."""
    print(text)
    if not (args.quick or args.no_docs):
        write_section(title, text)
