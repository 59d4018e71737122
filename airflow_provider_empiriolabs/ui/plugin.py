"""
The Airflow plugin the provider registers (``plugins`` in its provider info): the EmpirioLabs view.

Airflow 3.1+ mounts :data:`~airflow_provider_empiriolabs.ui.app.app` at ``/empiriolabs`` on the
API server and shows its pages inside the UI: "EmpirioLabs spend" in the navigation, an
"EmpirioLabs" tab on each DAG run and task instance.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_empiriolabs.ui.urls import URL_PREFIX

__all__ = ["EXTERNAL_VIEWS", "EmpirioLabsPlugin"]

_BASE = URL_PREFIX.lstrip("/")  # external view hrefs are relative to the UI's base URL

#: The UI entries: the spend page (navigation), a run's videos (run tab), a task's video (task tab).
EXTERNAL_VIEWS: list[dict[str, Any]] = [
    {
        "name": "EmpirioLabs spend",
        "href": f"{_BASE}/spend",
        "destination": "nav",
        "url_route": "empiriolabs-spend",
        "category": "browse",
    },
    {
        "name": "EmpirioLabs",
        "href": f"{_BASE}/runs/{{DAG_ID}}/{{RUN_ID}}",
        "destination": "dag_run",
        "url_route": "empiriolabs-run",
    },
    {
        "name": "EmpirioLabs",
        "href": f"{_BASE}/runs/{{DAG_ID}}/{{RUN_ID}}?task_id={{TASK_ID}}&map_index={{MAP_INDEX}}",
        "destination": "task_instance",
        "url_route": "empiriolabs-task",
    },
]


def _fastapi_apps() -> list[dict[str, Any]]:
    from airflow_provider_empiriolabs.ui.app import app

    return [{"app": app, "url_prefix": URL_PREFIX, "name": "EmpirioLabs view"}]


class EmpirioLabsPlugin(AirflowPlugin):
    """Mounts the EmpirioLabs view and adds its pages to the Airflow UI."""

    name = "empiriolabs"
    fastapi_apps = _fastapi_apps()
    external_views = EXTERNAL_VIEWS
