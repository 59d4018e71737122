"""
Plant known bugs in the provider's promise-keeping code, one at a time, and see the tests catch them.

``make mutate`` (not in CI: about 15 to 30 minutes on 2 cores). Each mutation below replaces one
exact piece of source in the money, retry, secret, pricing, trust, commit or polling code, runs the
tests that guard that promise, and restores the file, whatever happens. A mutation is *caught*
when those tests fail; a *survivor* is a promise the tests do not hold, so write the test that
fails. A piece of source that is no longer found stops the run: the code changed, so update the
mutation to plant the same bug in the new code (that is when to run this, too).

The hand-written list plants the bugs a reviewer would (a boundary off by one, a check weakened
to "not empty", a registration dropped), which generic operators (mutmut's) mostly do not reach in
code that runs only against the simulator, emulators and ``dag.test()``.

    python scripts/mutate.py              # every mutation
    python scripts/mutate.py commit secret  # those whose name starts with one of these words
    python scripts/mutate.py --list
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "airflow_provider_empiriolabs"
TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Mutation:
    name: str  # <area>-<what>: the area is one of money, retry, secret, pricing, trust, commit, polling
    module: str  # relative to the package
    old: str  # the exact source replaced (must occur once)
    new: str
    tests: tuple[str, ...]  # what guards this promise
    marks: str = "not slow"  # pytest -m: the slow tests only where nothing faster holds the promise


TRUST_TESTS = (
    "tests/transfers/test_output_trust.py",
    "tests/transfers/test_output_trust_properties.py",
    "tests/transfers/test_empiriolabs_to_object_storage.py",
)

MUTATIONS = (
    Mutation(
        "pricing-billed-seconds-rounded-not-ceiled",
        "models/pricing.py",
        "return max(0, math.ceil(seconds))",
        "return max(0, round(seconds))",
        ("tests/models",),
    ),
    Mutation(
        "pricing-video-count-ignored",
        "models/pricing.py",
        "return round(price * billed_seconds(seconds) * videos, 4)",
        "return round(price * billed_seconds(seconds), 4)",
        ("tests/models",),
    ),
    Mutation(
        "money-cap-allows-a-cent-over",
        "models/pricing.py",
        "    if estimate > max_cost_usd:",
        "    if estimate > max_cost_usd + 0.01:",
        ("tests/reliability/test_money.py",),
    ),
    Mutation(
        "money-billed-post-retried-like-a-get",
        "_outcome.py",
        "    if creates_job:\n        return provably_not_sent(error)\n",
        "    if creates_job:\n        return kind_of(error) is ErrorKind.TRANSIENT\n",
        ("tests/hooks/test_billed_post.py", "tests/reliability/test_outcome_agreement.py"),
    ),
    Mutation(
        "retry-429-not-transient",
        "_outcome.py",
        "TRANSIENT_STATUSES = frozenset({408, 425, 429, *range(500, 600)})",
        "TRANSIENT_STATUSES = frozenset({408, 425, *range(500, 600)})",
        ("tests/hooks", "tests/reliability/test_outcome_agreement.py"),
    ),
    Mutation(
        "retry-wait-not-capped",
        "hooks/_responses.py",
        "    return min(seconds, cap)\n",
        "    return seconds\n",
        ("tests/hooks",),
    ),
    Mutation(
        "retry-one-attempt-too-many",
        "hooks/_retry.py",
        '"stop": tenacity.stop_after_attempt(max_attempts),',
        '"stop": tenacity.stop_after_attempt(max_attempts + 1),',
        ("tests/hooks",),
    ),
    Mutation(
        "secret-api-key-not-registered",
        "hooks/_settings.py",
        "        register_secret(conn.password)\n",
        "        pass\n",
        ("tests/redaction",),
    ),
    Mutation(
        "secret-signed-url-not-masked-by-airflow",
        "redaction.py",
        "            mask_secret(secret)\n",
        "            pass\n",
        ("tests/reliability/test_secrets.py", "tests/redaction"),
        marks="",  # the canary test (every example DAG, about a minute) reads the supervisor's logs
    ),
    Mutation(
        "trust-mapped-metadata-address-allowed",
        "transfers/_output_trust.py",
        "    if ip in METADATA_ADDRESSES or inner in METADATA_ADDRESSES:",
        "    if ip in METADATA_ADDRESSES:",
        TRUST_TESTS,
    ),
    Mutation(
        "trust-user-info-followed",
        "transfers/_output_trust.py",
        "        if parsed.userinfo:",
        "        if False:",
        TRUST_TESTS,
    ),
    Mutation(
        "trust-plain-http-followed",
        "transfers/_output_trust.py",
        'if scheme == "http" and not self.allow_plain_http:',
        'if scheme == "http" and False:',
        TRUST_TESTS,
    ),
    Mutation(
        "commit-final-read-back-only-not-empty",
        "transfers/_copier.py",
        "        if final_size != written:",
        "        if not final_size:",
        ("tests/transfers/test_read_back.py", "tests/transfers/test_empiriolabs_to_object_storage.py"),
    ),
    Mutation(
        "commit-temp-read-back-only-not-empty",
        "transfers/_commit.py",
        "        if temp_size != written:",
        "        if not temp_size:",
        ("tests/transfers/test_read_back.py", "tests/transfers/test_empiriolabs_to_object_storage.py"),
    ),
    Mutation(
        "commit-bytes-taken-not-compared",
        "transfers/_copier.py",
        "            if pending.tell() != written:  # before anything is committed",
        "            if not pending.tell():  # before anything is committed",
        ("tests/transfers/test_read_back.py", "tests/transfers"),
    ),
    Mutation(
        "polling-wait-not-bounded-by-poll-interval",
        "triggers/polling.py",
        "        delay = min(max(delay, self.min_interval), self.poll_interval)",
        "        delay = max(delay, self.min_interval)",
        ("tests/triggers",),
    ),
    Mutation(
        "polling-backoff-shrinks",
        "triggers/polling.py",
        "        return self._bounded(2 * (self._last_delay or self.min_interval))",
        "        return self._bounded(0.5 * (self._last_delay or self.min_interval))",
        ("tests/triggers",),
    ),
)


def run_tests(tests: tuple[str, ...], marks: str) -> tuple[bool, float, str]:
    """Run ``tests`` (stop at the first failure); whether they failed, how long it took, the summary line."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", marks, *tests],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group: a timeout ends the emulators and simulators it started
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return True, time.monotonic() - started, f"timed out after {TIMEOUT_SECONDS} s (counted as caught)"
    lines = [line for line in out.splitlines() if line.strip()]
    return proc.returncode != 0, time.monotonic() - started, lines[-1] if lines else ""


