"""
The live catalogue in real runs (``dag.test()``, ``tests/dags/live_catalogue_dags.py``).

- Live wins: the simulator's ``catalogue_changes`` knob raises a price; the estimate and
  ``max_cost_usd`` follow it, and the task's log names the difference.
- A hostile catalogue on 127.0.0.1 (a 500, an HTML page, a 10 MB body, a hang) never fails a run:
  the task logs one warning and goes on with the shipped spec; the job is still sent, once.
- One process, several tasks of one model: one catalogue GET.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_empiriolabs.hooks import _catalogue
from airflow_provider_empiriolabs.testing.server import connection_json
from tests.dags.live_catalogue_dags import MANY_TASKS
from tests.support import make_context, make_operator, run_dag, task_instance, xcom

pytestmark = pytest.mark.usefixtures("airflow_db")

HH = "happyhorse-1-1"
DIFFERENCE = "happyhorse-1-1 price row 720p: catalogue says $0.15, shipped spec $0.14; using $0.15"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    _catalogue.forget_catalogue()
    yield
    _catalogue.forget_catalogue()


@pytest.fixture
def live(empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The simulator as the default connection, the live catalogue read (the test session turns it off)."""
    sim = empiriolabs_simulator
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", sim.connection_json({"catalogue_ttl_seconds": 3600}))
    return sim


def test_the_shipped_price_when_the_catalogue_agrees(live: Any, capfd: pytest.CaptureFixture[str]) -> None:
    run = run_dag("live_catalogue_one")

    assert run.state == "success"
    assert xcom(run, "generate", key="request")["estimated_cost_usd"] == pytest.approx(0.42)
    assert "Live catalogue" not in "".join(capfd.readouterr())  # nothing differs: nothing said
    assert live.stats()["catalogue_reads"] == 1


def test_a_live_price_within_the_cap_is_the_estimate(live: Any, capfd: pytest.CaptureFixture[str]) -> None:
    live.configure(catalogue_changes={HH: {"prices": {"720p": 0.145}}})

    run = run_dag("live_catalogue_one")

    assert run.state == "success"
    assert xcom(run, "generate", key="request")["estimated_cost_usd"] == pytest.approx(0.435)
    assert "catalogue says $0.145, shipped spec $0.14; using $0.145" in "".join(capfd.readouterr())


