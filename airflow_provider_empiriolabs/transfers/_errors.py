"""
The transfer's errors, in one module that the engine and its helpers all import.

They are re-exported (and documented) by
:mod:`airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage`, their public home;
they live here so that the helper modules (URL trust, body checks) can raise them without an
import cycle.
"""

from __future__ import annotations

from airflow_provider_empiriolabs.exceptions import EmpirioLabsError

__all__ = [
    "EmpirioLabsDestinationConflictError",
    "EmpirioLabsDownloadError",
    "EmpirioLabsDownloadTimeoutError",
    "EmpirioLabsOutputExpiredError",
    "EmpirioLabsOutputTooLargeError",
    "EmpirioLabsTransferError",
    "EmpirioLabsUnexpectedContentTypeError",
    "EmpirioLabsUnrecognizedContainerError",
    "EmpirioLabsUnsafeUrlError",
    "EmpirioLabsUnsupportedEncodingError",
    "RetryableDownloadError",
]


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


class RetryableDownloadError(Exception):
    """A download attempt failed in a way another attempt may fix (network, 5xx, short body)."""
