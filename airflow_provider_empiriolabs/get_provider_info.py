"""
What Airflow learns about this provider: its components and the connection form, declared as data.

Airflow reads this module when it lists providers and builds the connection form, so it imports
nothing heavy; the hook reads the same form data for ``get_ui_field_behaviour()``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_empiriolabs import __version__
from airflow_provider_empiriolabs.hooks._settings import CONNECTION_SETTINGS, DEFAULT_BASE_URL, ConnectionSetting

CONNECTION_TYPE = "empiriolabs"


def _conn_field(setting: ConnectionSetting) -> dict[str, Any]:
    schema = dict(setting.schema)
    if isinstance(setting.default, bool):  # a switch shows its default; other defaults are placeholders
        schema["default"] = setting.default
    return {"label": setting.label, "description": setting.description, "schema": schema}


UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "Base URL", "password": "API key"},
    "placeholders": {
        "host": DEFAULT_BASE_URL,
        "password": "sk-empiriolabs-...",
        **{s.name: s.placeholder for s in CONNECTION_SETTINGS if s.placeholder is not None},
    },
}

#: One form field per extra the provider reads (:data:`~.hooks._settings.CONNECTION_SETTINGS`).
CONN_FIELDS: dict[str, Any] = {setting.name: _conn_field(setting) for setting in CONNECTION_SETTINGS}

_PACKAGE = "airflow_provider_empiriolabs"


def get_provider_info() -> dict[str, Any]:
    """The provider info dict, validated by Airflow against its ``provider_info.schema.json``."""
    return {
        "package-name": "airflow-provider-empiriolabs",
        "name": "EmpirioLabs",
        "description": "Generate videos with the EmpirioLabs API (HappyHorse 1.1) from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "EmpirioLabs",
                "external-doc-url": "https://docs.empiriolabs.ai",
                "tags": ["service"],
            }
        ],
        "operators": [{"integration-name": "EmpirioLabs", "python-modules": [f"{_PACKAGE}.operators.empiriolabs"]}],
        "sensors": [{"integration-name": "EmpirioLabs", "python-modules": [f"{_PACKAGE}.sensors.empiriolabs"]}],
        "hooks": [{"integration-name": "EmpirioLabs", "python-modules": [f"{_PACKAGE}.hooks.empiriolabs"]}],
        "triggers": [{"integration-name": "EmpirioLabs", "python-modules": [f"{_PACKAGE}.triggers.empiriolabs"]}],
        "transfers": [
            {
                "source-integration-name": "EmpirioLabs",
                "target-integration-name": "Common IO",
                "python-module": f"{_PACKAGE}.transfers.empiriolabs_to_object_storage",
            }
        ],
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": f"{_PACKAGE}.hooks.empiriolabs.EmpirioLabsHook",
                "hook-name": "EmpirioLabs",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "extra-links": [f"{_PACKAGE}.links.empiriolabs.EmpirioLabsJobLink"],
        "task-decorators": [
            {"class-name": f"{_PACKAGE}.decorators.empiriolabs.empiriolabs_video_task", "name": "empiriolabs_video"}
        ],
        "plugins": [{"name": "empiriolabs", "plugin-class": f"{_PACKAGE}.ui.plugin.EmpirioLabsPlugin"}],
    }
