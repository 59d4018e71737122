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

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = [
    "EmpirioLabsAnswerTooLargeError",
    "EmpirioLabsAuthenticationError",
    "EmpirioLabsConnectionNotFoundError",
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
    "missing_connection_message",
    "where_defined",
]

#: Modules whose frames are machinery between a DAG file and an operator's ``__init__``.
_MACHINERY = ("airflow.", "airflow_provider_empiriolabs.", "functools", "contextlib", "abc", "typing", "attr")


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
        self.conn_id: str | None = None

    def naming_connection(self, conn_id: str) -> EmpirioLabsError:
        """
        Say which Airflow connection the failed call used: a deployment may hold several accounts.

        ``message`` stays the API's own words; ``str()`` adds the connection (once), and for an
        authentication error that its password holds the API key.

        :param conn_id: the connection id.
        """
        if f"connection {conn_id!r}" not in self.message:
            self.conn_id = conn_id
        return self

    def __str__(self) -> str:
        parts = [f"HTTP {self.status_code}" if self.status_code else None, self.code]
        prefix = " ".join(p for p in parts if p)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.conn_id is not None:
            hint = ": its password is the API key" if isinstance(self, EmpirioLabsAuthenticationError) else ""
            text = f"{text} (connection {self.conn_id!r}{hint})"
        return text


class EmpirioLabsRequestError(EmpirioLabsError, ValueError):
    """The request breaks a documented rule; it was refused locally and never sent."""


class EmpirioLabsValidationError(EmpirioLabsError):
    """The API rejected the request as invalid (400/422). Retrying the same request cannot help."""


class EmpirioLabsAuthenticationError(EmpirioLabsError):
    """The API key is missing, malformed or unknown (401/403): fix the connection's password."""


class EmpirioLabsConnectionNotFoundError(EmpirioLabsAuthenticationError):
    """
    The Airflow connection is not defined: nothing was sent, and no retry can help until it is added.

    An authentication error, so the operators fail the task at once instead of retrying it as a
    transient fault; the message says how to add the connection.
    """


def missing_connection_message(conn_id: str) -> str:
    """
    What to do about a connection Airflow does not know: the three usual ways to add one.

    :param conn_id: the connection id the task asked for.
    """
    env = "AIRFLOW_CONN_" + "".join(ch if ch.isalnum() else "_" for ch in conn_id).upper()
    return (
        f"the Airflow connection {conn_id!r} is not defined, so nothing was sent to EmpirioLabs; add it "
        f"(type EmpirioLabs, the API key as its password) in the UI under Admin > Connections, with "
        f"`airflow connections add {conn_id} --conn-type empiriolabs --conn-password <API key>`, or as "
        f'{env}=\'{{"conn_type": "empiriolabs", "password": "<API key>"}}\' on every worker '
        "and triggerer (or pass the id of an existing one as empiriolabs_conn_id)"
    )


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


def where_defined(task_id: str, dag_id: str | None = None, fileloc: str | None = None, *, frames: bool = True) -> str:
    """
    Where a task was written: its id, its DAG and the file and line that built it, for parse-time errors.

    The line is that of the first frame outside Airflow, this provider and the standard library's
    wrappers: the operator call, or the call of a ``@task`` function, in the DAG file (or a test).

    :param task_id: the task's id.
    :param dag_id: its DAG, when it was built inside one.
    :param fileloc: the DAG's file, used when no frame outside the machinery is found.
    :param frames: look for the calling line; off when a task runs (its caller is the task runner).
    """
    place = fileloc
    frame = sys._getframe(1) if frames else None
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        name = frame.f_code.co_filename
        if not name.startswith("<") and module != "airflow" and not module.startswith(_MACHINERY):
            place = f"{name}, line {frame.f_lineno}"
            break
        frame = frame.f_back
    dag = f" of DAG {dag_id!r}" if dag_id else ""
    return f"task {task_id!r}{dag}" + (f" ({place})" if place else "")


@contextlib.contextmanager
def naming_the_task(task: Any, *, running: bool = False) -> Iterator[None]:
    """
    Run a task's parse-time checks so that a refusal names the task, its DAG, file and line.

    Every operator of the provider checks its literal arguments in its constructor with this, so
    the error of a bad argument says where to fix it, whichever operator it is.

    :param task: the operator being built (its ``task_id`` and, if known, its DAG).
    :param running: the task runs (a rendered value is checked): name the DAG's file, not a caller.
    """
    try:
        yield
    except ValueError as error:  # EmpirioLabsRequestError is one: it keeps its class
        dag = task.dag if task.has_dag() else None
        dag_id, fileloc = (dag.dag_id, dag.fileloc) if dag else (None, None)
        where = where_defined(task.task_id, dag_id, fileloc, frames=not running)
        kind = EmpirioLabsRequestError if isinstance(error, EmpirioLabsRequestError) else ValueError
        raise kind(f"{where}: {error}") from None


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
