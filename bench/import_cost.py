"""Benchmark: what importing the operators module costs on top of ``import airflow.sdk``.

``make bench-import`` or ``.venv/bin/python bench/import_cost.py --quick``.

A DAG file that uses the provider imports ``airflow.sdk`` and the operators module at every
parse. Each is timed in a fresh interpreter with ``python -X importtime`` (same interpreter,
several runs, median): ``import airflow.sdk`` alone, then ``import airflow.sdk`` followed by the
operators module. The difference is what the provider adds to every parse. The heaviest modules
that only the second import loads are listed, to show where the time goes.

A DAG file that names a model with a spec also reads the spec files (once per process) and checks
and prices each operator's literal request when it is built. That is timed in the same fresh
interpreter: after the import, a HappyHorse 1.1 operator (the first operator reads every spec
file), then one operator for every other shipped video model: the goal counts the import plus the
specs and the operators.
"""

from __future__ import annotations

import json
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


#: A DAG file's work once the provider is imported, in a fresh interpreter: seconds of each step.
_PARSE = """
import json, time
start = time.perf_counter()
import airflow.sdk
sdk = time.perf_counter()
from {module} import EmpirioLabsGenerateVideoOperator as Op
imported = time.perf_counter()
Op(task_id="hh", prompt="a fox in snow", max_cost_usd=100.0)
one = time.perf_counter()
from airflow_provider_empiriolabs.models.catalogue import shipped_models
models = [m for m in shipped_models("video") if m != "happyhorse-1-1"]
for i, model in enumerate(models):
    Op(task_id=f"m{{i}}", prompt="a fox in snow", model=model, max_cost_usd=100.0)
done = time.perf_counter()
print(json.dumps({{"import": imported - sdk, "one": one - imported, "specs": done - one, "models": len(models) + 1}}))
"""


def parse_times(env: dict[str, str]) -> dict[str, float]:
    """
    Seconds a DAG file spends after ``import airflow.sdk``, in a fresh interpreter: importing the
    operators module, building a HappyHorse 1.1 operator (the first reads the spec files), then
    building one for every other shipped video model, each request checked and priced.
    """
    statement = _PARSE.format(module=OPERATORS)
    result = subprocess.run([sys.executable, "-c", statement], capture_output=True, text=True, check=True, env=env)
    times: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return times


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
    parses = [parse_times(warm) for _ in range(args.runs)]
    sdk, added, added_cold = (statistics.median(r) for r in (sdk_runs, added_runs, cold_runs))
    one = statistics.median(p["one"] for p in parses)
    specs = statistics.median(p["specs"] for p in parses)
    parse_total = statistics.median(p["import"] + p["one"] + p["specs"] for p in parses)
    models = int(parses[0]["models"])
    extra = sorted(((us, name) for name, us in own.items()), reverse=True)
    heaviest = [[f"`{name}`", f"{us / 1e3:.1f}"] for us, name in extra[:10]]
    provider_own = sum(us for us, name in extra if name.startswith("airflow_provider_empiriolabs")) / 1e6
    spec_verdict = (
        f"Goal with the specs loaded (a DAG file of {models} operators, one per shipped video model, adds at "
        f"most 0.15 s): {'met' if parse_total <= 0.15 else 'NOT met'} (adds {parse_total:.3f} s, median of "
        f"{args.runs}: the import, {one:.3f} s for the first operator with the spec files read, {specs:.3f} s "
        f"for the other {models - 1})."
    )
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
    parse_rows = [
        [label, f"{statistics.median(values):.3f}", f"{min(values):.3f}", f"{max(values):.3f}"]
        for label, values in (
            ("import the operators module", [p["import"] for p in parses]),
            ("build a HappyHorse 1.1 operator (the first: reads every spec file)", [p["one"] for p in parses]),
            (
                f"build {models - 1} more (one per other shipped video model)",
                [p["specs"] for p in parses],
            ),
            (
                "all of it: what such a DAG file adds to `import airflow.sdk`",
                [p["import"] + p["one"] + p["specs"] for p in parses],
            ),
        )
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

With the model specs loaded at parse time: a DAG file that builds one operator per shipped video
model ({models}, each request checked and priced by its spec, `max_cost_usd` set), timed with
`time.perf_counter()` in a fresh interpreter after `import airflow.sdk`, {args.runs} runs, median,
bytecode cached. The spec files are read once per process, when the first operator is built
(importing the module reads only HappyHorse 1.1's, for its constants).

{table(["step after `import airflow.sdk`", "median (s)", "min (s)", "max (s)"], parse_rows)}

{spec_verdict}
"""
    publish(TITLE, body, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
