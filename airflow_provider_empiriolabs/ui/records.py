"""
What the EmpirioLabs view shows, read from Airflow's metadata database on the API server.

Nothing here calls the EmpirioLabs API: a video's record is the XComs its generate task pushed
(``job_id``, ``request`` and the summary it returned, with redacted and sealed URLs) and the
stored copies the provider's transfer recorded. Callers check authorization before asking.

A job is one job wherever its summary travels: a task counts as the job's only when it pushed
both ``job_id`` and ``request`` (the generate operator does; a task that passes the summary on,
returning it as a dict, pushes ``job_id`` alone), and each job id is counted once.

Stored copies are believed only from task instances of the provider's transfer operator
(``TaskInstance.operator``): its asset events (extra ``job_id`` and ``output_index``) and its
XComs ``empiriolabs_stored_copy_<index>``. An event any other task adds (a plain task's
``outlets``) names nothing here. Whether a believed copy is *read* is decided by the
administrator's ``[empiriolabs] view_allowed_storage`` (:mod:`.media`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs.models.account import COST_SOURCES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["IN_FLIGHT_STATES", "SpendSummary", "VideoRecord", "run_videos", "spend_summary", "task_videos"]

#: Task instance states in which a submitted job may still be rendering.
IN_FLIGHT_STATES = frozenset({"running", "deferred", "queued", "scheduled", "up_for_retry", "up_for_reschedule"})

#: XCom keys the generate operator pushes (``return_value`` holds the summary once done).
_KEYS = ("job_id", "request", "return_value")


@dataclass
class VideoRecord:
    """
    One job a task instance submitted, as the view shows it. No signed URL is ever held here.

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the generate task.
    :param map_index: its map index (-1 when not mapped).
    :param job_id: the EmpirioLabs job.
    :param request: what was asked (prompt, model, parameters, seed, estimated cost, connection id).
    :param summary: the finished job's summary, ``None`` while in flight.
    :param stored: for each output index, the storage URIs the transfer wrote it to.
    :param state: the task instance's state.
    :param finished_at: when the summary was stored.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    job_id: str
    request: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    stored: dict[int, list[str]] = field(default_factory=dict)
    state: str | None = None
    finished_at: datetime | None = None

    @property
    def outputs(self) -> int:
        """How many outputs the job made (its redacted URLs, else the stored copies)."""
        urls = (self.summary or {}).get("output_urls") or []
        return max(len(urls), max(self.stored, default=-1) + 1)

    @property
    def cost_usd(self) -> float | None:
        """The actual cost: the API's figure (or the price table's for the billed seconds)."""
        value = (self.summary or {}).get("cost_usd")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def cost_source(self) -> str | None:
        """
        Where :attr:`cost_usd` comes from: ``usage`` (debited, the account's usage event), ``job``
        (the job's own report) or ``estimate``; ``None`` for a summary that does not say.
        """
        value = (self.summary or {}).get("cost_source")
        return value if value in COST_SOURCES else None

    @property
    def estimated_cost_usd(self) -> float | None:
        """The estimate made before the request was sent."""
        value = self.request.get("estimated_cost_usd")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def conn_id(self) -> str:
        """The EmpirioLabs connection the job was made with (to unseal its URLs)."""
        return str(self.request.get("empiriolabs_conn_id") or "empiriolabs_default")

    def public(self) -> dict[str, Any]:
        """The record as the browser may see it: no sealed or signed URL, redacted ones only."""
        summary = {k: v for k, v in (self.summary or {}).items() if k != "sealed_output_urls"}
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "map_index": self.map_index,
            "job_id": self.job_id,
            "state": self.state,
            "request": {k: v for k, v in self.request.items() if k != "empiriolabs_conn_id"},
            "status": summary.get("status"),
            "video_seconds": summary.get("video_seconds"),
            "cost_usd": self.cost_usd,
            "cost_source": self.cost_source,
            "estimated_cost_usd": self.estimated_cost_usd,
            "stored": {str(k): v for k, v in sorted(self.stored.items())},
            "outputs": self.outputs,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _xcom_value(row: Any) -> Any:
    from airflow.models.xcom import XComModel

    try:
        return XComModel.deserialize_value(row)
    except Exception:
        return None


