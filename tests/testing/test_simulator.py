"""The EmpirioLabs simulator, over real HTTP with plain httpx (never the provider's client).

Runs against the session simulator (time scale 50) reset before each test. Tests that need jobs
to finish quickly shrink the render time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_empiriolabs.testing import (
    SAMPLE_VIDEO_PATH,
    EmpirioLabsSimulator,
    expected_video_bytes,
    expected_video_sha256,
    sample_video_size,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

ASSET = SAMPLE_VIDEO_PATH.read_bytes()
HH = "happyhorse-1-1"


@pytest.fixture
def sim(empiriolabs_simulator: EmpirioLabsSimulator) -> EmpirioLabsSimulator:
    return empiriolabs_simulator


@pytest.fixture
def api(sim: EmpirioLabsSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10) as c:
        yield c


def fast(sim: EmpirioLabsSimulator, **knobs: Any) -> None:
    """Renders of ~0.1 real s, so lifecycle-dependent tests do not wait."""
    sim.configure(render_base_seconds=1, render_seconds_per_video_second=0.5, **knobs)


def submit(api: httpx.Client, **fields: Any) -> str:
    body = {"model": HH, "prompt": "a horse galloping on a beach", **fields}
    resp = api.post("/v1/videos/generations", json=body)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["job_id"])


def wait_terminal(api: httpx.Client, job_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = api.get(f"/v1/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        if job["status"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.02)


def error_of(resp: httpx.Response) -> dict[str, Any]:
    err: dict[str, Any] = resp.json()["error"]
    assert set(err) >= {"message", "type", "code"}
    return err


# --------------------------------------------------------------------------------------------------
# Packaging and entry points
# --------------------------------------------------------------------------------------------------


def test_import_is_light() -> None:
    code = (
        "import sys, airflow_provider_empiriolabs.testing as t; "
        "print(sorted(m for m in ('airflow', 'starlette', 'uvicorn', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_asset_is_small_real_mp4() -> None:
    assert len(ASSET) < 100_000
    assert ASSET[4:8] == b"ftyp"
    assert b"moov" in ASSET and b"mdat" in ASSET


def test_python_m_entry_point() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_empiriolabs.testing", "--port", "0", "--api-key", "sk-cli"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        export = proc.stdout.readline()
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert url, first
        assert export.startswith("export AIRFLOW_CONN_EMPIRIOLABS_DEFAULT='")
        conn = json.loads(export.split("=", 1)[1].strip().strip("'"))
        assert conn == {
            "conn_type": "empiriolabs",
            "host": url.group(1),
            "password": "sk-cli",
            "extra": {"allow_private_output_hosts": True},  # its outputs are served from 127.0.0.1
        }
        resp = httpx.get(f"{url.group(1)}/v1/models", headers={"x-api-key": "sk-cli"})
        assert resp.status_code == 200
        assert HH in [m["id"] for m in resp.json()["data"]]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_process_mode_same_api_over_http() -> None:
    with EmpirioLabsSimulator(process=True, time_scale=50, rate_limit_rpm=3) as sim:
        assert sim.pid is not None and sim.state is None
        headers = {"Authorization": f"Bearer {sim.api_key}"}
        for _ in range(3):
            assert httpx.get(f"{sim.url}/v1/models", headers=headers).status_code == 200
        assert httpx.get(f"{sim.url}/v1/models", headers=headers).status_code == 429
        stats = sim.stats()
        assert stats["requests_total"] == 4 and stats["rate_limited"] == 1
        assert sim.configure(rate_limit_rpm=100)["rate_limit_rpm"] == 100
        assert httpx.get(f"{sim.url}/v1/models", headers=headers).status_code == 200
        with pytest.raises(ValueError, match="unknown simulator knob"):
            sim.configure(no_such_knob=1)
        sim.reset()
        assert sim.stats()["requests_total"] == 0
        assert sim.config()["rate_limit_rpm"] == 3  # back to construction knobs
        pid = sim.pid
    assert sim.process is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_connection_fixture_sets_env(empiriolabs_connection: EmpirioLabsSimulator) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"])
    assert conn["host"] == empiriolabs_connection.url
    assert conn["password"] == empiriolabs_connection.api_key
    # The provider's request budget is the simulator's limit in real time (limit x time scale).
    config = empiriolabs_connection.config()
    expected_rpm = int(config["rate_limit_rpm"] * config["time_scale"])
    assert json.loads(empiriolabs_connection.connection_json({"timeout": 5}))["extra"] == {
        "timeout": 5,
        "requests_per_minute": expected_rpm,
        "allow_private_output_hosts": True,
    }


# --------------------------------------------------------------------------------------------------
# Auth and validation
# --------------------------------------------------------------------------------------------------


def test_auth_errors_do_not_echo_key(sim: EmpirioLabsSimulator) -> None:
    url = f"{sim.url}/v1/account/usage"
    resp = httpx.get(url)
    assert resp.status_code == 401 and error_of(resp)["code"] == "missing_api_key"
    secret = "sk-empiriolabs-WRONG-0123456789"
    for headers in ({"Authorization": f"Bearer {secret}"}, {"x-api-key": secret}, {"Authorization": secret}):
        resp = httpx.get(url, headers=headers)
        assert resp.status_code == 401
        assert error_of(resp)["code"] == "invalid_api_key"
        assert "WRONG" not in resp.text
    assert httpx.get(url, headers={"x-api-key": sim.api_key}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {sim.api_key}"}).status_code == 200
    # Every /v1/ API endpoint is guarded, control endpoints are not.
    assert httpx.post(f"{sim.url}/v1/videos/generations", json={}).status_code == 401
    assert httpx.get(f"{sim.url}/v1/jobs/job_x").status_code == 401
    assert httpx.get(f"{sim.url}/_stats").status_code == 200
    assert sim.stats()["unauthorized"] == 6
    # The catalog list is public, as the real API serves it to third parties: no key, any key.
    for headers in ({}, {"Authorization": "Bearer sk-empiriolabs-WRONG-0123456789"}):
        assert httpx.get(f"{sim.url}/v1/models", headers=headers).status_code == 200
    assert sim.stats()["unauthorized"] == 6


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": None}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 2501}, "prompt"),
        ({"mode": "v2v"}, "mode"),
        ({"mode": "i2v"}, "image"),
        ({"mode": "t2v", "image": "https://example.com/a.png"}, "image"),
        ({"mode": "r2v", "images": [f"https://example.com/{i}.png" for i in range(10)]}, "image"),
        ({"images": [f"https://example.com/{i}.png" for i in range(10)]}, "image"),
        ({"image": "not a url"}, "image"),
        ({"image": "bunny://uploads/abc/x.png"}, "image"),
        ({"aspect_ratio": "21:9"}, "aspect_ratio"),
        ({"resolution": "4k"}, "resolution"),
        ({"duration": 2}, "duration"),
        ({"duration": 16}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"seed": -1}, "seed"),
        ({"seed": 2147483648}, "seed"),
        ({"watermark": "yes"}, "watermark"),
        ({"generate_audio": 1}, "generate_audio"),
        ({"extend_from": {"job_id": "job_nope"}}, "extend_from.job_id"),
        ({"resolutionn": "720p"}, "resolutionn"),
    ],
)
def test_validation_names_the_field(api: httpx.Client, fields: dict[str, Any], param: str) -> None:
    body = {"model": HH, "prompt": "a horse", **fields}
    resp = api.post("/v1/videos/generations", json=body)
    assert resp.status_code == 400, resp.text
    err = error_of(resp)
    assert err["code"] == "invalid_request"
    assert err["param"] == param
    assert f"'{param}'" in err["message"]


def test_validation_accepts_documented_variants(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    img = "https://example.com/a.png"
    for fields in (
        {},
        {"image": img},  # auto -> i2v
        {"image": [img, img, img]},  # auto -> r2v
        {"mode": "r2v", "reference_images": [img]},
        {"mode": "t2v", "aspect_ratio": "9:16", "resolution": "1080p", "duration": 15, "seed": 2147483647},
        {"watermark": True, "generate_audio": False, "template": "talking-head", "duration": 3.5},
        {"extend_from": {"video_url": "https://example.com/v.mp4"}},
    ):
        submit(api, **fields)
    # The generic model accepts extra parameters.
    resp = api.post(
        "/v1/videos/generations", json={"model": "wan-2-5", "prompt": "x", "negative_prompt": "y", "foo": 1}
    )
    assert resp.status_code == 202
    assert sim.stats()["jobs_created"] == 8


def test_unknown_model_template_and_bad_json(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    resp = api.post("/v1/videos/generations", json={"model": "sora-9", "prompt": "x"})
    assert resp.status_code == 404 and error_of(resp)["code"] == "model_not_found"
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "x", "template": "nope"})
    assert resp.status_code == 404 and error_of(resp)["code"] == "template_not_found"
    resp = api.post("/v1/videos/generations", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400 and error_of(resp)["code"] == "invalid_request"
    resp = api.post("/v1/videos/generations", json={"prompt": "x"})
    assert resp.status_code == 400 and error_of(resp)["param"] == "model"
    stats = sim.stats()
    assert stats["posts"] == 4 and stats["jobs_created"] == 0


def test_models(api: httpx.Client) -> None:
    ids = [m["id"] for m in api.get("/v1/models").json()["data"]]
    assert HH in ids and "wan-2-5" in ids
    detail = api.get(f"/v1/models/{HH}").json()
    names = {p["name"] for p in detail["supported_parameters"]}
    assert {"prompt", "mode", "image", "aspect_ratio", "resolution", "duration", "seed", "watermark"} <= names
    prices = {row["resolution"]: row["price_usd"] for row in detail["pricing_rows"]}
    assert prices == {"720p": 0.14, "1080p": 0.18}
    resp = api.get("/v1/models/nope")
    assert resp.status_code == 404 and error_of(resp)["code"] == "model_not_found"


# --------------------------------------------------------------------------------------------------
# Lifecycle, billing, outputs
# --------------------------------------------------------------------------------------------------


def test_job_lifecycle_and_download(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    # Defaults: 20 + 6 * 5 = 50 simulated s, 1 real s at time scale 50, queued for the first 10 %.
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "a horse", "duration": 5})
    assert resp.status_code == 202
    created = resp.json()
    assert created["status"] == "queued" and created["job_id"].startswith("job_")
    assert created["poll_url"] == f"/v1/jobs/{created['job_id']}"
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + 5
    while True:
        job = api.get(created["poll_url"]).json()
        seen.append((job["status"], job["progress"]))
        if job["status"] == "completed":
            break
        assert job["completed_at"] is None and job["result"] is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "queued"
    assert "processing" in statuses
    progress = [p for s, p in seen if s == "processing"]
    assert len(progress) >= 3 and progress == sorted(progress) and progress[-1] > progress[0]
    assert all(0 <= p < 1 for p in progress)
    assert set(job) == {"job_id", "status", "progress", "created_at", "completed_at", "result", "error"}
    assert job["progress"] == 1.0 and job["error"] is None
    assert job["created_at"].endswith("Z") and job["completed_at"].endswith("Z")
    assert job["result"]["usage"] == {"billable_units": 5, "billing_unit": "video-second", "cost_usd": 0.7}
    (out,) = job["result"]["data"]
    assert out["content_type"] == "video/mp4" and out["duration_seconds"] == 5
    # Presigned: no API key needed.
    video = httpx.get(out["url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == len(ASSET)
    assert video.content == ASSET and video.content[4:8] == b"ftyp"
    stats = sim.stats()
    assert stats["downloads"] == 1 and stats["downloads_completed"] == 1
    assert stats["balance_usd"] == pytest.approx(1000 - 0.7)


def test_1080p_costs_more_and_renders_longer(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(time_scale=1000)
    job_720 = submit(api, duration=10)
    job_1080 = submit(api, duration=10, resolution="1080p")
    state = sim.state
    assert state is not None
    a, b = state.jobs[job_720], state.jobs[job_1080]
    assert b.done_at - b.created_at == pytest.approx(20 + 6 * 10 * 1.5)
    assert a.done_at - a.created_at == pytest.approx(20 + 6 * 10)
    assert wait_terminal(api, job_1080)["result"]["usage"]["cost_usd"] == 1.8
    assert sim.stats()["balance_usd"] == pytest.approx(1000 - 1.4 - 1.8)


def test_failing_prompts_are_not_billed(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim)
    policy = submit(api, prompt="please SIMULATE_CONTENT_POLICY now")
    unavailable = submit(api, prompt="SIMULATE_MODEL_UNAVAILABLE")
    job = wait_terminal(api, policy)
    assert job["status"] == "failed" and job["result"] is None and job["completed_at"]
    assert job["error"]["code"] == "content_policy_violation" and job["error"]["billed"] is False
    job = wait_terminal(api, unavailable)
    assert job["error"] == {
        "code": "model_unavailable",
        "message": job["error"]["message"],
        "billed": False,
    }
    usage = api.get("/v1/account/usage").json()
    assert usage["balance_usd"] == 1000
    assert [e["cost"]["amount"] for e in usage["data"]] == [0, 0]
    # Custom mapping, billed.
    sim.configure(failing_prompts={"BOOM": {"code": "render_failed", "billed": True}})
    job = wait_terminal(api, submit(api, prompt="BOOM"))
    assert job["error"]["code"] == "render_failed" and job["error"]["billed"] is True
    assert api.get("/v1/account/usage").json()["balance_usd"] == pytest.approx(1000 - 0.7)


def test_insufficient_credits(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(credit_balance_usd=0.5)
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "x", "duration": 5})
    assert resp.status_code == 402 and error_of(resp)["code"] == "insufficient_credits"
    submit(api, duration=3)  # $0.42
    assert sim.stats()["balance_usd"] == pytest.approx(0.08)
    assert sim.stats()["jobs_created"] == 1


def test_unknown_status_while_running(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(unknown_status="in_progress", render_base_seconds=50, render_seconds_per_video_second=0)
    job_id = submit(api)
    time.sleep(0.15)  # past the queued 10 % (5 simulated s = 0.1 real s)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "in_progress"


def test_retention_then_404_while_url_still_works(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim, retention_seconds=10)  # 0.2 real s
    job_id = submit(api)
    url = wait_terminal(api, job_id)["result"]["data"][0]["url"]
    time.sleep(0.3)
    resp = api.get(f"/v1/jobs/{job_id}")
    assert resp.status_code == 404 and error_of(resp)["code"] == "job_not_found"
    assert httpx.get(url).content == ASSET  # the CDN URL lives 7 days, the job state 1 hour
    # And on demand.
    sim.configure(retention_seconds=3600)
    other = submit(api)
    assert api.get(f"/v1/jobs/{other}").status_code == 200
    sim.expire_job(other)
    assert api.get(f"/v1/jobs/{other}").status_code == 404
    assert httpx.post(f"{sim.url}/_jobs/job_unknown/expire").status_code == 404


def test_url_expiry_signature_and_fresh_url(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim)
    job_id = submit(api)
    url = wait_terminal(api, job_id)["result"]["data"][0]["url"]
    assert re.search(r"/v1/outputs/job_\w+/0\.mp4\?expires=\d+&signature=[0-9a-f]{64}$", url)
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    resp = httpx.get(tampered)
    assert resp.status_code == 403 and error_of(resp)["code"] == "invalid_signature"
    # Expire the URLs handed out so far: 403 "expired", the next poll signs a working one.
    httpx.post(f"{sim.url}/_jobs/{job_id}/expire", json={"retention": False, "urls": True}).raise_for_status()
    resp = httpx.get(url)
    assert resp.status_code == 403 and "expired" in error_of(resp)["message"]
    fresh = api.get(f"/v1/jobs/{job_id}").json()["result"]["data"][0]["url"]
    assert fresh != url
    assert httpx.get(fresh).content == ASSET
    # Natural expiry after the TTL (simulated seconds).
    sim.configure(output_url_ttl_seconds=3)  # 0.06 real s
    short = api.get(f"/v1/jobs/{job_id}").json()["result"]["data"][0]["url"]
    time.sleep(0.15)
    resp = httpx.get(short)
    assert resp.status_code == 403 and "expired" in error_of(resp)["message"]


def test_range_request(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim)
    url = wait_terminal(api, submit(api))["result"]["data"][0]["url"]
    resp = httpx.get(url, headers={"Range": "bytes=100-299"})
    assert resp.status_code == 206
    assert resp.headers["content-range"] == f"bytes 100-299/{len(ASSET)}"
    assert resp.headers["content-length"] == "200"
    assert resp.content == ASSET[100:300]
    resp = httpx.get(url, headers={"Range": "bytes=-16"})
    assert resp.status_code == 206 and resp.content == ASSET[-16:]
    resp = httpx.get(url, headers={"Range": f"bytes={len(ASSET)}-"})
    assert resp.status_code == 416


def test_padded_output_exact_size_and_hash(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    size = 3 * 1024 * 1024 + 7
    fast(sim, output_size_bytes=size)
    url = wait_terminal(api, submit(api))["result"]["data"][0]["url"]
    resp = httpx.get(url)
    assert resp.status_code == 200 and len(resp.content) == size
    assert int(resp.headers["content-length"]) == size
    assert resp.content == sim.expected_video_bytes() == expected_video_bytes(size)
    assert hashlib.sha256(resp.content).hexdigest() == sim.expected_video_sha256() == expected_video_sha256(size)
    # Still one valid MP4: the sample followed by a single `free` box up to the end.
    n = sample_video_size()
    assert resp.content[:n] == ASSET
    assert struct.unpack(">I4s", resp.content[n : n + 8]) == (size - n, b"free")
    # A range deep in the padding.
    part = httpx.get(url, headers={"Range": f"bytes={size - 10}-"})
    assert part.status_code == 206 and part.content == bytes(10)
    with pytest.raises(ValueError, match="output size"):
        sim.configure(output_size_bytes=n + 3)
    resp = httpx.post(f"{sim.url}/_config", json={"output_size_bytes": n + 3})
    assert resp.status_code == 400


def test_truncated_download(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    size = 4 * 1024 * 1024
    fast(sim, output_size_bytes=size, fail_next_requests=[{"kind": "truncate", "match": "download"}])
    url = wait_terminal(api, submit(api))["result"]["data"][0]["url"]
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as resp:
        assert resp.status_code == 200 and int(resp.headers["content-length"]) == size
        for chunk in resp.iter_raw():
            received += len(chunk)
    assert received == size // 2
    again = httpx.get(url)
    assert hashlib.sha256(again.content).hexdigest() == expected_video_sha256(size)
    stats = sim.stats()
    assert stats["downloads"] == 2 and stats["downloads_completed"] == 1


# --------------------------------------------------------------------------------------------------
# Rate limit, faults, outage
# --------------------------------------------------------------------------------------------------


def test_rate_limit_window_and_headers(sim: EmpirioLabsSimulator) -> None:
    # 60 simulated s = 1 real s. Two keys of the same account share the budget.
    sim.configure(time_scale=60, rate_limit_rpm=5, api_keys=["sk-a", "sk-b"])
    keys = ["sk-a", "sk-b"]
    remaining = []
    with httpx.Client(base_url=sim.url) as c:
        for i in range(5):
            resp = c.get("/v1/models", headers={"x-api-key": keys[i % 2]})
            assert resp.status_code == 200
            remaining.append(int(resp.headers["x-ratelimit-remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        # Downloads and control endpoints are not counted.
        assert c.get("/_stats").status_code == 200
        resp = c.get("/v1/models", headers={"x-api-key": "sk-b"})
        assert resp.status_code == 429
        assert error_of(resp)["code"] == "rate_limit_exceeded"
        retry_after = int(resp.headers["retry-after"])
        assert retry_after == 1
        assert resp.headers["x-ratelimit-limit"] == "5" and resp.headers["x-ratelimit-remaining"] == "0"
        time.sleep(retry_after + 0.05)
        assert c.get("/v1/models", headers={"x-api-key": "sk-a"}).status_code == 200
        sim.configure(retry_after_header=False)
        for _ in range(5):
            c.get("/v1/models", headers={"x-api-key": "sk-a"})
        resp = c.get("/v1/models", headers={"x-api-key": "sk-a"})
        assert resp.status_code == 429
        assert "retry-after" not in resp.headers and "x-ratelimit-limit" not in resp.headers
    stats = sim.stats()
    assert stats["rate_limited"] >= 2 and stats["responses_by_status"]["429"] == stats["rate_limited"]
    assert stats["peak_requests_60s"] >= 6


def test_scripted_status_faults(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(
        fail_next_requests=[
            {"match": "post", "status": 503, "retry_after": 2},
            {"match": "poll", "status": 500, "count": 2},
            {"match": "post", "status": 502, "accepted": True},
        ]
    )
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "x"})
    assert resp.status_code == 503 and resp.headers["retry-after"] == "2"
    assert error_of(resp)["code"] == "model_unavailable"
    assert sim.stats()["jobs_created"] == 0  # rejected before acceptance
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "x"})
    assert resp.status_code == 502
    assert sim.stats()["jobs_created"] == 1  # the nasty case: billed, but the client saw a 502
    job_id = submit(api)
    assert api.get(f"/v1/jobs/{job_id}").status_code == 500
    assert api.get(f"/v1/jobs/{job_id}").status_code == 500
    assert api.get(f"/v1/jobs/{job_id}").status_code == 200
    stats = sim.stats()
    assert stats["pending_faults"] == 0 and stats["faults_injected"] == 4
    assert stats["posts"] == 3 and stats["gets_per_job"] == {job_id: 3}


def test_reset_malformed_and_delay_faults(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(fail_next_requests=[{"kind": "reset", "match": "post"}])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/v1/videos/generations", json={"model": HH, "prompt": "x"})
    assert sim.stats()["jobs_created"] == 0
    job_id = submit(api)
    sim.configure(fail_next_requests=[{"kind": "malformed_json", "match": "poll"}])
    resp = api.get(f"/v1/jobs/{job_id}")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        resp.json()
    assert api.get(f"/v1/jobs/{job_id}").json()["job_id"] == job_id
    # A delayed POST times out on the client, yet the job exists (and is billed).
    sim.configure(fail_next_requests=[{"kind": "delay", "seconds": 0.5, "match": "post"}])
    with pytest.raises(httpx.ReadTimeout):
        api.post("/v1/videos/generations", json={"model": HH, "prompt": "x"}, timeout=0.2)
    assert sim.stats()["jobs_created"] == 2


def test_outage_and_random_errors(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    sim.configure(outage_seconds=0.3)
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "x"})
    assert resp.status_code == 503 and error_of(resp)["code"] == "model_unavailable"
    resp = api.get("/v1/models")
    assert resp.status_code == 503 and error_of(resp)["code"] == "upstream_error"
    time.sleep(0.35)
    assert api.get("/v1/models").status_code == 200
    sim.configure(error_rate_5xx=0.5, seed=7)
    codes = [api.get("/v1/models").status_code for _ in range(20)]
    assert {500, 502, 503} & set(codes) and 200 in codes
    sim.configure(error_rate_5xx=0.0)
    assert api.get("/v1/models").status_code == 200


# --------------------------------------------------------------------------------------------------
# Uploads, usage, stats, config
# --------------------------------------------------------------------------------------------------


def test_upload_then_use_as_image(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    resp = api.post("/v1/files/upload", files={"file": ("my horse.png", png, "image/png")})
    assert resp.status_code in (200, 201), resp.text
    up = resp.json()
    assert re.fullmatch(r"bunny://uploads/[0-9a-f]+/my_horse\.png", up["path"])
    assert up["content_type"] == "image/png" and up["size_bytes"] == len(png)
    assert httpx.get(up["url"]).content == png
    submit(api, image=up["path"])
    # Not an image type, empty, too large, missing field.
    resp = api.post("/v1/files/upload", files={"file": ("a.txt", b"hello", "text/plain")})
    assert resp.status_code == 400 and "content type" in error_of(resp)["message"]
    audio = api.post("/v1/files/upload", files={"file": ("a.mp3", b"ID3....", "audio/mpeg")}).json()
    resp = api.post("/v1/videos/generations", json={"model": HH, "prompt": "x", "image": audio["path"]})
    assert resp.status_code == 400 and error_of(resp)["param"] == "image"
    sim.configure(upload_max_bytes=1000)
    resp = api.post("/v1/files/upload", files={"file": ("b.png", bytes(2000), "image/png")})
    assert resp.status_code == 400 and "too large" in error_of(resp)["message"]
    resp = api.post("/v1/files/upload", files={"other": ("b.png", b"x", "image/png")})
    assert resp.status_code == 400 and error_of(resp)["param"] == "file"
    assert sim.stats()["uploads"] == 2


def test_usage(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim)
    first = submit(api, duration=3)
    done = wait_terminal(api, first)
    second = api.post("/v1/videos/generations", json={"model": "wan-2-5", "prompt": "x", "duration": 10}).json()
    usage = api.get("/v1/account/usage").json()
    assert usage["balance_usd"] == pytest.approx(1000 - 0.42 - 1.0)
    assert [e["job_id"] for e in usage["data"]] == [second["job_id"], first]
    event = usage["data"][1]
    assert event["model"] == HH and event["status"] == "completed"
    assert event["cost"] == {"amount": 0.42, "currency": "USD"}
    assert len(event["output_urls"]) == 1 and done["result"]["data"][0]["url"].split("?")[0] in event["output_urls"][0]
    assert httpx.get(event["output_urls"][0]).content == ASSET
    assert [e["job_id"] for e in api.get("/v1/account/usage", params={"model": HH}).json()["data"]] == [first]
    assert len(api.get("/v1/account/usage", params={"limit": 1}).json()["data"]) == 1
    assert api.get("/v1/account/usage", params={"from": "2999-01-01"}).json()["data"] == []
    resp = api.get("/v1/account/usage", params={"limit": "x"})
    assert resp.status_code == 400 and error_of(resp)["param"] == "limit"


def test_stats_counters(api: httpx.Client, sim: EmpirioLabsSimulator) -> None:
    fast(sim)
    job_id = submit(api)
    api.post("/v1/videos/generations", json={"model": HH})  # rejected, still a POST
    job = wait_terminal(api, job_id)
    polls = sim.stats()["gets_per_job"][job_id]
    httpx.get(job["result"]["data"][0]["url"])
    api.get("/v1/jobs/job_unknown")
    stats = httpx.get(f"{sim.url}/_stats").json()
    assert stats["posts"] == 2 and stats["jobs_created"] == 1
    assert stats["gets_per_job"] == {job_id: polls, "job_unknown": 1}
    assert stats["polls_total"] == polls + 1
    assert stats["downloads"] == 1 and stats["downloads_completed"] == 1
    assert stats["requests_total"] == 2 + polls + 1 + 1
    by_status = stats["responses_by_status"]
    assert by_status["202"] == 1 and by_status["400"] == 1 and by_status["404"] == 1
    assert by_status["200"] == polls + 1
    assert stats["peak_requests_60s"] == 2 + polls + 1
    assert stats["rate_limited"] == 0 and stats["uploads"] == 0


def test_config_endpoint_at_runtime(sim: EmpirioLabsSimulator) -> None:
    base = sim.url
    cfg = httpx.get(f"{base}/_config").json()
    assert cfg["time_scale"] == 50 and cfg["rate_limit_rpm"] == 50 and cfg["credit_balance_usd"] == 1000
    cfg = httpx.post(f"{base}/_config", json={"rate_limit_rpm": 1, "credit_balance_usd": 5}).json()
    assert cfg["rate_limit_rpm"] == 1 and cfg["credit_balance_usd"] == 5
    headers = {"x-api-key": sim.api_key}
    assert httpx.get(f"{base}/v1/models", headers=headers).status_code == 200
    assert httpx.get(f"{base}/v1/models", headers=headers).status_code == 429
    for bad in ({"nope": 1}, {"time_scale": -1}, {"fail_next_requests": [{"status": 418}]}):
        resp = httpx.post(f"{base}/_config", json=bad)
        assert resp.status_code == 400, bad
    assert httpx.post(f"{base}/_reset").json() == {"ok": True}
    cfg = httpx.get(f"{base}/_config").json()
    assert cfg["rate_limit_rpm"] == 50 and cfg["credit_balance_usd"] == 1000 and cfg["time_scale"] == 50
    assert httpx.get(f"{base}/_stats").json()["requests_total"] == 0
