"""
The HTTP side of a copy: one output URL's body, streamed into a :class:`~._commit.PendingObject`.

* a broken download resumes with ``Range`` (or restarts from byte 0 when the server ignores it,
  answers another range or encodes the body), a bounded number of times with exponential backoff;
* an expired URL (403/404/410) is replaced by a fresh one from the job, while the API still
  retains it, at most :data:`_MAX_URL_REFRESHES` times;
* the size is held to ``max_size_bytes`` before anything is written when the server announces
  it, else as soon as the body exceeds it; the type, encoding and first bytes are checked by
  :mod:`._body` before the first byte is stored;
* the whole output has a deadline, looked at after every network read, and no backoff sleeps
  past it;
* every URL in a log line or an error goes through
  :func:`~airflow_provider_empiriolabs.redaction.redact_url` first: a signed URL's query is what
  grants access.

Committing, discarding and the storage file itself are :mod:`._commit`'s business.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsDownloadError,
    EmpirioLabsDownloadTimeoutError,
    EmpirioLabsOutputExpiredError,
    EmpirioLabsOutputTooLargeError,
    EmpirioLabsTransferError,
)
from airflow_provider_empiriolabs.redaction import redact_text, redact_url
from airflow_provider_empiriolabs.transfers._body import (
    CONTENT_RANGE,
    MAGIC_BYTES_NEEDED,
    BodyDecoder,
    announced_length,
    check_container,
    check_content_type,
    default_deadline_seconds,
    what_the_server_said,
)
from airflow_provider_empiriolabs.transfers._units import human_rate, human_size

if TYPE_CHECKING:
    import httpx

    from airflow_provider_empiriolabs.transfers._commit import PendingObject
    from airflow_provider_empiriolabs.transfers._guarded_http import OutputGuard

__all__ = ["Download", "DownloadSettings", "RetryableDownloadError"]

# How often a dead signed URL (see _outcome.download_step) is replaced by a fresh one from the job.
_MAX_URL_REFRESHES = 2


class RetryableDownloadError(Exception):
    """
    A download attempt failed in a way another attempt may fix (network, 5xx, short body).

    :param message: what went wrong.
    :param retry_after: seconds the server asked to wait (``Retry-After``), when it did.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class DownloadSettings:
    """
    The limits every download of a copier shares (see ``StreamingCopier`` for each one's meaning).

    :param max_size_bytes: the largest output accepted.
    :param allowed_content_types: accepted media types, lower case.
    :param chunk_size: bytes stored and hashed at a time.
    :param max_attempts: HTTP attempts per output, the first included.
    :param retry_backoff_seconds: first wait between attempts; doubles, capped at 30 s.
    :param progress_interval_seconds: how often a long download logs its progress.
    :param download_timeout_seconds: the total deadline; ``None`` derives it from the size.
    :param verify_container: refuse a body whose first bytes are no video container.
    """

    max_size_bytes: int
    allowed_content_types: tuple[str, ...]
    chunk_size: int
    max_attempts: int
    retry_backoff_seconds: float
    progress_interval_seconds: float
    download_timeout_seconds: float | None
    verify_container: bool


