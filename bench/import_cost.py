"""Benchmark: what importing the operators module costs on top of ``import airflow.sdk``.

``make bench-import`` or ``.venv/bin/python bench/import_cost.py --quick``.

A DAG file that uses the provider imports ``airflow.sdk`` and the operators module at every
parse. Each is timed in a fresh interpreter with ``python -X importtime`` (same interpreter,
several runs, median): ``import airflow.sdk`` alone, then ``import airflow.sdk`` followed by the
operators module. The difference is what the provider adds to every parse. The heaviest modules
that only the second import loads are listed, to show where the time goes.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile

from _common import (
    bench_arguments,
    command_line,
    load_average,
    machine,
    publish,
    setup_airflow_env,
    table,
)

TITLE = "Import cost at DAG parse time"
OPERATORS = "airflow_provider_empiriolabs.operators.empiriolabs"
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_times(statement: str, env: dict[str, str]) -> tuple[float, float, dict[str, int]]:
    """
    Run ``statement`` in a fresh interpreter with ``-X importtime``.

    :returns: seconds for ``airflow.sdk`` (its cumulative time), seconds for everything imported
        after it (the provider and what it pulls in that ``airflow.sdk`` had not), and each module
        imported after it with its own microseconds.
    """
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True, check=True, env=env
    )
    sdk_us, after_us, seen_sdk = 0, 0, False
    own: dict[str, int] = {}
    for line in result.stderr.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        self_us, cumulative, indent, name = int(match.group(1)), int(match.group(2)), match.group(3), match.group(4)
        top_level = len(indent) == 1
        if seen_sdk:  # importtime prints a module after what it imported: these came after airflow.sdk
            own[name] = self_us
            after_us += cumulative if top_level else 0
        elif top_level and name == "airflow.sdk":
            sdk_us, seen_sdk = cumulative, True
    return sdk_us / 1e6, after_us / 1e6, own


def main() -> int:
    parser = bench_arguments(__doc__, "1 run, docs untouched")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.runs = 1
    setup_airflow_env()
    load_before = load_average()
    # Bytecode as an installed wheel has it (pip compiles on install): this shell may say
    # PYTHONDONTWRITEBYTECODE=1, which makes every import of the provider compile its source.
    cache = tempfile.mkdtemp(prefix="empiriolabs-bench-pycache-")
    warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": cache}
    cold = os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": cache + "-unused"}
    statement = f"import airflow.sdk; import {OPERATORS}"
    import_times(statement, warm)  # writes the bytecode
    sdk_runs, added_runs, cold_runs = [], [], []
    own: dict[str, int] = {}
    for _ in range(args.runs):
        sdk_seconds, added_seconds, own = import_times(statement, warm)
        sdk_runs.append(sdk_seconds)
        added_runs.append(added_seconds)
        cold_runs.append(import_times(statement, cold)[1])
    sdk, added, added_cold = (statistics.median(r) for r in (sdk_runs, added_runs, cold_runs))
    extra = sorted(((us, name) for name, us in own.items()), reverse=True)
    heaviest = [[f"`{name}`", f"{us / 1e3:.1f}"] for us, name in extra[:10]]
    provider_own = sum(us for us, name in extra if name.startswith("airflow_provider_empiriolabs")) / 1e6
    verdict = (
        f"Goal (adds at most 0.15 s): {'met' if added <= 0.15 else 'NOT met'} (adds {added:.3f} s, median of "
        f"{args.runs}, with bytecode); the provider's own modules take {provider_own:.3f} s of it, the rest is what "
        "they import that `airflow.sdk` had not. Without bytecode (a source checkout run with "
        f"`PYTHONDONTWRITEBYTECODE=1`, as in this development shell) it adds {added_cold:.3f} s: the provider's "
        "modules are compiled at every parse."
    )
    rows = [
        ["`import airflow.sdk`", f"{sdk:.3f}", f"{min(sdk_runs):.3f}", f"{max(sdk_runs):.3f}"],
        [f"then `import {OPERATORS}`", f"{added:.3f}", f"{min(added_runs):.3f}", f"{max(added_runs):.3f}"],
        ["the same without bytecode", f"{added_cold:.3f}", f"{min(cold_runs):.3f}", f"{max(cold_runs):.3f}"],
    ]
    body = f"""
`python -X importtime -c "import airflow.sdk; import {OPERATORS}"` in a fresh interpreter, {args.runs} runs,
median; the second row is everything imported after `airflow.sdk` (the cost a DAG file using the
operator adds to every parse). Bytecode cached (as an installed wheel has it) unless said. {machine()};
load average before / after: {load_before} and {load_average()}.

Reproduce: `make bench-import` (or `{command_line()}`; `--quick` for a smoke run).

{table(["import", "median (s)", "min (s)", "max (s)"], rows)}

Modules imported after `airflow.sdk`, by their own import time (last run):

{table(["module", "own ms"], heaviest)}

{verdict}
"""
    publish(TITLE, body, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
