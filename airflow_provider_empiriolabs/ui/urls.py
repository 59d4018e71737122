"""Where the EmpirioLabs view lives under Airflow's API server: shared by the plugin and the task link."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

__all__ = ["URL_PREFIX", "run_view_path"]

#: The plugin app's mount point under the API server (and its UI's base URL).
URL_PREFIX = "/empiriolabs"


def run_view_path(dag_id: str, run_id: str, task_id: str | None = None, map_index: int = -1) -> str:
    """
    The view of a DAG run (or of one task instance of it), as a path from the server's root.

    A path, not a URL: the browser resolves it against the Airflow it is looking at, whatever host
    name it used. The path of ``[api] base_url`` is kept when Airflow is served under one.

    :param dag_id: the DAG.
    :param run_id: the run.
    :param task_id: one task of the run, or ``None`` for all its videos.
    :param map_index: the task's map index (-1 when not mapped).
    """
    base = ""
    try:
        from airflow.sdk import conf

        base = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    except Exception:  # no configuration to read: the server's root
        base = ""
    path = f"{base}{URL_PREFIX}/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
    if task_id is None:
        return path
    query = {"task_id": task_id, **({"map_index": str(map_index)} if map_index >= 0 else {})}
    return f"{path}?{urlencode(query)}"
