"""Benchmark: what one try costs before its first request: the hook's HTTP client and the account's hash.

``make bench-try-setup`` or ``.venv/bin/python bench/try_setup.py --quick``.

Every try of a generate task builds a hook (its ``httpx.Client``) and reads its job record, whose
fingerprint names the account by a slow hash of the API key; a deferred task does both again when it
resumes, and every trigger builds an async client. Side by side in one run, per try:

* the client as httpx builds it by default (it reads the CA bundle into a new TLS context each time)
  against the hook's client (one TLS context per process, ``hooks/_clients.tls_context``);
* the account's PBKDF2 hash computed every time against the hook's once per process and account
  (``operators/_fingerprint.account_digest``).

No request is sent: this is what every try pays before it can send one.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable

from _common import bench_arguments, command_line, load_average, machine, publish, table

TITLE = "One try's setup: the HTTP client and the account's hash"
KEY = "sk-bench-0123456789abcdef0123456789abcdef"
BASE_URL = "https://api.empiriolabs.ai"


def per_call_ms(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and max milliseconds of ``call`` over ``repeats`` calls (after one warm-up call)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    parser = bench_arguments(__doc__, "20 tries, docs untouched")
    args = parser.parse_args()
    repeats = 20 if args.quick else 200

    import httpx

    from airflow_provider_empiriolabs.hooks._clients import tls_context
    from airflow_provider_empiriolabs.operators._fingerprint import _ACCOUNT_HASH_ITERATIONS, account_digest

    def default_client() -> None:
        httpx.Client(base_url=BASE_URL).close()

    def hook_client() -> None:
        httpx.Client(base_url=BASE_URL, verify=tls_context()).close()

    salt = b"airflow-provider-empiriolabs account v1|" + BASE_URL.encode()

    def hash_every_time() -> None:
        hashlib.pbkdf2_hmac("sha256", KEY.encode(), salt, _ACCOUNT_HASH_ITERATIONS)

    def hash_once() -> None:
        account_digest(BASE_URL, KEY)

    rows = []
    totals = {}
    for what, before, after in (
        ("HTTP client (sync)", default_client, hook_client),
        ("account hash", hash_every_time, hash_once),
    ):
        before_median, before_max = per_call_ms(before, repeats)
        after_median, after_max = per_call_ms(after, repeats)
        totals[what] = (before_median, after_median)
        rows.append(
            [
                what,
                f"{before_median:.2f} (max {before_max:.2f})",
                f"{after_median:.3f} (max {after_max:.2f})",
                f"{before_median / max(after_median, 1e-6):.0f}x",
            ]
        )
    before_total = sum(before for before, _ in totals.values())
    after_total = sum(after for _, after in totals.values())
    goal = after_total < 5.0
    body = f"""
{table(["per try", "built each time (ms, median)", "once per process (ms, median)", "ratio"], rows)}

Per try, before its first request: {before_total:.1f} ms built each time, {after_total:.2f} ms with one TLS
context and one hash per process. A deferred task pays it again at resume, a retry at each try, and the
crash-point searches (tests/reliability/test_crash_points.py) at each of their thousands of runs.

Goal (under 5 ms per try once the process has warmed up): {"met" if goal else "NOT met"}.

{repeats} calls each, after one warm-up; {machine()}; load average {load_average()}.
Reproduce: `make bench-try-setup` (`{command_line()}`).
"""
    publish(TITLE, body, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