def test_a_live_price_over_the_cap_refuses_the_job_naming_the_difference(
    live: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    live.configure(catalogue_changes={HH: {"prices": {"720p": 0.15}}})

    run = run_dag("live_catalogue_one")

    assert run.state == "failed"
    assert task_instance(run, "generate").state == "failed"
    assert live.stats()["posts"] == 0
    text = "".join(capfd.readouterr())
    assert DIFFERENCE in text
    assert "max_cost_usd: the estimated cost $0.45 exceeds" in text
    assert live.api_key not in text


def test_a_live_range_narrower_than_the_shipped_one_refuses_before_the_post(live: Any) -> None:
    live.configure(catalogue_changes={HH: {"parameters": {"duration": {"maximum": 12}}}})

    with pytest.raises(AirflowFailException) as caught:  # not retried: no retry can fix it
        make_operator(duration=15, wait_for_completion=False).execute(make_context())

    text = str(caught.value)
    assert "duration" in text and "must be 3 to 12 (got 15)" in text
    assert "the live catalogue (GET /v1/models/happyhorse-1-1)" in text
    assert live.stats()["posts"] == 0
    assert live.stats()["catalogue_reads"] == 1


def test_bad_input_is_refused_before_the_catalogue_is_read(live: Any) -> None:
    with pytest.raises(AirflowFailException):
        make_operator(duration="{{ 16 }}", wait_for_completion=False).execute(make_context())

    assert live.stats()["requests_total"] == 0


def test_several_tasks_in_one_process_make_one_catalogue_get(live: Any) -> None:
    run = run_dag("live_catalogue_many")

    assert run.state == "success"
    stats = live.stats()
    assert stats["posts"] == MANY_TASKS
    assert stats["catalogue_reads"] == 1


# -- a hostile catalogue -------------------------------------------------------------------------

HOSTILE = ("500", "html", "ten-megabytes", "hang", "echoes-the-key")


class _Hostile(ThreadingHTTPServer):
    daemon_threads = True
    mode: str
    upstream: str
    key: str
    release: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Hostile

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up on the big body: as it should
            self.wfile.write(body)

    def _catalogue(self) -> None:
        mode = self.server.mode
        if mode == "500":
            self._answer(500, b'{"error": {"code": "internal_error", "message": "boom"}}')
        elif mode == "html":
            self._answer(200, b"<html><body>Catalogue</body></html>", "text/html")
        elif mode == "ten-megabytes":
            self._answer(200, b'{"id": "happyhorse-1-1", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}')
        elif mode == "hang":
            self.server.release.wait(30)
            self._answer(200, b"{}")
        else:  # a catalogue that puts the key it was sent into what it says
            key = self.server.key.encode()
            self._answer(
                200,
                b'{"id": "happyhorse-1-1", "supported_parameters": [{"name": "' + key + b'", "type": "string"}],'
                b' "pricing_rows": [{"charge": "720p ' + key + b'", "price_usd": "' + key + b'"}]}',
            )

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        answer = httpx.request(self.command, self.server.upstream + self.path, content=body, headers=headers)
        self._answer(answer.status_code, answer.content, answer.headers.get("content-type", "application/json"))

    def do_GET(self) -> None:
        if self.path.startswith("/v1/models/"):
            self._catalogue()
        else:
            self._forward()

    def do_POST(self) -> None:
        self._forward()


@pytest.fixture
def hostile(empiriolabs_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Hostile]:
    """A catalogue on 127.0.0.1 that misbehaves (``mode``); every other call goes on to the simulator."""
    sim = empiriolabs_simulator
    server = _Hostile(("127.0.0.1", 0), _Handler)
    server.upstream, server.key, server.release = sim.url, sim.api_key, threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    extra = {"catalogue_ttl_seconds": 3600, "timeout": 1, "requests_per_minute": 1000}
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", connection_json(url, sim.api_key, extra))
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("mode", HOSTILE)
def test_a_hostile_catalogue_never_fails_the_run(
    hostile: _Hostile, empiriolabs_simulator: Any, capfd: pytest.CaptureFixture[str], mode: str
) -> None:
    hostile.mode = mode
    started = time.monotonic()

    run = run_dag("live_catalogue_one")

    assert run.state == "success", mode
    assert time.monotonic() - started < 120  # a hang costs the catalogue's deadline, not the task's
    assert xcom(run, "generate", key="request")["estimated_cost_usd"] == pytest.approx(0.42)  # the shipped price
    assert empiriolabs_simulator.stats()["posts"] == 1
    text = "".join(capfd.readouterr())
    lines = [line for line in text.splitlines() if "live catalogue" in line.lower()]
    assert lines, text[-2000:]
    assert all("warning" in line for line in lines), lines
    if mode != "echoes-the-key":
        assert len(lines) == 1, lines
        assert "using the shipped spec" in lines[0]
    assert hostile.key not in text
    assert hostile.key[:18] not in text  # not even cut short


def test_a_chain_is_estimated_and_capped_by_the_live_price(live: Any, capfd: pytest.CaptureFixture[str]) -> None:
    from airflow_provider_empiriolabs.operators.chain import EmpirioLabsVideoChainOperator
    from tests.operators.test_chain import SHOTS, context

    live.configure(catalogue_changes={HH: {"prices": {"720p": 0.15}}})  # 10 s: $1.50 live, $1.40 shipped

    def film(cap: float) -> EmpirioLabsVideoChainOperator:
        return EmpirioLabsVideoChainOperator(task_id="film", shots=SHOTS, poll_interval=0.05, max_cost_usd=cap)

    with pytest.raises(AirflowFailException, match=r"max_cost_usd.*\$1\.50"):
        film(1.45).execute(context())
    assert live.stats()["posts"] == 0
    assert DIFFERENCE in "".join(capfd.readouterr())

    ti_context = context()
    film(1.55).execute(ti_context)
    assert ti_context["ti"].xcoms["request"]["estimated_cost_usd"] == pytest.approx(1.50)
    assert live.stats()["posts"] == 3


def test_a_chain_admitted_under_its_cap_is_not_refused_when_it_resumes_to_a_higher_price(live: Any) -> None:
    from airflow_provider_empiriolabs.operators.chain import EmpirioLabsVideoChainOperator
    from tests.operators.test_chain import SHOTS, context, run_deferring

    def film() -> EmpirioLabsVideoChainOperator:  # as a new process would: the catalogue read again
        _catalogue.forget_catalogue()
        return EmpirioLabsVideoChainOperator(
            task_id="film", shots=SHOTS, poll_interval=0.05, max_cost_usd=1.45, deferrable=True
        )  # 10 s: $1.40 at the shipped price

    def price_rises(deferred: Any) -> None:  # $1.50 once the first link is paid
        live.configure(catalogue_changes={HH: {"prices": {"720p": 0.15}}})

    summary, methods = run_deferring(film, context(), price_rises)
    assert methods == ["execute_complete"] * 3
    assert len(summary["job_ids"]) == 3 and live.stats()["posts"] == 3  # every paid link finished, none lost
