"""
The job record: what a task instance has sent and got, kept in Airflow's task state store.

Every accepted request is billed, and a task instance can fail at any point (a worker killed
mid-request, an XCom push refused, the return value not stored). The record is what makes "paid
once per task instance and request" hold by construction rather than by care:

- before each attempt to send the billed POST, after every wait and right before the bytes leave,
  the send guard (:class:`Announced`) says ``sending`` (written through the task's supervisor: a
  runner whose supervisor is gone cannot write it, so it cannot send either);
- an attempt the API provably refused (429, 503, no connection) turns it back to ``not_sent``;
- an accepted POST turns it to ``accepted`` with the job id, before anything else is done;
- a finished job turns it to ``done`` with the job's summary (its output URLs live 7 days);
- an answer that holds its outputs (a held image request: no job to reattach to) turns it to
  ``done`` as soon as a retry could find them again (URLs at once, bytes once written to
  storage), before the usage read, and to ``done`` again with the actual cost. Outputs that
  cannot be put where a retry finds them leave it ``sending``: never sent again.

A later try reads it first, and :func:`decide` says what comes next (a pure function of the
record, the request's fingerprint, the try's generation and ``regenerate``):

- absent, or ``not_sent``: send (nothing was sent for it);
- ``sending``: fail, never send again (an earlier try may have paid, nobody knows for what);
- ``accepted``: reattach to its job; ``done``: return the stored video while its URLs live;
- anything that cannot be fully read: fail, sending nothing, naming the record and its repair.

**The rule for unreadable records**: a record that names, or may name, an accepted job is billed
money. Only a record that is absent or provably unsent may lead to a POST; any other record must
be read completely (every field present with its type, its state known, its job id a job id, a
``done`` one's summary about that job, its time a time, nothing else in it) or it is an unknown
outcome. Records also come from the REST API's state store edits, other provider versions and
manual repair, so "the provider never writes that" is no reason to guess.

Tries since the last clear (one *generation*) are retries of one request whatever their templates
render to. After a clear, the record's fingerprint decides: another request (a new prompt,
another seed, other image files or other bytes under the same path, another account) is a new
video, and ``regenerate=True`` asks for a new one even for the same request.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_empiriolabs.models.text import is_job_id

if TYPE_CHECKING:
    from airflow_provider_empiriolabs.models import VideoRequest

__all__ = [
    "OUTPUT_URL_LIFETIME",
    "Announced",
    "Decision",
    "JobRecord",
    "Ledger",
    "Next",
    "RecordState",
    "RecordUnreadable",
    "RecordUnwritable",
    "decide",
    "generation",
]

RecordState = Literal["sending", "not_sent", "accepted", "done"]
_STATES: tuple[str, ...] = ("sending", "not_sent", "accepted", "done")
_FIELDS = frozenset({"state", "fingerprint", "job_id", "summary", "updated_at", "generation"})
#: Fields every record written since records became dicts has (older ones lack the other two).
_REQUIRED = frozenset({"state", "job_id", "summary", "updated_at"})
_FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")

#: How long the API's output URLs stay valid (EmpirioLabs: 7 days), with an hour of margin.
OUTPUT_URL_LIFETIME = timedelta(days=7) - timedelta(hours=1)


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


class RecordUnreadable(ValueError):
    """A stored record that cannot be fully read: it may name an accepted job, so nothing is sent."""


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RecordUnreadable(what)


def _when(value: Any) -> datetime:
    _check(isinstance(value, str), f"updated_at is {type(value).__name__}, not an ISO 8601 time")
    try:
        written = datetime.fromisoformat(value)
    except ValueError:
        raise RecordUnreadable(f"updated_at {value[:40]!r} is not an ISO 8601 time") from None
    return written if written.tzinfo is not None else written.replace(tzinfo=UTC)


@dataclass
class JobRecord:
    """
    One task instance's record of its billed request.

    :param state: ``sending``, ``not_sent``, ``accepted`` or ``done`` (see the module).
    :param fingerprint: the fingerprint (``_fingerprint.py``) of the request it is about; ``None`` in records of
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
        Read a stored value back completely: ``None`` when absent, :class:`RecordUnreadable` when incomplete.

        A bare job id (older versions of the provider) is ``accepted``.

        :param stored: what the task state store returned for the key.
        """
        if stored is None:
            return None
        if isinstance(stored, str):
            _check(is_job_id(stored), "it is text, but not a job id (older versions stored the bare job id)")
            return cls(state="accepted", job_id=stored)
        _check(isinstance(stored, dict), f"it is {type(stored).__name__}, not a record")
        extra = sorted(str(key)[:40] for key in set(stored) - _FIELDS)
        _check(not extra, f"it has fields no version of the provider writes: {', '.join(extra)}")
        missing = sorted(_REQUIRED - set(stored))
        _check(not missing, f"it lacks {', '.join(missing)}")
        state = stored.get("state")
        _check(
            isinstance(state, str) and state in _STATES, f"state {str(state)[:40]!r} is none of {', '.join(_STATES)}"
        )
        return cls(
            state=state,
            fingerprint=cls._fingerprint(stored.get("fingerprint")),
            job_id=cls._job_id(state, stored.get("job_id")),
            summary=cls._summary(state, stored.get("summary"), stored.get("job_id")),
            updated_at=_when(stored.get("updated_at")).isoformat(),
            generation=cls._generation(stored.get("generation")),
        )

    @staticmethod
    def _fingerprint(value: Any) -> str | None:
        _check(
            value is None or (isinstance(value, str) and bool(_FINGERPRINT.match(value))), "fingerprint is unreadable"
        )
        return value

    @staticmethod
    def _job_id(state: str, value: Any) -> str | None:
        if state in ("accepted", "done"):
            _check(is_job_id(value), f"it is {state} but its job_id is missing or not a job id")
            return str(value)
        _check(value is None, f"it is {state} yet names a job ({str(value)[:40]!r})")
        return None

    @staticmethod
    def _summary(state: str, value: Any, job_id: Any) -> dict[str, Any] | None:
        if state != "done":
            _check(value is None, f"it is {state} yet holds a summary")
            return None
        _check(isinstance(value, dict) and bool(value), "it is done but its summary is missing or empty")
        _check(value.get("job_id") == job_id, "it is done but its summary is about another job")
        _check(isinstance(value.get("output_urls"), list), "it is done but its summary lists no output_urls")
        return value

    @staticmethod
    def _generation(value: Any) -> int | None:
        _check(value is None or (type(value) is int and value >= 0), "generation is not a try number")
        return value

    def dump(self) -> dict[str, Any]:
        """The JSON value to store."""
        return asdict(self)

    def is_for(self, request_fingerprint: str) -> bool:
        """Whether the record is about this request (an old record without a fingerprint is)."""
        return self.fingerprint is None or self.fingerprint == request_fingerprint

    def urls_alive(self, now: datetime | None = None) -> bool:
        """Whether the stored summary's output URLs are still valid (7 days from the job's end)."""
        return (now or datetime.now(UTC)) - _when(self.updated_at) < OUTPUT_URL_LIFETIME


class Next(Enum):
    """What a try does after reading its job record."""

    SEND = "send"
    REATTACH = "reattach"
    REUSE = "reuse"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Decision:
    """
    The record's decision: the next step, the record it is about, and why (for the log or the error).

    :param next: what the try does.
    :param record: the record read (``None`` when absent, unreadable, or set aside for a new video).
    :param reason: why, in words.
    """

    next: Next
    record: JobRecord | None = None
    reason: str = ""


def _same_generation(record: JobRecord, current: int | None) -> bool:
    """Whether the record was written since the last clear; unknown on either side counts as the same."""
    return record.generation is None or current is None or record.generation >= current


def decide(
    stored: Any,
    *,
    request_fingerprint: str,
    current_generation: int | None,
    regenerate: bool,
    now: datetime | None = None,
) -> Decision:
    """
    The next step of a try, from its stored job record alone (see the module's table and rule).

    :param stored: the raw value the task state store holds for the key (``None``: absent).
    :param request_fingerprint: the fingerprint (``_fingerprint.py``) of this try's request.
    :param current_generation: :func:`generation` of this try.
    :param regenerate: whether the task asks for a new video after a clear.
    :param now: the time to judge the stored URLs' lifetime by.
    """
    try:
        record = JobRecord.load(stored)
    except RecordUnreadable as error:
        return Decision(Next.UNKNOWN, None, f"the job record cannot be read ({error})")
    if record is None:
        return Decision(Next.SEND, None, "")
    if not _same_generation(record, current_generation) and (regenerate or not record.is_for(request_fingerprint)):
        why = "regenerate=True" if regenerate else "the request or its account changed"
        return Decision(Next.SEND, None, f"Submitting a new job ({why} since job {record.job_id} of an earlier run)")
    if record.state == "sending":
        return Decision(
            Next.UNKNOWN,
            record,
            f"an earlier try of this task sent the request (at {record.updated_at}) and stopped before it "
            "could record the answer, so whether a job was created (and billed) is unknown",
        )
    if record.state == "not_sent":
        return Decision(Next.SEND, record, "")
    if record.state == "accepted":
        return Decision(Next.REATTACH, record, "")
    if record.urls_alive(now):
        return Decision(Next.REUSE, record, "")
    return Decision(
        Next.SEND, record, f"The video of job {record.job_id} is past its URLs' 7 days: submitting a new job"
    )


def record_location(ti: Any, key: str) -> str:
    """Where a task's record lives, as the REST API addresses it (to check or delete it)."""
    dag_id, run_id, task_id = (getattr(ti, name, None) or "?" for name in ("dag_id", "run_id", "task_id"))
    map_index = getattr(ti, "map_index", -1)
    mapped = f"?map_index={map_index}" if isinstance(map_index, int) and map_index >= 0 else ""
    return f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/state-store/{key}{mapped}"


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
    :param request_fingerprint: the fingerprint (``_fingerprint.py``) of the request of this try.
    :param log: where to say what could not be recorded.
    """

    def __init__(
        self,
        store: Any,
        key: str,
        request_fingerprint: str,
        log: Any,
        *,
        generation: int | None = None,
        ti: Any = None,
    ) -> None:
        self.store = store
        self.key = key
        self.fingerprint = request_fingerprint
        self.log = log
        self.generation = generation
        self.ti = ti
        self._job_id: str | None = None

    def decide(self, *, regenerate: bool) -> Decision:
        """The record's decision (:func:`decide`) for this try; no store, no record: send."""
        if self.store is None:
            self.log.warning("No task state store: a retry of this task cannot reattach to its job")
            return Decision(Next.SEND)
        return decide(
            self.store.get(self.key),
            request_fingerprint=self.fingerprint,
            current_generation=self.generation,
            regenerate=regenerate,
        )

    def unknown_outcome(self, decision: Decision) -> str:
        """What an unknown outcome's error says: what happened, which record, what to check and how to repair."""
        where = record_location(self.ti, self.key)
        if decision.record is None:  # unreadable
            repair = (
                f"; it may name a job that was accepted (and billed), so nothing is sent. Check the account's "
                f"usage for a job of this task, then repair the record (GET {where} shows it): if a job was "
                "made, PUT its id as the value (a JSON string) and clear the task to wait for it; to pay for a "
                f"new job, DELETE {where} (the key '{self.key}' of this task instance in the task state store) "
                "and clear the task"
            )
        else:
            repair = (
                f"; it is not sent again: check the account's usage, then clear the task with regenerate=True to pay "
                f"for a new job (the record: {where})"
            )
        return decision.reason + repair

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


class Announced:
    """
    The job record's send guard, logging the estimate right before each POST really leaves.

    A try that fails earlier (no connection, a file that will not upload, the rate limit) sends
    nothing and so logs no cost: the log says "Sending ... estimated $X" only for requests sent.

    :param guard: the job record, which records "sending" before each attempt.
    :param log: the task's logger.
    :param request: the request about to be sent (file images already uploaded).
    :param conn_id: the account's connection, named in the log line.
    """

    def __init__(self, guard: Ledger, log: Any, request: VideoRequest, conn_id: str) -> None:
        self._guard = guard
        self._log = log
        self._request = request
        self._conn_id = conn_id
        estimate = request.estimated_cost_usd()
        unpriced = request.unpriced_fields()
        self._estimate = (
            f"${estimate:.2f}"
            if estimate is not None
            else f"cost unknown ({', '.join(unpriced)} not priced)"
            if unpriced
            else "cost unknown (no price for this model)"
        )

    def submitting(self) -> None:
        """Say what is about to be submitted (files not uploaded yet); the cost is said on sending."""
        self._log.info("Submitting %s", _what(self._request))

    def sending(self) -> None:
        self._guard.sending()  # raises, and nothing is sent, when the record cannot be written
        self._log.info(
            "Sending %s to EmpirioLabs (connection %r): estimated %s",
            _what(self._request),
            self._conn_id,
            self._estimate,
        )

    def not_sent(self) -> None:
        self._guard.not_sent()


def _what(request: Any) -> str:
    """What a request asks for, in the log: its ``describe()`` (images...), else a video's model, resolution, length."""
    describe = getattr(request, "describe", None)
    if callable(describe):
        return str(describe())
    return f"{request.model}, {request.effective_resolution}, {request.billed_seconds:g} s of video"
