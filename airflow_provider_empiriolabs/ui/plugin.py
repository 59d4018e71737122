"""
The Airflow plugin the provider registers: the EmpirioLabs view.

Airflow 3.1+ mounts :data:`~airflow_provider_empiriolabs.ui.app.app` at ``/empiriolabs`` on the
API server and shows its pages inside the UI: "EmpirioLabs spend" in the navigation, an
"EmpirioLabs" tab on each DAG run and task instance.

Two registrations, one plugin. Airflow 3.3 loads the ``plugins`` of a provider's info only when
``[core] lazy_discover_providers`` is ``False`` (not the default), so the distribution also
declares an ``airflow.plugins`` entry point, :data:`EntryPointPlugin`: it is the plugin under the
default setting and ``None`` (skipped silently) otherwise, so the view is never loaded twice.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.plugins_manager import AirflowPlugin

from airflow_provider_empiriolabs.connection_test_fix import ConnectionTestPortFix
from airflow_provider_empiriolabs.ui.urls import RUN_ROUTE, SPEND_ROUTE, TASK_ROUTE, URL_PREFIX

__all__ = ["EXTERNAL_VIEWS", "EmpirioLabsPlugin"]  # and EntryPointPlugin, from __getattr__

_BASE = URL_PREFIX.lstrip("/")  # external view hrefs are relative to the UI's base URL

#: The UI entries: the spend page (navigation), a run's videos (run tab), a task's video (task tab).
EXTERNAL_VIEWS: list[dict[str, Any]] = [
    {
        "name": "EmpirioLabs spend",
        "href": f"{_BASE}/spend",
        "destination": "nav",
        "url_route": SPEND_ROUTE,
        "category": "browse",
    },
    {
        "name": "EmpirioLabs",
        "href": f"{_BASE}/runs/{{DAG_ID}}/{{RUN_ID}}",
        "destination": "dag_run",
        "url_route": RUN_ROUTE,
    },
    {
        "name": "EmpirioLabs",
        "href": f"{_BASE}/runs/{{DAG_ID}}/{{RUN_ID}}?task_id={{TASK_ID}}&map_index={{MAP_INDEX}}",
        "destination": "task_instance",
        "url_route": TASK_ROUTE,
    },
]


def _fastapi_apps() -> list[dict[str, Any]]:
    from airflow_provider_empiriolabs.ui.app import app

    return [{"app": app, "url_prefix": URL_PREFIX, "name": "EmpirioLabs view"}]


class EmpirioLabsPlugin(AirflowPlugin):
    """Mounts the EmpirioLabs view and adds its pages to the Airflow UI."""

    name = "empiriolabs"
    external_views = EXTERNAL_VIEWS
    fastapi_apps = _fastapi_apps()  # Airflow may use the class itself (provider plugins): no property
    # The 3.3 UI's connection Test button sends port 0 for a connection without one (Airflow's bug).
    fastapi_root_middlewares = [
        {"middleware": ConnectionTestPortFix, "args": [], "kwargs": {}, "name": "EmpirioLabs connection test fix"}
    ]


def __getattr__(name: str) -> Any:
    """:data:`EntryPointPlugin`, decided when the entry point is loaded (see the module)."""
    if name != "EntryPointPlugin":
        raise AttributeError(name)
    from airflow.sdk import conf

    lazy = conf.getboolean("core", "lazy_discover_providers", fallback=True)
    return EmpirioLabsPlugin if lazy else None
