"""Benchmark: peak memory and throughput of the transfer operator, against two baselines.

``make bench-transfer`` (1 GB), ``.venv/bin/python bench/transfer.py --size 200M --no-docs`` for a look,
``--quick`` for a smoke run (a few MB, one round, no naive copy, docs untouched).

One output of ``--size`` bytes is served by the EmpirioLabs simulator, in a child process (so its
CPU is not counted against the copy), and copied to ``file://`` and to moto's S3 server (also a
child process) by:

* ``operator``: ``EmpirioLabsToObjectStorageOperator.execute`` (streaming, verified; straight
  to the final name as an uncommitted upload on S3, temp-then-rename on ``file://``);
* ``fsspec put``: a plain ``fs.put`` of the same bytes from local disk (no HTTP at all): the
  ceiling for the storage side;
* ``naive``: what ``HttpToS3Operator`` does: ``response.content`` (the whole body in memory),
  then one write.

Each variant runs in a child process of its own and reports its own peak RSS (``ru_maxrss``)
and its RSS before the copy (imports included), so the figures do not mix. Figures are printed
and, unless ``--quick`` or ``--no-docs``, written to the ``## Transfer`` section of
``docs/benchmarks.md`` (through ``bench/_common.py``, like every bench).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    bench_arguments,
    command_line,
    load_average,
    machine,
    publish,
    rss_bytes,
    setup_airflow_env,
    table,
)

TITLE = "Transfer"
S3_CONN_ID = "bench_s3"
MiB = 1024 * 1024
#: ``--quick``: enough bytes for several chunks and two S3 parts, one round.
QUICK_SIZE = 12 * MiB


def parse_size(text: str) -> int:
    """``1G``, ``200M``, ``5MiB`` or a plain byte count, as bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)(i?)[bB]?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 200M, 5MiB, 1048576)")
    number, unit, binary = float(match.group(1)), match.group(2).upper(), bool(match.group(3))
    base = 1024 if binary else 1000
    return int(number * base ** " KMG".index(unit or " "))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for moto's server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb() -> float:
    """Current RSS of this process, in MB."""
    return rss_bytes() / 1e6


