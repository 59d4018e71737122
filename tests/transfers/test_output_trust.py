"""The transfer against hostile output servers: real HTTP on 127.0.0.1, nothing mocked but DNS.

Each test is a behaviour the transfer used to get wrong: loopback, private and metadata hosts
were fetched, cross-host redirects followed, user info sent as Basic auth, any bytes stored as
``.mp4``, a gzip answer failed every copy, and a drip-feeding server held the task forever.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsDownloadError,
    EmpirioLabsDownloadTimeoutError,
    EmpirioLabsUnrecognizedContainerError,
    EmpirioLabsUnsafeUrlError,
    EmpirioLabsUnsupportedEncodingError,
)
from airflow_provider_empiriolabs.testing.video import sample_video_bytes
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import EmpirioLabsToObjectStorageOperator
from tests.transfers.hostile_server import HostileServer, body, drip, hostile_server, redirect

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow.sdk import ObjectStoragePath

VIDEO = sample_video_bytes()
WEBM = b"\x1a\x45\xdf\xa3" + bytes(64)
HTML = b"<!DOCTYPE html><html><body>Access denied</body></html>"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


def set_connection(monkeypatch: pytest.MonkeyPatch, host: str, **extra: Any) -> None:
    """The EmpirioLabs connection the transfer reads its output rules from."""
    conn = {"conn_type": "empiriolabs", "host": host, "password": "sk-empiriolabs-test"}
    if extra:
        conn["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", json.dumps(conn))


@pytest.fixture
def simulator_like(monkeypatch: pytest.MonkeyPatch, server: HostileServer) -> HostileServer:
    """A connection like the simulator's: plain http on 127.0.0.1, private hosts allowed."""
    set_connection(monkeypatch, f"http://127.0.0.1:{server.port}", allow_private_output_hosts=True)
    return server


def copy(root: ObjectStoragePath, url: str, **kwargs: Any) -> list[str]:
    kwargs.setdefault("retry_backoff_seconds", 0.01)
    kwargs.setdefault("max_attempts", 2)
    op = EmpirioLabsToObjectStorageOperator(
        task_id="copy", destination=f"file://{root.path.rstrip('/')}/", output_urls=[url], object_name="0.mp4", **kwargs
    )
    return op.execute({})  # type: ignore[arg-type]


def stored(root: ObjectStoragePath) -> list[str]:
    base = root.path.rstrip("/")
    return sorted(p[len(base) :].lstrip("/") for p in root.fs.find(base))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------- hosts


def test_production_connection_refuses_a_loopback_output_host(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath
) -> None:
    # An https API connection with no extras: what production looks like. "localhost" is a name,
    # so only resolving it shows where it points.
    set_connection(monkeypatch, "https://api.empiriolabs.ai")
    url = f"https://localhost:{server.port}/v.mp4?expires=9&signature=s3cr3t"

    with pytest.raises(EmpirioLabsUnsafeUrlError) as caught:
        copy(file_root, url)

    message = str(caught.value)
    assert "loopback" in message and "allow_private_output_hosts" in message
    assert f"https://localhost:{server.port}/v.mp4" in message and "s3cr3t" not in message
    assert server.seen == [] and stored(file_root) == []


def test_plain_http_simulator_connection_without_the_extra_refuses_127_0_0_1(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath
) -> None:
    server.routes["/v.mp4"] = body(VIDEO)
    set_connection(monkeypatch, f"http://127.0.0.1:{server.port}")  # no allow_private_output_hosts

    with pytest.raises(EmpirioLabsUnsafeUrlError, match=r"127\.0\.0\.1.*loopback"):
        copy(file_root, server.url("/v.mp4"))
    assert server.seen == [] and stored(file_root) == []


def test_simulator_like_connection_copies_from_127_0_0_1(
    simulator_like: HostileServer, file_root: ObjectStoragePath
) -> None:
    simulator_like.routes["/v.mp4"] = body(VIDEO)
    copy(file_root, simulator_like.url("/v.mp4"))
    assert sha256((file_root / "0.mp4").read_bytes()) == sha256(VIDEO)
    assert simulator_like.seen[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://168.63.129.16/machine?comp=goalstate",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ],
)
def test_metadata_hosts_are_refused_even_when_private_hosts_are_allowed(
    simulator_like: HostileServer, file_root: ObjectStoragePath, url: str
) -> None:
    with pytest.raises(EmpirioLabsUnsafeUrlError, match="metadata"):
        copy(file_root, url)
    assert stored(file_root) == []


