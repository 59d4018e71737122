"""Runs the transfer operator in a process of its own, as a worker would (kill-and-rerun tests).

``python -m tests.transfers.copy_worker '<operator kwargs as JSON>'``. With
``"pause_after_bytes": N`` the download stops making progress after N bytes (the process prints
``holding after N bytes`` and waits, to be killed): the storage writes are real and synchronous,
only the network source is held, so the test can kill the worker at a known point mid-copy
instead of racing it. ``"attach_gcs_endpoint": URL`` registers a gcsfs filesystem for ``gs://``
(the test environment has no Google provider), as the GCS fixture does in the test process.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def _hold_downloads_after(limit: int) -> None:
    import httpx

    original = httpx.Response.iter_raw

    def held(self: httpx.Response, chunk_size: int | None = None) -> Any:
        sent = 0
        for chunk in original(self, chunk_size):
            yield chunk
            sent += len(chunk)
            if sent >= limit:
                print(f"holding after {sent} bytes", flush=True)
                while True:
                    time.sleep(3600)

    httpx.Response.iter_raw = held  # type: ignore[method-assign]


def main() -> None:
    kwargs = json.loads(sys.argv[1])
    limit = kwargs.pop("pause_after_bytes", None)
    if limit:
        _hold_downloads_after(int(limit))
    gcs_endpoint = kwargs.pop("attach_gcs_endpoint", None)
    if gcs_endpoint:  # what tests/emulators/fixtures.py does for gs:// without the Google provider
        import gcsfs
        from airflow.sdk.io import attach

        fs = gcsfs.GCSFileSystem(endpoint_url=gcs_endpoint, token="anon", project="test-project")
        attach("gs", kwargs["dest_conn_id"], fs=fs)
    from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
        EmpirioLabsToObjectStorageOperator,
    )

    operator = EmpirioLabsToObjectStorageOperator(task_id="copy", **kwargs)
    print(json.dumps(operator.execute({})), flush=True)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
