"""The "EmpirioLabs job" button on a task: where the job that task paid for can be looked at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class EmpirioLabsJobLink(BaseOperatorLink):
    """
    Links a task to its job, read from the ``job_url`` XCom the task pushed when it submitted.

    Reading XCom (rather than the connection) keeps the API server from needing the API key.
    """

    name = "EmpirioLabs job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        url = XCom.get_value(ti_key=ti_key, key="job_url")
        return url if isinstance(url, str) else ""