def test_a_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath
) -> None:
    set_connection(monkeypatch, "https://api.empiriolabs.ai")
    real = socket.getaddrinfo

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "cdn.example.com":
            return real("10.1.2.3", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(EmpirioLabsUnsafeUrlError, match=r"cdn\.example\.com.*10\.1\.2\.3, a private address"):
        copy(file_root, "https://cdn.example.com/v.mp4?signature=s3cr3t")


def test_the_connection_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch, simulator_like: HostileServer, file_root: ObjectStoragePath
) -> None:
    """DNS rebinding: one lookup of the name per connection; the socket dials the checked address."""
    simulator_like.routes["/v.mp4"] = body(VIDEO)
    real = socket.getaddrinfo
    lookups: list[str] = []

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(str(host))
        if host == "videos.test":  # a second lookup would be answered with a metadata address
            return real("127.0.0.1" if lookups.count("videos.test") == 1 else "169.254.169.254", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    copy(file_root, simulator_like.url("/v.mp4", host="videos.test"))

    assert lookups.count("videos.test") == 1
    assert sha256((file_root / "0.mp4").read_bytes()) == sha256(VIDEO)


# --------------------------------------------------------------------------- redirects


def test_cross_host_redirect_is_refused(simulator_like: HostileServer, file_root: ObjectStoragePath) -> None:
    simulator_like.routes["/v.mp4"] = redirect(simulator_like.url("/elsewhere.mp4", host="localhost"))
    simulator_like.routes["/elsewhere.mp4"] = body(VIDEO)

    with pytest.raises(EmpirioLabsUnsafeUrlError, match=r"redirect.*allowed_output_hosts") as caught:
        copy(file_root, simulator_like.url("/v.mp4"))
    assert "s3cr3t" not in str(caught.value)
    assert [s.path for s in simulator_like.seen] == ["/v.mp4"]  # the target was never asked
    assert stored(file_root) == []


@pytest.mark.parametrize("allowed", [["localhost"], "LOCALHOST, other.example", ["*.localhost", "localhost"]])
def test_cross_host_redirect_to_an_allowed_host_is_followed(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath, allowed: Any
) -> None:
    set_connection(
        monkeypatch,
        f"http://127.0.0.1:{server.port}",
        allow_private_output_hosts=True,
        allowed_output_hosts=allowed,
    )
    server.routes["/v.mp4"] = redirect(server.url("/elsewhere.mp4", host="localhost"))
    server.routes["/elsewhere.mp4"] = body(VIDEO)
    copy(file_root, server.url("/v.mp4"))
    assert sha256((file_root / "0.mp4").read_bytes()) == sha256(VIDEO)


def test_once_set_the_allow_list_holds_first_urls_too(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath
) -> None:
    set_connection(
        monkeypatch,
        f"http://127.0.0.1:{server.port}",
        allow_private_output_hosts=True,
        allowed_output_hosts=["*.cdn.example"],
    )
    server.routes["/v.mp4"] = body(VIDEO)
    with pytest.raises(EmpirioLabsUnsafeUrlError, match=r"neither the API's nor in .*allowed_output_hosts"):
        copy(file_root, server.url("/v.mp4", host="localhost"))
    assert server.seen == []
    copy(file_root, server.url("/v.mp4"))  # the API's own host (127.0.0.1) always may
    assert sha256((file_root / "0.mp4").read_bytes()) == sha256(VIDEO)


def test_redirect_to_the_api_host_is_always_followed(
    simulator_like: HostileServer, file_root: ObjectStoragePath
) -> None:
    # The connection's host is 127.0.0.1: a CDN (here "localhost") may send the client back there.
    simulator_like.routes["/v.mp4"] = redirect(simulator_like.url("/api-side.mp4"))
    simulator_like.routes["/api-side.mp4"] = body(VIDEO)
    copy(file_root, simulator_like.url("/v.mp4", host="localhost"))
    assert sha256((file_root / "0.mp4").read_bytes()) == sha256(VIDEO)


# ---------------------------------------------------------------------------- user info


def test_userinfo_in_an_output_url_is_refused_and_never_sent(
    simulator_like: HostileServer, file_root: ObjectStoragePath
) -> None:
    simulator_like.routes["/v.mp4"] = body(VIDEO)
    url = f"http://alice:hunter2@127.0.0.1:{simulator_like.port}/v.mp4?signature=s3cr3t"

    with pytest.raises(EmpirioLabsUnsafeUrlError, match="user info") as caught:
        copy(file_root, url)
    assert "hunter2" not in str(caught.value) and "alice" not in str(caught.value)
    assert simulator_like.seen == []


def test_redirect_to_a_userinfo_url_is_refused(simulator_like: HostileServer, file_root: ObjectStoragePath) -> None:
    target = f"http://alice:hunter2@127.0.0.1:{simulator_like.port}/next.mp4"
    simulator_like.routes["/v.mp4"] = redirect(target)
    simulator_like.routes["/next.mp4"] = body(VIDEO)

    with pytest.raises(EmpirioLabsUnsafeUrlError, match="user info"):
        copy(file_root, simulator_like.url("/v.mp4"))
    assert [s.path for s in simulator_like.seen] == ["/v.mp4"]
    assert all("authorization" not in s.headers for s in simulator_like.seen)


# ------------------------------------------------------------------------ what the bytes are


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (HTML, "application/octet-stream"),
        (HTML, "video/mp4"),
        (b'{"error": "expired"}' + bytes(100), "video/mp4"),
        (b"\x00\x00", "video/mp4"),  # shorter than any container's magic
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "application/octet-stream"),  # an image, images not allowed
    ],
)
def test_bytes_that_are_no_video_are_refused_and_nothing_is_left(
    simulator_like: HostileServer, file_root: ObjectStoragePath, data: bytes, content_type: str
) -> None:
    simulator_like.routes["/v.mp4"] = body(data, content_type)
    with pytest.raises(EmpirioLabsUnrecognizedContainerError, match="not a video"):
        copy(file_root, simulator_like.url("/v.mp4"))
    assert stored(file_root) == []


