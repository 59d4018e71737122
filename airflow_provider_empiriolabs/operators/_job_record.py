"""
The job record: what a task instance has sent and got, kept in Airflow's task state store.

Every accepted request is billed, and a task instance can fail at any point (a worker killed
mid-request, an XCom push refused, the return value not stored). The record is what makes "paid
once per task instance and request" hold by construction rather than by care:

- before each attempt to send the billed POST, it says ``sending`` (written through the task's
  supervisor: a runner whose supervisor is gone cannot write it, so it cannot send either);
- an attempt the API provably refused (429, 503, no connection) turns it back to ``not_sent``;
- an accepted POST turns it to ``accepted`` with the job id, before anything else is done;
- a finished job turns it to ``done`` with the job's summary (its output URLs live 7 days).

A later try reads it first: ``sending`` means an earlier try may have paid and nobody knows for
what (fail, never send again); ``accepted`` reattaches to the job; ``done`` returns the stored
video while its URLs live. Tries since the last clear (one *generation*) are retries of one
request whatever their templates render to. After a clear, the record's fingerprint of the
request decides: a changed request (a new prompt, another seed, other image files) is a new video,
and ``regenerate=True`` asks for a new one even for the same request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airflow_provider_empiriolabs.models import VideoRequest

__all__ = ["OUTPUT_URL_LIFETIME", "JobRecord", "Ledger", "RecordState", "RecordUnwritable", "fingerprint", "generation"]

RecordState = Literal["sending", "not_sent", "accepted", "done"]

#: How long the API's output URLs stay valid (EmpirioLabs: 7 days), with an hour of margin.
OUTPUT_URL_LIFETIME = timedelta(days=7) - timedelta(hours=1)


def fingerprint(request: VideoRequest, images: Any = None) -> str:
    """
    A stable digest of what the request asks for (before any image upload), to tell requests apart.

    :param request: the rendered, validated request (file images in it are stand-ins).
    :param images: the image references as rendered (``s3://...``, local paths): which files.
    """
    canonical = json.dumps(
        {"request": request.model_dump(mode="json"), "images": images},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def generation(ti: Any, retries: int | None) -> int | None:
    """
    The first try number since the task was last cleared (Airflow's own formula), or ``None``.

    Tries of one generation are retries of one request: they share its job whatever their
    templates render to. Only a clear starts a generation that may ask for a new video.

    :param ti: the running task instance (its ``max_tries``), or ``None``.
    :param retries: the task's ``retries``.
    """
    max_tries = getattr(ti, "max_tries", None)
    if not isinstance(max_tries, int) or isinstance(max_tries, bool):
        return None
    return max_tries - (retries or 0) + 1


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class JobRecord:
    """
    One task instance's record of its billed request.

    :param state: ``sending``, ``not_sent``, ``accepted`` or ``done`` (see the module).
    :param fingerprint: :func:`fingerprint` of the request it is about; ``None`` in records of
        provider versions that kept only the job id.
    :param job_id: the job, once the API accepted the request.
    :param summary: the finished job's summary (what the task returned), once done.
    :param updated_at: when the state was written (ISO 8601, UTC).
    :param generation: the first try number since the task was last cleared, when written.
    """

    state: RecordState
    fingerprint: str | None = None
    job_id: str | None = None
    summary: dict[str, Any] | None = None
    updated_at: str = field(default_factory=_now)
    generation: int | None = None

    @classmethod
    def load(cls, stored: Any) -> JobRecord | None:
        """
        Read a stored value back; a bare job id (older versions of the provider) is ``accepted``.

        :param stored: what the task state store returned for the key.
        """
        if stored is None or stored == "":
            return None
        if isinstance(stored, str):
            return cls(state="accepted", job_id=stored)
        if isinstance(stored, dict) and stored.get("state") in ("sending", "not_sent", "accepted", "done"):
            summary = stored.get("summary")
            job_id = stored.get("job_id")
            return cls(
                state=stored["state"],
                fingerprint=stored.get("fingerprint") if isinstance(stored.get("fingerprint"), str) else None,
                job_id=job_id if isinstance(job_id, str) and job_id else None,
                summary=summary if isinstance(summary, dict) else None,
                updated_at=str(stored.get("updated_at") or _now()),
                generation=stored["generation"] if type(stored.get("generation")) is int else None,
            )
        # Unreadable: treat it as the worst case, an earlier try that may have paid.
        return cls(state="sending")

    def dump(self) -> dict[str, Any]:
        """The JSON value to store."""
        return asdict(self)

    def is_for(self, request_fingerprint: str) -> bool:
        """Whether the record is about this request (an old record without a fingerprint is)."""
        return self.fingerprint is None or self.fingerprint == request_fingerprint

    def urls_alive(self, now: datetime | None = None) -> bool:
        """Whether the stored summary's output URLs are still valid (7 days from the job's end)."""
        try:
            written = datetime.fromisoformat(self.updated_at)
        except ValueError:
            return False
        if written.tzinfo is None:
            written = written.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) - written < OUTPUT_URL_LIFETIME


class RecordUnwritable(Exception):
    """The job record could not be written before sending: the request is not sent."""


class Ledger:
    """
    The job record of one task instance, read and written through its task state store.

    It is the hook's :class:`~airflow_provider_empiriolabs.hooks.empiriolabs.SendGuard` for the
    billed POST: ``sending`` before each attempt (raising, so nothing is sent, when it cannot be
    written), ``not_sent`` when the API provably refused one.

    :param store: ``context["task_state_store"]``; ``None`` where Airflow gives none (no record kept).
    :param key: the store key.
    :param request_fingerprint: :func:`fingerprint` of the request of this try.
    :param log: where to say what could not be recorded.
    """

    def __init__(
        self, store: Any, key: str, request_fingerprint: str, log: Any, *, generation: int | None = None
    ) -> None:
        self.store = store
        self.key = key
        self.fingerprint = request_fingerprint
        self.log = log
        self.generation = generation
        self._job_id: str | None = None

    def same_generation(self, record: JobRecord) -> bool:
        """
        Whether ``record`` was written since the task was last cleared (by a try of this series).

        When either side does not know (a record of an older provider version, a context without
        ``max_tries``), it counts as the same: the side that never pays twice.
        """
        if record.generation is None or self.generation is None:
            return True
        return record.generation >= self.generation

    def load(self) -> JobRecord | None:
        """The record an earlier try (or run) of this task left, if any."""
        if self.store is None:
            self.log.warning("No task state store: a retry of this task cannot reattach to its job")
            return None
        return JobRecord.load(self.store.get(self.key))

    def save(self, state: RecordState, *, job_id: str | None = None, summary: dict[str, Any] | None = None) -> None:
        """
        Write the record; after acceptance a failure to write is logged, not raised.

        Once a job exists, raising would only lose it: the try goes on and waits for the video,
        and the record left behind (``sending``) keeps any later try from sending again.
        """
        if self.store is None:
            return
        self._job_id = job_id or self._job_id
        record = JobRecord(
            state=state, fingerprint=self.fingerprint, job_id=self._job_id, summary=summary, generation=self.generation
        )
        if state in ("sending", "not_sent"):
            self.store.set(self.key, record.dump())
            return
        try:
            self.store.set(self.key, record.dump())
        except Exception as error:
            self.log.error(
                "Could not record EmpirioLabs job %s as %s in the task state store (%s): a retry of this task "
                "will not send the request again, and will report the outcome as unknown",
                self._job_id,
                state,
                type(error).__name__,
            )

    def sending(self) -> None:
        """Record that the POST is about to leave; raise :class:`RecordUnwritable` if that cannot be written."""
        try:
            self.save("sending")
        except Exception as error:
            self.not_sent()  # the write may have landed before it failed: undo it if the store lets us
            raise RecordUnwritable(
                f"could not record the submission in the task state store ({type(error).__name__})"
            ) from None

    def not_sent(self) -> None:
        """Record that the API provably refused the attempt; if that fails, the safe "sending" stays."""
        try:
            self.save("not_sent")
        except Exception as error:
            self.log.warning("Could not record a refused submission (%s)", type(error).__name__)
