"""Test support: a local EmpirioLabs API simulator, its runners and a pytest plugin.

Importing this package is light on purpose (standard library only): the server stack (Starlette,
uvicorn) is imported when a simulator starts, and Airflow never, so a test module can import it
at collection time without paying for either.

Three ways in:

* ``with EmpirioLabsSimulator(time_scale=50) as sim:`` (a thread, or ``process=True``);
* ``python -m airflow_provider_empiriolabs.testing --port 0`` (prints the URL and an export line);
* ``pytest_plugins = ["airflow_provider_empiriolabs.testing.pytest_plugin"]`` for the fixtures
  ``empiriolabs_simulator`` and ``empiriolabs_connection``.
"""

from __future__ import annotations

from airflow_provider_empiriolabs.testing.server import DEFAULT_API_KEY, EmpirioLabsSimulator, connection_json
from airflow_provider_empiriolabs.testing.video import (
    SAMPLE_VIDEO_PATH,
    expected_video_bytes,
    expected_video_sha256,
    sample_video_size,
)

__all__ = [
    "DEFAULT_API_KEY",
    "SAMPLE_VIDEO_PATH",
    "EmpirioLabsSimulator",
    "connection_json",
    "expected_video_bytes",
    "expected_video_sha256",
    "sample_video_size",
]
