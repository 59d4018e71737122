"""
Clearing tasks of a finished ``dag.test()`` run and running them again, as the UI's Clear does.

``dag.test()`` cannot do it: a second call deletes the run (and with it the task state store).
Here the run is kept: Airflow's own ``clear_task_instances`` resets the chosen task instances
(raising ``max_tries``: a new generation of tries), and each is run again, in the order given,
through the in-process task runner ``dag.test()`` itself uses (triggers run inline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def clear_and_rerun(dag: Any, run: Any, task_ids: Sequence[str] | None = None) -> Any:
    """
    Clear the run's task instances of ``task_ids`` (all when ``None``) and run them again, in that order.

    :param dag: the DAG object (``dag.task_dict`` gives each task).
    :param run: the finished DagRun.
    :param task_ids: which tasks to clear and re-run, in the order they run (every map index).
    :return: the DagRun, re-read.
    """
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    session = settings.Session()
    dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == run.dag_id, DagRun.run_id == run.run_id))
    chosen = [ti for ti in dag_run.get_task_instances(session=session) if task_ids is None or ti.task_id in task_ids]
    clear_task_instances(chosen, session, dag_run_state=DagRunState.RUNNING)
    session.commit()
    order = list(task_ids) if task_ids is not None else sorted({ti.task_id for ti in chosen})
    for task_id in order:
        for ti in [ti for ti in dag_run.get_task_instances(session=session) if ti.task_id == task_id]:
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            try:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
            except Exception:  # a failed task is recorded in its state, as dag.test() records it
                session.rollback()
    session.expire_all()
    return dag_run