class Download:
    """
    One output's body, from its first request to its last byte, in a pending (uncommitted) object.

    :param url: the output's (signed) URL; replaced when a fresh one is fetched.
    :param client: the guarded httpx client.
    :param guard: its URL rules and deadline.
    :param settings: the limits.
    :param sink: where the bytes go; opened on the first good answer, discarded on a restart.
    :param log: where progress and retries are said.
    :param started: ``time.monotonic()`` when the copy began (deadline and rates count from it).
    :param refresh_url: a fresh URL for the same output, after 403/404/410; ``None`` if none can be had.
    :param before_writing: called with the announced length (``None`` when unknown) and whether the
        body is encoded, before the sink is opened: the copier refuses a conflict there.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client,
        guard: OutputGuard,
        settings: DownloadSettings,
        sink: PendingObject,
        log: Any,
        started: float,
        refresh_url: Callable[[], str] | None = None,
        before_writing: Callable[[int | None, bool], None] | None = None,
    ) -> None:
        self.url = url
        self.client = client
        self.guard = guard
        self.settings = settings
        self.sink = sink
        self.log = log
        self.started = started
        self.refresh_url = refresh_url
        self.before_writing = before_writing
        limit = settings.download_timeout_seconds or default_deadline_seconds(None, settings.max_size_bytes)
        self.deadline = started + limit  # time.monotonic() after which the download is abandoned
        self.written = 0
        self.total: int | None = None
        self.hasher: Any = hashlib.sha256()
        self.validator: str | None = None
        self.requests = 0
        self.refreshes = 0
        self.head = b""  # the first bytes of the (decoded) body, for the container check
        self.container: str | None = None  # what the head was recognised as
        self.encoded = False  # the server sent a Content-Encoding: the decoded size is not announced
        self.complete = False  # an encoded body ended whole (an identity one: written == total)

    @property
    def shown_url(self) -> str:
        """The URL as logs and errors may show it."""
        return redact_url(self.url)

    def run(self) -> None:
        """Fill the sink with the whole, checked body, retrying; leaves it open (uncommitted)."""
        import tenacity

        def say_why(retry_state: tenacity.RetryCallState) -> None:
            outcome = retry_state.outcome
            error = outcome.exception() if outcome is not None else None
            self.log.warning(
                "Download of %s interrupted at %s (%s); attempt %d of %d in %.1f s",
                self.shown_url,
                human_size(self.written),
                error,
                retry_state.attempt_number + 1,
                self.settings.max_attempts,
                retry_state.upcoming_sleep,
            )

        backoff = tenacity.wait_exponential(multiplier=self.settings.retry_backoff_seconds, max=30)

        def wait(retry_state: tenacity.RetryCallState) -> float:
            # As long as the server's Retry-After asked (it is capped when read), else the backoff;
            # never past the deadline: the next attempt would only report it passed.
            error = retry_state.outcome.exception() if retry_state.outcome else None
            asked = getattr(error, "retry_after", None) or 0.0
            return min(max(backoff(retry_state), asked), max(0.0, self.deadline - time.monotonic()))

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(RetryableDownloadError),
            before_sleep=say_why,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._attempt()
        except RetryableDownloadError as err:
            if time.monotonic() >= self.deadline:
                self._deadline_passed()
            raise EmpirioLabsDownloadError(
                f"download of {self.shown_url} failed after {self.requests} attempt(s), "
                f"{self.written:,} bytes in: {err}"
            ) from None
        if self.settings.verify_container and self.container is None:  # a body shorter than the magic
            check_container(self.head, self.settings.allowed_content_types, self.shown_url)

    def _attempt(self) -> None:
        import httpx

        if self.complete or (not self.encoded and self.total is not None and self.written >= self.total):
            return  # the body was complete; the connection broke after its last byte
        if time.monotonic() >= self.deadline:
            self._deadline_passed()
        headers = {"Accept-Encoding": "identity"}
        if self.written and not self.encoded:  # an encoded body's ranges are not the video's: restart
            headers["Range"] = f"bytes={self.written}-"
            if self.validator:
                headers["If-Range"] = self.validator
        self.requests += 1
        self.guard.begin(self.url, self.deadline)
        try:
            with self.client.stream("GET", self.url, headers=headers) as response:
                self._check_status(response)
                decoder = self._start_or_resume(response)
                self._pump(response, decoder)
        except httpx.TransportError as err:
            if time.monotonic() >= self.deadline:
                self._deadline_passed()
            raise RetryableDownloadError(f"{type(err).__name__}: {redact_text(str(err))}") from None
        if not self.encoded and self.total is not None and self.written < self.total:
            raise RetryableDownloadError(f"body ended at {self.written:,} of {self.total:,} bytes")

    def _check_status(self, response: httpx.Response) -> None:
        from airflow_provider_empiriolabs._outcome import download_step
        from airflow_provider_empiriolabs.hooks._responses import server_wait

        status = response.status_code
        step = download_step(status)
        if step == "ok":
            return
        if step == "refresh":
            said = what_the_server_said(response)
            if self.refresh_url is None:
                raise EmpirioLabsOutputExpiredError(
                    f"output URL {self.shown_url} answered HTTP {status}{said} and no "
                    "job_id was given to fetch a fresh one",
                    status_code=status,
                )
            if self.refreshes >= _MAX_URL_REFRESHES:
                raise EmpirioLabsOutputExpiredError(
                    f"output URL {self.shown_url} still answers HTTP {status}{said} after "
                    f"{self.refreshes} fresh URL(s) from the job",
                    status_code=status,
                )
            self.refreshes += 1
            self.log.warning(
                "Output URL %s answered HTTP %d%s: fetching the job again for a fresh URL", self.shown_url, status, said
            )
            new_url = self.refresh_url()
            self.guard.policy.check_url(new_url)
            self.url = new_url
            raise RetryableDownloadError(f"HTTP {status}; got a fresh URL from the job")
        if step == "retry":
            raise RetryableDownloadError(f"HTTP {status}", retry_after=server_wait(response.headers, status))
        raise EmpirioLabsTransferError(f"output URL {self.shown_url} answered HTTP {status}", status_code=status)

    def _start_or_resume(self, response: httpx.Response) -> BodyDecoder:
        """Check the answer's headers; resume or (re)start the storage file; return the body's decoder."""
        settings = self.settings
        decoder = BodyDecoder(response.headers.get("Content-Encoding", ""), self.shown_url, settings.chunk_size)
        if self.written and response.status_code == 206 and decoder.identity and not self.encoded:
            match = CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == self.written:
                self.log.info("Resuming %s at %s", self.shown_url, human_size(self.written))
                return decoder
        if self.written:
            # The server ignored Range (or answered another range, or encodes): start over from byte 0.
            self.log.info("Server did not resume %s: restarting from byte 0", self.shown_url)
            self.sink.discard()
            self.written, self.hasher, self.head, self.container = 0, hashlib.sha256(), b"", None

        check_content_type(response.headers.get("Content-Type", ""), settings.allowed_content_types, self.shown_url)
        self.encoded = not decoder.identity
        if self.encoded:
            self.log.warning(
                "%s answered Content-Encoding %r although identity was asked for: decoding it",
                self.shown_url,
                decoder.encoding,
            )
        total = announced_length(response)  # of the encoded body, when encoded
        if total is not None and total > settings.max_size_bytes:
            raise EmpirioLabsOutputTooLargeError(
                f"output {self.shown_url} is {total:,} bytes, over max_size_bytes="
                f"{settings.max_size_bytes:,}; nothing was written"
            )
        if settings.download_timeout_seconds is None and total is not None:  # the size is known: tighten
            self.deadline = min(self.deadline, self.started + default_deadline_seconds(total, settings.max_size_bytes))
        if self.before_writing is not None:
            self.before_writing(total, self.encoded)
        self.total = total
        self.validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if self.validator and self.validator.startswith("W/"):
            self.validator = None  # a weak validator cannot guard a byte range
        if not self.sink.is_open:
            self.sink.open()
        return decoder

    def _pump(self, response: httpx.Response, decoder: BodyDecoder) -> None:
        """
        Stream the body into the storage file, one network read at a time.

        Raw reads (not httpx's decoded, re-chunked stream) so that the deadline is looked at after
        every read however slowly bytes come, and so that ``Content-Length`` is compared with the
        bytes it counts: the encoded ones. What is stored, hashed and size-limited is decoded.
        """
        next_report = time.monotonic() + self.settings.progress_interval_seconds
        raw_count = 0
        pending = bytearray()  # network reads are small: store and hash in chunk_size batches
        try:
            for raw in response.iter_raw():
                raw_count += len(raw)
                if self.encoded and self.total is not None and raw_count > self.total:
                    raise EmpirioLabsTransferError(
                        f"output {self.shown_url} sent more than its announced {self.total:,} "
                        f"({decoder.encoding}-encoded) bytes"
                    )
                for piece in decoder.feed(raw):
                    self._accept(piece, len(pending))
                    pending += piece
                    if len(pending) >= self.settings.chunk_size:
                        self._store(pending)
                now = time.monotonic()
                if now >= self.deadline:
                    self._deadline_passed()
                if now >= next_report:
                    next_report = now + self.settings.progress_interval_seconds
                    self._report(now - self.started)
            if self.encoded:
                tail = decoder.flush()
                self._accept(tail, len(pending))
                pending += tail
        finally:
            if pending and self.sink.is_open:  # what arrived before a break counts for the resume
                self._store(pending)
        if self.encoded:
            if (self.total is not None and raw_count < self.total) or not decoder.finished:
                raise RetryableDownloadError(
                    f"{decoder.encoding}-encoded body ended after {raw_count:,} bytes"
                    + (f" of {self.total:,}" if self.total is not None else " before its end")
                )
            self.complete = True

    def _accept(self, piece: bytes, pending: int) -> None:
        """Check decoded bytes before they are kept: size limits, announced length, container."""
        if not piece:
            return
        size = pending + len(piece)
        if self.written + size > self.settings.max_size_bytes:
            raise EmpirioLabsOutputTooLargeError(
                f"output {self.shown_url} exceeded max_size_bytes={self.settings.max_size_bytes:,} "
                "while downloading; nothing was written"
            )
        if not self.encoded and self.total is not None and self.written + size > self.total:
            raise EmpirioLabsTransferError(f"output {self.shown_url} sent more than its announced {self.total:,} bytes")
        if len(self.head) < MAGIC_BYTES_NEEDED:
            self.head += piece[: MAGIC_BYTES_NEEDED - len(self.head)]
            if self.settings.verify_container and len(self.head) >= MAGIC_BYTES_NEEDED:
                # Before the first byte is stored: garbage never reaches the storage file.
                self.container = check_container(self.head, self.settings.allowed_content_types, self.shown_url)

    def _store(self, pending: bytearray) -> None:
        """Write, hash and count accepted bytes, and empty ``pending``."""
        data = bytes(pending)  # the storage file may keep what it is given: never a buffer reused
        pending.clear()
        self.sink.write(data)
        self.hasher.update(data)
        self.written += len(data)

    def _deadline_passed(self) -> None:
        timeout = self.settings.download_timeout_seconds
        limit = (
            f"download_timeout_seconds={timeout:g}"
            if timeout
            else "the default deadline (derived from the size; set download_timeout_seconds to change it)"
        )
        raise EmpirioLabsDownloadTimeoutError(
            f"download of {self.shown_url} did not finish within {limit}: {self.written:,} bytes "
            f"in after {self.requests} request(s); nothing was written"
        )

    def _report(self, elapsed: float) -> None:
        where = self.sink.uri
        done, rate = human_size(self.written), human_rate(self.written, elapsed)
        if self.total and not self.encoded:
            percent = 100 * self.written // self.total
            self.log.info("%s: %s of %s (%d%%), %s", where, done, human_size(self.total), percent, rate)
        else:
            self.log.info("%s: %s, %s", where, done, rate)
