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

#: The provider's section of Airflow's configuration (``[empiriolabs]``), read on the API server
#: by the EmpirioLabs view (``ui/media.py``): what the view may read and how long it may take.
CONFIG: dict[str, Any] = {
    "empiriolabs": {
        "description": "The EmpirioLabs view in the Airflow UI (read by the API server), and the model specs.",
        "options": {
            "model_specs": {
                "description": (
                    "Comma-separated folders of model spec files (<model-id>.json, the shape of the ones the "
                    "package ships): each adds a model the operators check and price, or replaces the shipped "
                    "spec of the same id. Read where DAGs are parsed and tasks run. Empty (the default): the "
                    "package's specs only."
                ),
                "version_added": "0.2.0",
                "type": "string",
                "example": "/opt/airflow/empiriolabs-specs",
                "default": "",
            },
            "catalogue_ttl_seconds": {
                "description": (
                    "Seconds a task's process keeps what the live model catalogue (GET /v1/models/{id}) said "
                    "about a model with a shipped spec: its prices, ranges and allowed values win over the "
                    "spec's, and each difference is logged. 0 turns the live read off (the shipped specs "
                    "only). A connection's extra catalogue_ttl_seconds wins over this."
                ),
                "version_added": "0.2.0",
                "type": "float",
                "example": "3600",
                "default": "3600",
            },
            "view_allowed_storage": {
                "description": (
                    "Comma-separated URI prefixes (e.g. s3://videos/published/, file:///srv/videos/) of the "
                    "storage the view may stream stored videos from, through the API server's own storage "
                    "connections. Only copies the provider's transfer recorded under one of these prefixes "
                    "are streamed; any other stored copy is only named (its URI shown), and the video is "
                    "played from the API's signed output URL while it lives. Empty (the default): no stored "
                    "copy is ever read by the API server. Set by the deployment's administrator: DAG code "
                    "never chooses what the API server reads."
                ),
                "version_added": "0.1.0",
                "type": "string",
                "example": "s3://my-bucket/videos/,file:///srv/videos/",
                "default": "",
            },
            "view_media_timeout_seconds": {
                "description": (
                    "Total time one video answer of the view may take, from the request to the last byte "
                    "(the output host's connection, headers and body included)."
                ),
                "version_added": "0.1.0",
                "type": "float",
                "example": "300",
                "default": "300",
            },
            "view_media_streams": {
                "description": (
                    "Videos the view streams at once per API server process, on threads of its own (never "
                    "Airflow's shared pool); one more is answered 503 with Retry-After."
                ),
                "version_added": "0.1.0",
                "type": "integer",
                "example": "8",
                "default": "8",
            },
        },
    }
}


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
        "operators": [
            {
                "integration-name": "EmpirioLabs",
                "python-modules": [
                    f"{_PACKAGE}.operators.empiriolabs",
                    f"{_PACKAGE}.operators.image",
                    f"{_PACKAGE}.operators.compose",
                    f"{_PACKAGE}.operators.chain",
                ],
            }
        ],
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
        "config": CONFIG,
        "plugins": [{"name": "empiriolabs", "plugin-class": f"{_PACKAGE}.ui.plugin.EmpirioLabsPlugin"}],
    }
