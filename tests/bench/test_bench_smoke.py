"""Each benchmark's ``--quick`` mode runs to the end, so that ``make bench`` cannot rot unseen.

Figures are not asserted (speed belongs in ``docs/benchmarks.md``, measured on a quiet machine);
only that each bench runs and prints its verdict. ``--quick`` never writes the docs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHES = [
    "polling",
    "triggerer",
    "rate_budget",
    "shared_budget",
    "worker_slots",
    "import_cost",
    "transfer",
    "try_setup",
]


@pytest.mark.parametrize("bench", BENCHES)
def test_quick_mode_runs_and_reports(bench: str) -> None:
    docs_before = (REPO / "docs" / "benchmarks.md").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "REPO_BENCH"))}
    result = subprocess.run(
        [sys.executable, f"bench/{bench}.py", "--quick"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Reproduce: `make bench-" in result.stdout
    assert ("Goal" in result.stdout) or ("times less per job" in result.stdout)
    assert (REPO / "docs" / "benchmarks.md").read_text() == docs_before