def _records(session: Session, dag_ids: set[str] | None, **where: Any) -> list[VideoRecord]:
    """Every job of the matching task instances (each pushed ``job_id``), with its summary and copies."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    # The task instances that submitted a job first (key ``job_id``), then only their other keys:
    # never every task's return value.
    query = select(XComModel).where(XComModel.key == "job_id")
    for name, value in where.items():
        if value is not None:
            query = query.where(getattr(XComModel, name) == value)
    if dag_ids is not None:
        query = query.where(XComModel.dag_id.in_(dag_ids or {""}))
    rows: dict[tuple[str, str, str, int], dict[str, Any]] = defaultdict(dict)
    for row in session.scalars(query):
        rows[(row.dag_id, row.run_id, row.task_id, row.map_index)][row.key] = row
    if not rows:
        return []
    others = (
        select(XComModel)
        .where(XComModel.key.in_(_KEYS[1:]))
        .where(XComModel.dag_id.in_({key[0] for key in rows}))
        .where(XComModel.run_id.in_({key[1] for key in rows}))
        .where(XComModel.task_id.in_({key[2] for key in rows}))
    )
    for row in session.scalars(others):
        found = rows.get((row.dag_id, row.run_id, row.task_id, row.map_index))
        if found is not None:
            found[row.key] = row
    records = []
    seen: set[str] = set()
    for (dag_id, run_id, task_id, map_index), keyed in sorted(rows.items()):
        job_id = _xcom_value(keyed["job_id"]) if "job_id" in keyed else None
        if not isinstance(job_id, str) or "request" not in keyed:
            continue  # not a generate task (it never submitted, or it only passes a summary on)
        if job_id in seen:
            continue  # one job, counted once (a retried or copied record names it again)
        seen.add(job_id)
        request = _xcom_value(keyed["request"]) if "request" in keyed else None
        summary = _xcom_value(keyed["return_value"]) if "return_value" in keyed else None
        done = isinstance(summary, dict) and summary.get("job_id") == job_id
        records.append(
            VideoRecord(
                dag_id,
                run_id,
                task_id,
                map_index,
                job_id,
                request=request if isinstance(request, dict) else {},
                summary=summary if done else None,
                finished_at=keyed["return_value"].timestamp if done else None,
            )
        )
    if not records:
        return records
    ti = TaskInstance
    states = session.execute(
        select(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.state)
        .where(TaskInstance.dag_id.in_({r.dag_id for r in records}))
        .where(TaskInstance.run_id.in_({r.run_id for r in records}))
    )
    by_key = {(d, r, t, m): s for d, r, t, m, s in states}
    for record in records:
        state = by_key.get((record.dag_id, record.run_id, record.task_id, record.map_index))
        record.state = str(getattr(state, "value", state)) if state is not None else None
    _attach_copies(session, records)
    return sorted(records, key=lambda r: (r.dag_id, r.run_id, r.task_id, r.map_index))


def _attach_copies(session: Session, records: list[VideoRecord]) -> None:
    """The stored copies the provider's transfer recorded (asset events and XComs) for each job."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    from airflow_provider_empiriolabs.transfers._lineage import STORED_COPY_XCOM_PREFIX, TRANSFER_OPERATOR

    dag_ids, run_ids = {r.dag_id for r in records}, {r.run_id for r in records}
    by_job: dict[tuple[Any, Any, Any], VideoRecord] = {(r.dag_id, r.run_id, r.job_id): r for r in records}
    ti = TaskInstance
    transfers = {
        (d, r, t, m)
        for d, r, t, m in session.execute(
            select(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
            .where(ti.dag_id.in_(dag_ids), ti.run_id.in_(run_ids))
            .where(ti.operator == TRANSFER_OPERATOR)
        )
    }
    if not transfers:
        return

    def add(dag_id: Any, run_id: Any, extra: Any, uri: Any) -> None:
        if not isinstance(extra, dict) or not isinstance(uri, str):
            return
        record = by_job.get((dag_id, run_id, extra.get("job_id")))
        index = extra.get("output_index")
        if record is None or not isinstance(index, int) or isinstance(index, bool) or index < 0:
            return
        if uri not in record.stored.get(index, []):
            record.stored.setdefault(index, []).append(uri)

    events = session.execute(
        select(
            AssetEvent.source_dag_id,
            AssetEvent.source_run_id,
            AssetEvent.source_task_id,
            AssetEvent.source_map_index,
            AssetEvent.extra,
            AssetModel.uri,
        )
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetEvent.source_dag_id.in_(dag_ids), AssetEvent.source_run_id.in_(run_ids))
        .order_by(AssetEvent.timestamp)
    )
    for dag_id, run_id, task_id, map_index, extra, uri in events:
        if (dag_id, run_id, task_id, map_index) in transfers:
            add(dag_id, run_id, extra, uri)
    copies = session.scalars(
        select(XComModel)
        .where(XComModel.dag_id.in_(dag_ids), XComModel.run_id.in_(run_ids))
        .where(XComModel.key.startswith(STORED_COPY_XCOM_PREFIX, autoescape=True))
        .order_by(XComModel.timestamp)
    )
    for row in copies:
        if (row.dag_id, row.run_id, row.task_id, row.map_index) in transfers:
            value = _xcom_value(row)
            add(row.dag_id, row.run_id, value, value.get("uri") if isinstance(value, dict) else None)


