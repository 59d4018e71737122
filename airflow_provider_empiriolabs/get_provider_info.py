"""
What Airflow learns about this provider: its components and the connection form, declared as data.

Airflow reads this module when it lists providers and builds the connection form, so it imports
nothing heavy; the hook reads the same form data for ``get_ui_field_behaviour()``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_empiriolabs import __version__

CONNECTION_TYPE = "empiriolabs"

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "Base URL", "password": "API key"},
    "placeholders": {
        "host": "https://api.empiriolabs.ai",
        "password": "sk-empiriolabs-...",
        "timeout": "30",
        "requests_per_minute": "50",
    },
}

CONN_FIELDS: dict[str, Any] = {
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Per-request timeout of every call to the API. Default 30.",
        "schema": {"type": ["number", "null"], "minimum": 1},
    },
    "requests_per_minute": {
        "label": "Requests per minute",
        "description": (
            "The account's request budget, shared by all its keys and jobs (EmpirioLabs allows 50). "
            "Lower it when other systems use the same account. Default 50."
        ),
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
}

_PACKAGE = "airflow_provider_empiriolabs"

#: The provider's section of Airflow's configuration (``[empiriolabs]``), read on the API server
#: by the EmpirioLabs view (``ui/media.py``): what the view may read and how long it may take.
CONFIG: dict[str, Any] = {
    "empiriolabs": {
        "description": "The EmpirioLabs view in the Airflow UI (read by the API server).",
        "options": {
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
        "config": CONFIG,
        "plugins": [{"name": "empiriolabs", "plugin-class": f"{_PACKAGE}.ui.plugin.EmpirioLabsPlugin"}],
    }