def test_webm_is_accepted_and_images_when_allowed(simulator_like: HostileServer, file_root: ObjectStoragePath) -> None:
    simulator_like.routes["/v.webm"] = body(WEBM, "video/webm")
    copy(file_root, simulator_like.url("/v.webm"))
    assert (file_root / "0.mp4").read_bytes() == WEBM

    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    simulator_like.routes["/i.png"] = body(png, "image/png")
    copy(file_root, simulator_like.url("/i.png"), allowed_content_types=["image/*"], if_exists="replace")
    assert (file_root / "0.mp4").read_bytes() == png


def test_container_check_can_be_switched_off(simulator_like: HostileServer, file_root: ObjectStoragePath) -> None:
    simulator_like.routes["/v.ts"] = body(b"\x47" + bytes(187), "video/mp2t")  # MPEG-TS: no magic we know
    copy(file_root, simulator_like.url("/v.ts"), verify_container=False)
    assert (file_root / "0.mp4").read_bytes() == b"\x47" + bytes(187)


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_an_encoded_answer_despite_identity_stores_the_video(
    simulator_like: HostileServer, file_root: ObjectStoragePath, encoding: str
) -> None:
    simulator_like.routes["/v.mp4"] = body(VIDEO, encoding=encoding)  # Content-Length: encoded size
    op_result = copy(file_root, simulator_like.url("/v.mp4"))
    assert op_result
    assert sha256((file_root / "0.mp4").read_bytes()) == sha256(VIDEO)
    assert simulator_like.seen[0].headers["accept-encoding"] == "identity"