def run_videos(session: Session, dag_id: str, run_id: str) -> list[VideoRecord]:
    """
    The jobs of one DAG run, in task order.

    :param session: a metadata DB session.
    :param dag_id: the DAG (the caller checked the user may read it).
    :param run_id: the run.
    """
    return _records(session, None, dag_id=dag_id, run_id=run_id)


def task_videos(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[VideoRecord]:
    """The job of one task instance (a list: empty when it never submitted)."""
    return _records(session, None, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)


@dataclass
class SpendSummary:
    """
    What the account spent through the DAGs a user may read.

    :param per_dag: USD per DAG id.
    :param per_day: USD per day (``YYYY-MM-DD``, UTC, the day each job finished).
    :param jobs: finished jobs counted.
    :param unpriced: finished jobs whose cost is unknown.
    :param estimated: finished jobs counted at their estimate (no usage event of the account matched them).
    :param estimated_usd: what those jobs count for, in USD.
    :param in_flight: jobs submitted and not finished, whose task is still running or deferred.
    """

    per_dag: dict[str, float] = field(default_factory=dict)
    per_day: dict[str, float] = field(default_factory=dict)
    jobs: int = 0
    unpriced: int = 0
    estimated: int = 0
    estimated_usd: float = 0.0
    in_flight: list[VideoRecord] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return round(sum(self.per_dag.values()), 6)


def spend_summary(session: Session, dag_ids: set[str]) -> SpendSummary:
    """
    Cost per DAG and per day, and the jobs in flight, over the DAGs in ``dag_ids`` only.

    :param session: a metadata DB session.
    :param dag_ids: the DAGs the user may read (from the auth manager).
    """
    result = SpendSummary()
    per_dag: dict[str, float] = defaultdict(float)
    per_day: dict[str, float] = defaultdict(float)
    counted: set[str] = set()
    for record in _records(session, dag_ids):
        if record.job_id in counted:
            continue  # paid once, counted once (the same job id in two runs or DAGs)
        counted.add(record.job_id)
        if record.summary is None:
            if record.state in IN_FLIGHT_STATES:
                result.in_flight.append(record)
            continue
        result.jobs += 1
        cost = record.cost_usd
        if cost is None:
            result.unpriced += 1
            continue
        per_dag[record.dag_id] += cost
        if record.cost_source == "estimate":
            result.estimated += 1
            result.estimated_usd = round(result.estimated_usd + cost, 6)
        if record.finished_at is not None:
            per_day[record.finished_at.strftime("%Y-%m-%d")] += cost
    result.per_dag = {k: round(v, 6) for k, v in sorted(per_dag.items())}
    result.per_day = {k: round(v, 6) for k, v in sorted(per_day.items())}
    return result
