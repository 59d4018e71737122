"""What the adversarial tests share: the key, the timeouts, and the checks every outcome must pass."""

from __future__ import annotations

import traceback
from typing import Any

from airflow_provider_empiriolabs.exceptions import EmpirioLabsError
from airflow_provider_empiriolabs.hooks.rate_budget import MAX_PAUSE_SECONDS
from airflow_provider_empiriolabs.models import VideoRequest

KEY = "sk-empiriolabs-HOSTILE-test-key-0123456789abcdef"
#: Per-operation timeout of the connection (generous: the server thread may be slow to get a core).
TIMEOUT = 1.0
#: The total deadline of one request, given to every hook as ``total_timeout``.
DEADLINE = 2.0
#: What "within the deadline" allows beyond it: scheduling on a busy 2-core machine.
SLACK = 3.0


def request() -> VideoRequest:
    return VideoRequest.build(prompt="a horse on a beach", duration=5)


def assert_named(error: BaseException) -> None:
    """A named provider error, whose text, repr and traceback never hold the key."""
    assert isinstance(error, EmpirioLabsError), f"raw {type(error).__name__}: {error!r}"
    texts = [str(error), repr(error), error.args, "".join(traceback.format_exception(error))]
    for text in texts:
        assert KEY not in str(text), f"API key leaked in {text!r}"


def assert_waits_bounded(recorded: dict[str, list[float]]) -> None:
    """Every wait finite, at least 0 and at most the cap."""
    for kind, values in recorded.items():
        for value in values:
            assert 0.0 <= value <= MAX_PAUSE_SECONDS + 1e-6, f"{kind} wait of {value!r} s"


def outcome(call: Any, *args: Any) -> tuple[Any, BaseException | None]:
    """Run a call: its result, or the exception it raised (any type, for the test to judge)."""
    try:
        return call(*args), None
    except Exception as error:
        return None, error
