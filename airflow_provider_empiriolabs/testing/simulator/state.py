"""The simulator's state object: knobs applied, reset, counters, uploads; jobs and admission mixed in.

One lock guards it all (see :class:`SimulatorState`).
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections import deque
from typing import Any

from airflow_provider_empiriolabs.testing.simulator._common import _money, iso
from airflow_provider_empiriolabs.testing.simulator.faults import AdmissionMixin
from airflow_provider_empiriolabs.testing.simulator.jobs import Job, JobsMixin, SimClock, Upload
from airflow_provider_empiriolabs.testing.simulator.knobs import _VALIDATORS, DEFAULT_KNOBS, KNOBS


class SimulatorState(JobsMixin, AdmissionMixin):
    """All mutable state: jobs, uploads, balance, counters, knobs.

    Guarded by one lock because in the in-thread mode tests call ``configure()``/``stats()`` from
    the test thread while the server's event loop handles requests; every critical section is
    short and never awaits.

    :param knobs: initial knob values (see :data:`DEFAULT_KNOBS`); ``reset()`` returns to them.
    """

    def __init__(self, **knobs: Any) -> None:
        self.lock = threading.RLock()
        self._secret = secrets.token_bytes(32)
        self.clock = SimClock()
        self._initial: dict[str, Any] = {}
        self.knobs: dict[str, Any] = {}
        self._apply(DEFAULT_KNOBS)
        self._apply(knobs)
        self._initial = {k: v for k, v in knobs.items() if k not in ("fail_next_requests", "outage_seconds")}
        self._clear()

    # ---- knobs ---------------------------------------------------------------------------------

    def _apply(self, knobs: dict[str, Any]) -> None:
        unknown = set(knobs) - KNOBS
        if unknown:
            raise ValueError(f"unknown simulator knob(s): {sorted(unknown)}; known: {sorted(KNOBS)}")
        checked = {name: _VALIDATORS[name](value) for name, value in knobs.items()}
        for name, value in checked.items():
            if name == "time_scale":
                self.clock.set_scale(value)
            elif name == "credit_balance_usd":
                self.balance = value
            elif name == "outage_seconds":
                self.outage_until = time.monotonic() + value
            elif name == "fail_next_requests":
                self.faults = value
            elif name == "seed":
                self.rng = random.Random(value)
            self.knobs[name] = value

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs at runtime (validated all together first); returns the resulting config.

        :param knobs: knob names and values; ``ValueError`` on an unknown name or a bad value.
        """
        with self.lock:
            self._apply(knobs)
            return self.config()

    def config(self) -> dict[str, Any]:
        """The current knobs as JSON-ready data (balance and remaining outage are live values)."""
        with self.lock:
            self._settle(self.clock.now())
            out = dict(self.knobs)
            out["credit_balance_usd"] = _money(self.balance)
            out["outage_seconds"] = max(0.0, round(self.outage_until - time.monotonic(), 3))
            out["fail_next_requests"] = [dict(f) for f in self.faults]
            return json.loads(json.dumps(out))

    def _clear(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.job_order: list[str] = []
        self.uploads: dict[str, Upload] = {}
        self._pending_refunds: list[Job] = []
        self._window: deque[float] = deque()
        self._arrivals: deque[float] = deque()
        self.counters: dict[str, int] = {
            "posts": 0,
            "jobs_created": 0,
            "polls_total": 0,
            "downloads": 0,
            "downloads_completed": 0,
            "uploads": 0,
            "requests_total": 0,
            "rate_limited": 0,
            "unauthorized": 0,
            "faults_injected": 0,
            "peak_requests_60s": 0,
            "catalogue_reads": 0,  # GET /v1/models/{id}
        }
        self.gets_per_job: dict[str, int] = {}
        self.extensions: dict[str, dict[str, str] | None] = {}  # job id -> its body's extend_from
        self.responses_by_status: dict[str, int] = {}

    def reset(self) -> None:
        """Drop jobs, uploads, counters, scripted faults and outage; knobs back to construction values."""
        with self.lock:
            self.knobs = {}
            self.faults = []
            self.outage_until = 0.0
            self._apply(DEFAULT_KNOBS)
            self._apply(self._initial)
            self.outage_until = 0.0
            self.faults = []
            self.knobs["fail_next_requests"] = []
            self.knobs["outage_seconds"] = 0.0
            self._clear()

    # ---- stats -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters, JSON-ready (string keys), identical in thread and process mode."""
        with self.lock:
            out: dict[str, Any] = dict(self.counters)
            out["gets_per_job"] = dict(self.gets_per_job)
            out["extends"] = {job_id: source for job_id, source in self.extensions.items() if source is not None}
            out["responses_by_status"] = dict(self.responses_by_status)
            out["pending_faults"] = sum(f["count"] for f in self.faults)
            out["balance_usd"] = _money(self.balance)
            out["simulated_time"] = iso(self.clock.now())
            return out

    def count_status(self, status: int) -> None:
        with self.lock:
            key = str(status)
            self.responses_by_status[key] = self.responses_by_status.get(key, 0) + 1

    def count(self, name: str) -> None:
        with self.lock:
            self.counters[name] += 1

    # ---- gateway ---------------------------------------------------------------------------------

    # ---- uploads ---------------------------------------------------------------------------------

    def add_upload(self, filename: str, content_type: str, data: bytes) -> Upload:
        with self.lock:
            upload = Upload(secrets.token_hex(8), filename, content_type, data)
            self.uploads[upload.upload_id] = upload
            self.counters["uploads"] += 1
            return upload

    def status_now(self, job_id: str) -> str | None:
        """The status a job of the account has now, ``None`` when there is no such job."""
        with self.lock:
            job = self.jobs.get(job_id)
            return None if job is None else self.job_status(job, self.clock.now())[0]


__all__ = ["SimulatorState"]
