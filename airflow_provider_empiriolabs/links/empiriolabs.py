"""The "EmpirioLabs job" button on a task: the provider's view of the video that task paid for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

from airflow_provider_empiriolabs.ui.urls import ui_view_path

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

__all__ = ["EmpirioLabsJobLink"]


class EmpirioLabsJobLink(BaseOperatorLink):
    """
    Links a task to the EmpirioLabs view of its task instance: its video playing, prompt and cost.

    Not to the API's job URL (a browser has no API key: it answers 401). The link is built from the
    task instance alone, so no XCom is looked up (none is missing for a task that never submitted);
    the view says so when the task made no job.
    """

    name = "EmpirioLabs job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return ui_view_path(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)
