"""
The view is registered once, whatever ``[core] lazy_discover_providers`` says.

Airflow 3.3 loads the ``plugins`` of a provider's info only when providers are discovered eagerly
(``lazy_discover_providers = False``); the ``airflow.plugins`` entry point covers the default. The
``airflow plugins`` CLI, in a fresh Airflow home, is asked under both settings.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_empiriolabs.get_provider_info import get_provider_info
from airflow_provider_empiriolabs.ui.plugin import EXTERNAL_VIEWS, EmpirioLabsPlugin


def test_the_provider_info_and_the_entry_point_name_the_plugin() -> None:
    assert get_provider_info()["plugins"] == [
        {"name": "empiriolabs", "plugin-class": "airflow_provider_empiriolabs.ui.plugin.EmpirioLabsPlugin"}
    ]
    [entry_point] = [
        ep
        for ep in importlib.metadata.distribution("airflow-provider-empiriolabs").entry_points
        if ep.group == "airflow.plugins"
    ]
    assert entry_point.value == "airflow_provider_empiriolabs.ui.plugin:EntryPointPlugin"


def test_external_view_hrefs_are_relative_and_carry_the_ui_placeholders() -> None:
    assert all(not view["href"].startswith("/") for view in EXTERNAL_VIEWS)
    by_destination = {view["destination"]: view for view in EXTERNAL_VIEWS}
    assert "{DAG_ID}" in by_destination["dag_run"]["href"] and "{RUN_ID}" in by_destination["dag_run"]["href"]
    assert "{TASK_ID}" in by_destination["task_instance"]["href"]
    assert [app["url_prefix"] for app in EmpirioLabsPlugin.fastapi_apps] == ["/empiriolabs"]


@pytest.mark.parametrize("lazy", ["True", "False"])
def test_airflow_loads_the_view_exactly_once(lazy: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": lazy,
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path / "plugins"),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    plugins = json.loads(result.stdout[result.stdout.index("[") :])
    ours = [p for p in plugins if p["name"] == "empiriolabs"]
    assert len(ours) == 1, plugins
    assert [app["url_prefix"] for app in ours[0]["fastapi_apps"]] == ["/empiriolabs"]
    assert {view["url_route"] for view in ours[0]["external_views"]} == {
        "empiriolabs-spend",
        "empiriolabs-run",
        "empiriolabs-task",
    }
    assert "already registered" not in result.stdout + result.stderr
