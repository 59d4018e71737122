"""``python -m airflow_provider_empiriolabs.testing``: the simulator as a standalone server.

Used by hand (point a local Airflow at it with the printed ``export`` line), by benchmarks that
need the server in its own process, and by ``EmpirioLabsSimulator(process=True)``, which reads the
``listening on`` line to learn the port. Serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from typing import Any

from airflow_provider_empiriolabs.testing.server import DEFAULT_API_KEY, bind_socket, connection_json, uvicorn_config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_empiriolabs.testing",
        description="Local EmpirioLabs API simulator (for tests, demos and benchmarks).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed on start)")
    p.add_argument("--api-key", default=DEFAULT_API_KEY, help="API key the account accepts")
    p.add_argument("--conn-id", default="empiriolabs_default", help="Airflow connection id for the export line")
    p.add_argument("--time-scale", type=float, help="simulated seconds per real second")
    p.add_argument("--rate-limit-rpm", type=int, help="requests per 60 simulated seconds (0: off)")
    p.add_argument("--credit-balance-usd", type=float, help="initial account balance")
    p.add_argument("--render-base-seconds", type=float, help="fixed part of the render time")
    p.add_argument("--render-seconds-per-video-second", type=float, help="render time per video second")
    p.add_argument("--output-size-bytes", type=int, help="pad each output MP4 to this many bytes")
    p.add_argument("--retention-seconds", type=float, help="job state kept after completion")
    p.add_argument("--output-url-ttl-seconds", type=float, help="validity of output URLs")
    p.add_argument("--seed", type=int, help="seed for jitter and random errors")
    p.add_argument("--config-json", default="{}", help="any knobs as a JSON object (flags win)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, bind, print the URL and export line, serve until a signal.

    :param argv: arguments (default: ``sys.argv[1:]``).
    """
    import uvicorn

    from airflow_provider_empiriolabs.testing.simulator import SimulatorState, create_app

    args = _parser().parse_args(argv)
    knobs: dict[str, Any] = json.loads(args.config_json)
    if not isinstance(knobs, dict):
        raise SystemExit("--config-json must be a JSON object")
    for name in (
        "time_scale",
        "rate_limit_rpm",
        "credit_balance_usd",
        "render_base_seconds",
        "render_seconds_per_video_second",
        "output_size_bytes",
        "retention_seconds",
        "output_url_ttl_seconds",
        "seed",
    ):
        value = getattr(args, name)
        if value is not None:
            knobs[name] = value
    knobs.setdefault("api_keys", [args.api_key])
    try:
        state = SimulatorState(**knobs)
    except ValueError as exc:
        raise SystemExit(f"invalid knob: {exc}") from None

    sock = bind_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    env_name = "AIRFLOW_CONN_" + args.conn_id.upper()
    print(f"EmpirioLabs simulator listening on {url} (time scale {state.clock.scale:g})", flush=True)
    print(f"export {env_name}={shlex.quote(connection_json(url, args.api_key))}", flush=True)

    server = uvicorn.Server(uvicorn_config(create_app(state), configure_logging=True))

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    # uvicorn handles SIGINT/SIGTERM while serving and re-raises them to the previous handlers
    # afterwards: with these in place a signal means a graceful stop and exit status 0, also when
    # it arrives before uvicorn is up.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
