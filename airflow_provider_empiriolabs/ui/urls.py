"""Where the EmpirioLabs view lives under Airflow's API server: shared by the plugin and the task link."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

__all__ = ["RUN_ROUTE", "SPEND_ROUTE", "TASK_ROUTE", "URL_PREFIX", "run_view_path", "ui_view_path"]

#: The plugin app's mount point under the API server (and its UI's base URL).
URL_PREFIX = "/empiriolabs"
#: The UI routes of the plugin's external views (``/plugin/<route>`` under the UI's root, a DAG
#: run, or a task instance), where Airflow shows the view inside its own navigation.
SPEND_ROUTE = "empiriolabs-spend"
RUN_ROUTE = "empiriolabs-run"
TASK_ROUTE = "empiriolabs-task"


def _base_path() -> str:
    """The path of ``[api] base_url`` (empty when Airflow is served at the root)."""
    try:
        from airflow.sdk import conf

        return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    except Exception:  # no configuration to read: the server's root
        return ""


def run_view_path(dag_id: str, run_id: str, task_id: str | None = None, map_index: int = -1) -> str:
    """
    The view's own page of a DAG run (or of one task instance of it), as a path from the server's root.

    A path, not a URL: the browser resolves it against the Airflow it is looking at, whatever host
    name it used. The path of ``[api] base_url`` is kept when Airflow is served under one. The
    page alone, outside Airflow's navigation; :func:`ui_view_path` opens it inside.

    :param dag_id: the DAG.
    :param run_id: the run.
    :param task_id: one task of the run, or ``None`` for all its videos.
    :param map_index: the task's map index (-1 when not mapped).
    """
    path = f"{_base_path()}{URL_PREFIX}/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
    if task_id is None:
        return path
    query = {"task_id": task_id, **({"map_index": str(map_index)} if map_index >= 0 else {})}
    return f"{path}?{urlencode(query)}"


def ui_view_path(dag_id: str, run_id: str, task_id: str | None = None, map_index: int = -1) -> str:
    """
    The view of a DAG run (or task instance) inside Airflow's UI: its page there, the plugin's tab open.

    What the task's "EmpirioLabs job" button opens: Airflow's own page of the task instance (or
    run), its navigation around the view. Same parameters as :func:`run_view_path`.
    """
    run = f"{_base_path()}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    if task_id is None:
        return f"{run}/plugin/{RUN_ROUTE}"
    mapped = f"/mapped/{map_index}" if map_index >= 0 else ""
    return f"{run}/tasks/{quote(task_id, safe='')}{mapped}/plugin/{TASK_ROUTE}"