def test_a_truncated_gzip_answer_restarts_and_fails_cleanly(
    simulator_like: HostileServer, file_root: ObjectStoragePath
) -> None:
    compressed = len(gzip.compress(VIDEO))
    simulator_like.routes["/v.mp4"] = body(VIDEO, encoding="gzip", cut_after=compressed // 2)

    with pytest.raises(EmpirioLabsDownloadError, match="after 2 attempt"):
        copy(file_root, simulator_like.url("/v.mp4"))
    assert all("range" not in s.headers for s in simulator_like.seen)  # encoded ranges are not the video's
    assert stored(file_root) == []


def test_an_encoding_that_cannot_be_decoded_is_a_named_error(
    simulator_like: HostileServer, file_root: ObjectStoragePath
) -> None:
    simulator_like.routes["/v.mp4"] = body(VIDEO, encoding="compress")
    with pytest.raises(EmpirioLabsUnsupportedEncodingError, match="'compress'"):
        copy(file_root, simulator_like.url("/v.mp4"))
    assert stored(file_root) == []


# ------------------------------------------------------------------------------ deadline


@pytest.mark.parametrize("headers_too", [False, True])
def test_a_drip_feeding_server_is_cut_off_by_the_deadline(
    simulator_like: HostileServer, file_root: ObjectStoragePath, headers_too: bool
) -> None:
    stop = threading.Event()
    simulator_like.routes["/v.mp4"] = drip(VIDEO, every=0.05, headers_too=headers_too, stop=stop)
    started = time.monotonic()
    try:
        with pytest.raises(EmpirioLabsDownloadTimeoutError, match=r"download_timeout_seconds=1\b") as caught:
            copy(file_root, simulator_like.url("/v.mp4"), download_timeout_seconds=1, max_attempts=5)
    finally:
        stop.set()
    assert time.monotonic() - started < 4
    assert "s3cr3t" not in str(caught.value)
    assert stored(file_root) == []


def test_download_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="download_timeout_seconds"):
        EmpirioLabsToObjectStorageOperator(
            task_id="t", destination="file:///tmp/x/", output_urls=["https://x/v.mp4"], download_timeout_seconds=0
        )


# ------------------------------------------------------------------------------- proxies


def test_a_proxy_from_the_environment_is_still_honoured(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath
) -> None:
    # The guarded client brings its own transport, which turns httpx's proxy handling off: the
    # guard rebuilds it. The proxy (here the test server, answering absolute-form requests)
    # resolves the name; the worker checks only the name rules.
    server.routes["http://cdn.example.com/v.mp4"] = body(VIDEO)
    set_connection(monkeypatch, f"http://127.0.0.1:{server.port}")  # no allow_private_output_hosts
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")

    copy(file_root, "http://cdn.example.com/v.mp4?signature=s3cr3t")

    assert [s.path for s in server.seen] == ["http://cdn.example.com/v.mp4"]
    assert sha256((file_root / "0.mp4").read_bytes()) == sha256(VIDEO)
    with pytest.raises(EmpirioLabsUnsafeUrlError, match="metadata"):
        copy(file_root, "http://169.254.169.254/latest/meta-data/", if_exists="replace")


def test_retry_waits_never_outlast_the_deadline(simulator_like: HostileServer, file_root: ObjectStoragePath) -> None:
    simulator_like.routes["/v.mp4"] = body(VIDEO, cut_after=100)  # always short: retried
    started = time.monotonic()
    with pytest.raises(EmpirioLabsDownloadTimeoutError):
        copy(
            file_root,
            simulator_like.url("/v.mp4"),
            download_timeout_seconds=1,
            retry_backoff_seconds=20,
            max_attempts=3,
        )
    assert time.monotonic() - started < 5  # not 20 s of backoff
    assert stored(file_root) == []


# ------------------------------------------------------------------------- the connection


def test_without_an_empiriolabs_connection_the_production_rules_apply(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_EMPIRIOLABS_DEFAULT", raising=False)
    with pytest.raises(EmpirioLabsUnsafeUrlError, match="loopback"):
        copy(file_root, f"https://localhost:{server.port}/v.mp4")
    assert server.seen == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"allowed_output_hosts": ["https://cdn.example.com/videos"]}, "allowed_output_hosts holds"),
        ({"allowed_output_hosts": ["*"]}, "allowed_output_hosts holds"),
        ({"allowed_output_hosts": 42}, "must be a list of host names"),
        ({"allow_private_output_hosts": "perhaps"}, "allow_private_output_hosts must be true or false"),
    ],
)
def test_bad_connection_extras_are_named(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer, file_root: ObjectStoragePath, extra: Any, message: str
) -> None:
    set_connection(monkeypatch, f"http://127.0.0.1:{server.port}", **extra)
    with pytest.raises(ValueError, match=message):
        copy(file_root, server.url("/v.mp4"))
    assert server.seen == []