def apply(mutation: Mutation) -> tuple[Path, str]:
    path = PACKAGE / mutation.module
    source = path.read_text()
    count = source.count(mutation.old)
    if count != 1:
        raise SystemExit(
            f"{mutation.name}: the source to mutate occurs {count} times in {path.relative_to(REPO)} "
            "(the code changed: update the mutation so that it plants the same bug)"
        )
    path.write_text(source.replace(mutation.old, mutation.new))
    return path, source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("areas", nargs="*", help="run only mutations whose name starts with one of these")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.areas or any(m.name.startswith(a) for a in args.areas)]
    if args.list:
        for m in chosen:
            print(f"{m.name:45} {m.module:30} {' '.join(m.tests)}")
        return 0
    for m in chosen:  # every mutation must apply before any test runs
        path, source = apply(m)
        path.write_text(source)

    survivors = []
    started = time.monotonic()
    for m in chosen:
        path, source = apply(m)
        try:
            caught, seconds, summary = run_tests(m.tests, m.marks)
        finally:
            path.write_text(source)
        print(f"{'caught  ' if caught else 'SURVIVED'} {m.name:45} {seconds:6.0f} s  {summary}", flush=True)
        if not caught:
            survivors.append(m.name)
    total = len(chosen)
    print(
        f"\nmutation score: {total - len(survivors)}/{total} caught in {(time.monotonic() - started) / 60:.1f} min"
        + (f"; survivors: {', '.join(survivors)}" if survivors else "")
    )
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