def peak_rss_mb() -> float:
    """Peak RSS of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


# ------------------------------------------------------------------------------- child side


def child(variant: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one variant in this (child) process; report its timing and memory."""
    from airflow.sdk import ObjectStoragePath

    dest = ObjectStoragePath(args["dest"], conn_id=args.get("conn_id"))
    size = int(args["size"])
    if variant == "operator":
        from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
            EmpirioLabsToObjectStorageOperator,
        )

        block_size = args.get("block_size")
        op = EmpirioLabsToObjectStorageOperator(
            task_id="bench",
            **({"write_block_size": block_size} if block_size else {}),
            output_urls=[args["url"]],
            destination=str(args["dest"]).rsplit("/", 1)[0] + "/",
            dest_conn_id=args.get("conn_id"),
            object_name=str(args["dest"]).rsplit("/", 1)[1],
            if_exists="replace",
            asset_alias=None,
            progress_interval_seconds=3600,
        )
        dest.fs  # noqa: B018 - build the filesystem (client, credentials) before timing
        before = rss_mb()
        start = time.perf_counter()
        op.execute({})  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        assert op.results[0].size == size
        commit_seconds = op.results[0].commit_seconds
    elif variant == "put":
        fs = dest.fs
        before = rss_mb()
        start = time.perf_counter()
        fs.put(args["local"], dest.path)
        seconds = time.perf_counter() - start
    elif variant == "naive":
        import httpx

        fs = dest.fs
        before = rss_mb()
        start = time.perf_counter()
        body = httpx.get(args["url"], timeout=300).content  # the whole video in memory
        with dest.open("wb") as out:
            out.write(body)
        seconds = time.perf_counter() - start
    else:
        raise SystemExit(f"unknown variant {variant}")
    written = dest.size()
    if written != size:
        raise SystemExit(f"{variant}: wrote {written} bytes, expected {size}")
    dest.unlink()
    result = {"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}
    if variant == "operator":
        result["commit_seconds"] = commit_seconds
    return result


# ------------------------------------------------------------------------------ parent side


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("moto server exited during startup")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def make_job(sim: Any) -> str:
    import httpx

    headers = {"Authorization": f"Bearer {sim.api_key}"}
    job_id = httpx.post(
        f"{sim.url}/v1/videos/generations",
        json={"model": "happyhorse-1-1", "prompt": "benchmark"},
        headers=headers,
    ).json()["job_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = httpx.get(f"{sim.url}/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] == "completed":
            return str(job["result"]["data"][0]["url"])
        time.sleep(0.1)
    raise RuntimeError("the simulator's job did not complete")


def warm_up(url: str) -> None:
    """Read the output once, unmeasured: the simulator builds and caches its file on first use."""
    import httpx

    with httpx.stream("GET", url, timeout=300) as response:
        for _ in response.iter_raw():
            pass


def run_child(variant: str, args: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant, json.dumps(args)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = bench_arguments(__doc__, f"a {QUICK_SIZE // MiB} MiB output, one round, docs untouched")
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"), help="output size (default 1G)")
    parser.add_argument("--targets", default="file,s3", help="comma-separated: file, s3 (default both)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; each variant's fastest run is kept (default 2)")
    parser.add_argument(
        "--block-sizes",
        type=lambda text: [parse_size(t) for t in text.split(",")],
        help="operator rows with these storage block sizes instead of the default one, e.g. 5MiB,8MiB,16MiB",
    )
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "ARGS"), help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.child:
        print(json.dumps(child(opts.child[0], json.loads(opts.child[1]))), flush=True)
        return
    if opts.quick:
        opts.size, opts.repeat = QUICK_SIZE, 1
    setup_airflow_env()  # the children inherit it: a throwaway Airflow home, never the user's

    from airflow_provider_empiriolabs.testing import EmpirioLabsSimulator, video

    size = opts.size
    targets = [t.strip() for t in opts.targets.split(",") if t.strip()]
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    workdir = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    local = video.video_path(size)  # the very bytes the simulator serves, for the plain put
    moto = None
    rows: list[dict[str, Any]] = []
    load_before = load_average()
    print(f"Transfer benchmark: {size / 1e6:,.0f} MB output, targets {targets}", flush=True)
    try:
        with EmpirioLabsSimulator(
            process=True,
            render_base_seconds=0,
            render_seconds_per_video_second=0,
            output_size_bytes=size,
        ) as sim:
            env["AIRFLOW_CONN_EMPIRIOLABS_DEFAULT"] = sim.connection_json()
            url = make_job(sim)
            warm_up(url)
            for target in targets:
                if target == "file":
                    dest, conn_id = f"file://{workdir}/out/video.mp4", None
                    (workdir / "out").mkdir(exist_ok=True)
                elif target == "s3":
                    if moto is None:
                        moto, endpoint = start_moto()
                        env[f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"] = json.dumps(
                            {
                                "conn_type": "aws",
                                "login": "testing",
                                "password": "testing",
                                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
                            }
                        )
                        import boto3

                        boto3.client(
                            "s3",
                            endpoint_url=endpoint,
                            region_name="us-east-1",
                            aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                        ).create_bucket(Bucket="bench")
                    dest, conn_id = "s3://bench/out/video.mp4", S3_CONN_ID
                else:
                    raise SystemExit(f"unknown target {target!r}")
                variants: list[tuple[str, str, int | None]] = [("put", "fsspec put from local disk", None)]
                variants += [
                    ("operator", f"operator, {b // MiB} MiB blocks" if b else "operator (streaming)", b)
                    for b in opts.block_sizes or [None]
                ]
                if not opts.quick:  # the smoke run checks the operator and its baseline only
                    variants.append(("naive", "naive whole-body copy", None))
                best: dict[str, dict[str, Any]] = {}
                for _ in range(opts.repeat):  # rounds interleave the variants: each sees the same load
                    for variant, label, block_size in variants:
                        args = {"dest": dest, "conn_id": conn_id, "size": size, "url": url, "local": str(local)}
                        result = run_child(variant, {**args, "block_size": block_size}, env)
                        row = {"target": target, "variant": variant, "label": label, **result}
                        row["mb_s"] = size / 1e6 / result["seconds"]
                        print(
                            f"  {target:4} {label:28} {row['mb_s']:8.1f} MB/s  peak RSS {row['peak_rss_mb']:7.0f} MB"
                            f"  (before copy {row['rss_before_mb']:.0f} MB)",
                            flush=True,
                        )
                        kept = best.setdefault(label, {**row, "all_mb_s": []})
                        if row["seconds"] < kept["seconds"]:  # the fastest run; the worst memory
                            kept = best[label] = {
                                **row,
                                "all_mb_s": kept["all_mb_s"],
                                "peak_rss_mb": kept["peak_rss_mb"],
                            }
                        kept["peak_rss_mb"] = max(row["peak_rss_mb"], kept["peak_rss_mb"])
                        kept["all_mb_s"].append(row["mb_s"])
                rows.extend(best.values())
    finally:
        if moto is not None:
            stop(moto)
        shutil.rmtree(workdir, ignore_errors=True)

    publish(TITLE, section(rows, size, opts.repeat, load_before), opts)


def render(rows: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table, one row per target and variant."""
    header = [
        "target",
        "variant",
        "MB/s",
        "all runs (MB/s)",
        "vs put",
        "peak RSS (MB)",
        "RSS before copy (MB)",
        "copy's own RSS (MB)",
        "of the time: commit",
    ]
    cells = [
        [
            row["target"],
            row["label"],
            f"{row['mb_s']:.0f}",
            ", ".join(f"{v:.0f}" for v in row.get("all_mb_s", [row["mb_s"]])),
            f"{_vs_put(rows, row):.2f}x",
            f"{row['peak_rss_mb']:.0f}",
            f"{row['rss_before_mb']:.0f}",
            f"{_own_rss(row):.0f}",
            f"{row['commit_seconds']:.1f} s of {row['seconds']:.1f} s" if "commit_seconds" in row else "",
        ]
        for row in rows
    ]
    return table(header, cells, align="llrrrrrrr")


def _vs_put(rows: list[dict[str, Any]], row: dict[str, Any]) -> float:
    put = next(r for r in rows if r["target"] == row["target"] and r["variant"] == "put")
    return float(row["mb_s"] / put["mb_s"])


def _own_rss(row: dict[str, Any]) -> float:
    return float(max(row["peak_rss_mb"] - row["rss_before_mb"], 0))


def verdict(rows: list[dict[str, Any]]) -> str:
    """The figures against the goals (>= 0.8x the put; RSS flat, under 150 MB), one line per target."""
    lines = []
    for row in rows:
        if row["variant"] != "operator":
            continue
        lines.append(
            f"- {row['target']} ({row['label']}): {_vs_put(rows, row):.2f}x the put "
            f"({'meets' if _vs_put(rows, row) >= 0.8 else 'misses'} 0.8x); its own RSS {_own_rss(row):.0f} MB on "
            f"top of {row['rss_before_mb']:.0f} MB of imports, {row['peak_rss_mb']:.0f} MB peak."
        )
    return "\n".join(lines)


def _shown(size: int) -> str:
    return f"{size / 1e9:g} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def section(rows: list[dict[str, Any]], size: int, repeat: int, load_before: str) -> str:
    """The ``## Transfer`` section of ``docs/benchmarks.md``: how it was measured, the table, the verdict."""
    return (
        f"`EmpirioLabsToObjectStorageOperator` copying one {_shown(size)} output served by the simulator "
        f"(child process) to `file://` and to moto S3 (child process), each variant in its own process, "
        f"{repeat} interleaved round(s), each variant's fastest run shown (peak RSS: its highest); "
        f"{machine()}; load average before / after: {load_before} and {load_average()} (other work shares "
        "the machine).\n\n"
        f"Reproduce: `make bench-transfer` (or `{command_line()}`; `--size 200M --no-docs` for a look, "
        "`--quick` for a smoke run, `--block-sizes 5MiB,16MiB` to compare storage block sizes). The machine "
        "is shared: run it when `uptime` shows it quiet.\n\n"
        f"{render(rows)}\n\n"
        f"Goal: at least 0.8x the put, and the copy's own RSS flat whatever the size:\n\n{verdict(rows)}\n\n"
        "Reading the table:\n\n"
        "- *RSS before copy* is the child process after importing Airflow's SDK, the provider and the storage "
        "filesystem, before any byte moves; *copy's own RSS* is peak minus that: what the copy itself costs. "
        "The operator's stays flat whatever the size (1 MiB network chunks; the storage file buffers one "
        "8 MiB block, which s3fs copies a few times while sending it as a part: 16 MiB blocks cost ~88 MB "
        "here, 5 MiB ~40 MB, at no measurable difference in throughput on moto); the naive copy holds the whole "
        "video (and on S3 several copies of it). The goal's *under 150 MB* cannot hold for the absolute peak "
        "of any process that imports Airflow: the imports alone are ~145 MB (~155 MB with the S3 filesystem), "
        "before a byte moves. What the operator controls is its own RSS, and that is what stays flat.\n"
        "- *commit* is the step that makes the verified object appear at its final name. On S3 (and GCS, "
        "Azure) the bytes go straight to the final name as an upload that only `close()` commits (completing "
        "the multipart upload: the last part plus CompleteMultipartUpload), so there is no second pass over "
        "the bytes. Most of that commit time is moto assembling the 1 GB object from its parts in Python "
        "(4-10 s measured on its own here, whatever the part size); the put pays the same for its own "
        "multipart upload, and AWS S3 does it server-side in well under a second. "
        "On `file://` the bytes go to a temporary file that is then renamed (free). Before this "
        "change S3 used a temporary object too, and moto's server-side copy of it to the final name took "
        "27 of 49 s (0.42x the put).\n"
        "- `fsspec put` reads a local file (here a sparse one, so the kernel serves zeros at memory speed): "
        "it is the ceiling of the storage side, without HTTP. To `file://` it is an in-kernel copy "
        "(`shutil.copyfile` of a sparse file) that swings from ~400 to ~2900 MB/s between rounds: read the "
        "operator's `file://` row in absolute terms (HTTP-bound, a few hundred MB/s), not as a ratio. "
        "On S3 it sends 50 MiB parts several at a time "
        "(s3fs `max_concurrency`), all of them in memory: hence its RSS.\n"
    )


if __name__ == "__main__":
    main()
