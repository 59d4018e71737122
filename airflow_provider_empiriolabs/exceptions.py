"""
Errors of the EmpirioLabs provider, each carrying the API's own code and message.

The class says what the caller can do about it: retry (rate limit, server), fix the request
(validation), fix the account (authentication, credits), or stop (not found). No error text ever
holds the API key: the hook scrubs it before an error is built.

The transfer's errors (:class:`EmpirioLabsTransferError` and its subclasses) say why an output
was not copied to storage; none leaves anything at the final name, and none shows a signed URL's
query (every URL in them goes through ``redaction.redact_url``).
"""

from __future__ import annotations

__all__ = [
    "EmpirioLabsAnswerTooLargeError",
    "EmpirioLabsAuthenticationError",
    "EmpirioLabsDeadlineError",
    "EmpirioLabsDestinationConflictError",
    "EmpirioLabsDownloadError",
    "EmpirioLabsDownloadTimeoutError",
    "EmpirioLabsError",
    "EmpirioLabsInsufficientCreditsError",
    "EmpirioLabsNotFoundError",
    "EmpirioLabsNotSentError",
    "EmpirioLabsOutputExpiredError",
    "EmpirioLabsOutputTooLargeError",
    "EmpirioLabsRateLimitError",
    "EmpirioLabsRequestError",
    "EmpirioLabsServerError",
    "EmpirioLabsSubmissionUnknownError",
    "EmpirioLabsTransferError",
    "EmpirioLabsTransportError",
    "EmpirioLabsUnexpectedContentTypeError",
    "EmpirioLabsUnrecognizedContainerError",
    "EmpirioLabsUnsafeUrlError",
    "EmpirioLabsUnsupportedEncodingError",
    "EmpirioLabsValidationError",
]


class EmpirioLabsError(Exception):
    """
    An error of the EmpirioLabs API or of talking to it.

    :param message: what happened, in the API's words where it gave any.
    :param status_code: the HTTP status, when a response came back.
    :param code: the API's error code (``insufficient_credits``, ``rate_limit_exceeded``, ...).
    :param retry_after: seconds the API asked to wait before trying again.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [f"HTTP {self.status_code}" if self.status_code else None, self.code]
        prefix = " ".join(p for p in parts if p)
        return f"{prefix}: {self.message}" if prefix else self.message


class EmpirioLabsRequestError(EmpirioLabsError, ValueError):
    """The request breaks a documented rule; it was refused locally and never sent."""


class EmpirioLabsValidationError(EmpirioLabsError):
    """The API rejected the request as invalid (400/422). Retrying the same request cannot help."""


class EmpirioLabsAuthenticationError(EmpirioLabsError):
    """The API key is missing, malformed or unknown (401/403): fix the connection's password."""


class EmpirioLabsInsufficientCreditsError(EmpirioLabsError):
    """The account has too few credits for the request (402): top up, then run again."""


class EmpirioLabsNotFoundError(EmpirioLabsError):
    """Unknown id, or a job past the API's 1-hour retention (404)."""


class EmpirioLabsRateLimitError(EmpirioLabsError):
    """The account's requests-per-minute budget is spent (429); ``retry_after`` says for how long."""


class EmpirioLabsServerError(EmpirioLabsError):
    """The API failed (5xx), or its answer could not be read."""


class EmpirioLabsSubmissionUnknownError(EmpirioLabsError):
    """
    A job submission may or may not have been accepted (for instance a read timeout after sending).

    Submitting again could pay twice, so this is never retried: the account's usage history or
    the EmpirioLabs dashboard tells whether a job was created.
    """


class EmpirioLabsTransportError(EmpirioLabsServerError):
    """No complete answer came back (connection dropped, timed out, broken HTTP); retried for reads."""


class EmpirioLabsNotSentError(EmpirioLabsTransportError):
    """The request provably never reached the API (no connection could be made): safe to send again."""


class EmpirioLabsDeadlineError(EmpirioLabsTransportError):
    """The request's total deadline passed before its whole answer came back (a slow or stalled server)."""


class EmpirioLabsAnswerTooLargeError(EmpirioLabsServerError):
    """The API's answer is larger than the hook reads (1 MiB): refused unread."""


# -- copying outputs to storage (EmpirioLabsToObjectStorageOperator) -----------------------------


class EmpirioLabsTransferError(EmpirioLabsError):
    """Copying an output to storage failed; nothing was left at the final name."""


class EmpirioLabsUnsafeUrlError(EmpirioLabsTransferError, ValueError):
    """
    An output URL (or a redirect) may not be fetched: wrong scheme, user info, a host that resolves
    to a private, loopback, link-local, reserved or cloud-metadata address, or a redirect to a host
    outside the connection's ``allowed_output_hosts``.
    """


class EmpirioLabsOutputTooLargeError(EmpirioLabsTransferError):
    """The output is larger than ``max_size_bytes``: raise the limit if the size is expected."""


class EmpirioLabsUnexpectedContentTypeError(EmpirioLabsTransferError):
    """The output URL answered with something that is not a video (an HTML error page, JSON...)."""


class EmpirioLabsUnrecognizedContainerError(EmpirioLabsUnexpectedContentTypeError):
    """
    The body's first bytes are no video container (MP4/MOV ``ftyp``, WebM/Matroska) nor an allowed
    image: whatever the ``Content-Type`` said, it is not stored.
    """


class EmpirioLabsUnsupportedEncodingError(EmpirioLabsTransferError):
    """The server answered with a ``Content-Encoding`` the transfer cannot decode (it asked for identity)."""


class EmpirioLabsOutputExpiredError(EmpirioLabsTransferError):
    """The output URL is dead (403/404/410) and no fresh one could be had from the job."""


class EmpirioLabsDownloadError(EmpirioLabsTransferError):
    """The download kept failing (or ended short) after every allowed attempt."""


class EmpirioLabsDownloadTimeoutError(EmpirioLabsDownloadError):
    """
    The download did not finish within its total deadline (``download_timeout_seconds``): a server
    that drips bytes slower than any read timeout notices is cut off here.
    """


class EmpirioLabsDestinationConflictError(EmpirioLabsTransferError):
    """A different object already exists at the final name and ``if_exists`` forbids replacing it."""
