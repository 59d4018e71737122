"""
The provider info: valid for Airflow, every class it names importable, and Airflow lists it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import json
import os
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_empiriolabs import __version__
from airflow_provider_empiriolabs.get_provider_info import get_provider_info
from airflow_provider_empiriolabs.hooks._settings import (
    CONNECTION_SETTINGS,
    DEFAULT_BASE_URL,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_TIMEOUT_SECONDS,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

DISTRIBUTION = "airflow-provider-empiriolabs"
AIRFLOW = Path(sys.executable).with_name("airflow")


@pytest.fixture(scope="module")
def info() -> dict[str, Any]:
    return get_provider_info()


def test_validates_against_airflows_schema(info: dict[str, Any]) -> None:
    schema = json.loads((files("airflow") / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)


def test_is_plain_json(info: dict[str, Any]) -> None:
    assert json.loads(json.dumps(info)) == info


def test_package_name_is_the_distribution(info: dict[str, Any]) -> None:
    dist = importlib.metadata.distribution(DISTRIBUTION)
    assert info["package-name"] == dist.metadata["Name"] == DISTRIBUTION
    assert info["versions"][0] == __version__ == dist.version


def test_entry_point(info: dict[str, Any]) -> None:
    (entry_point,) = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.dist is not None and ep.dist.name == DISTRIBUTION
    ]
    assert entry_point.load()() == info


def _modules(info: dict[str, Any], kind: str) -> list[str]:
    return [module for entry in info.get(kind, []) for module in entry["python-modules"]]


def _class_paths(info: dict[str, Any]) -> list[str]:
    paths = [ct["hook-class-name"] for ct in info["connection-types"]]
    paths += info.get("extra-links", [])
    return paths


def _all_module_paths(info: dict[str, Any]) -> list[str]:
    modules = [m for kind in ("operators", "sensors", "hooks", "triggers") for m in _modules(info, kind)]
    modules += [t["python-module"] for t in info.get("transfers", [])]
    return modules


@pytest.mark.parametrize("kind", ["operators", "sensors", "hooks", "triggers", "transfers"])
def test_every_kind_is_declared(info: dict[str, Any], kind: str) -> None:
    assert info[kind], f"no {kind} declared"


def test_every_module_imports(info: dict[str, Any]) -> None:
    for module in _all_module_paths(info):
        importlib.import_module(module)


def test_every_class_imports(info: dict[str, Any]) -> None:
    for path in _class_paths(info):
        module, _, name = path.rpartition(".")
        assert inspect.isclass(getattr(importlib.import_module(module), name)), path


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        ("operators", "airflow.sdk.BaseOperator"),
        ("sensors", "airflow.sdk.BaseSensorOperator"),
        ("hooks", "airflow.sdk.BaseHook"),
        ("triggers", "airflow.triggers.base.BaseTrigger"),
    ],
)
def test_each_module_defines_its_kind(info: dict[str, Any], kind: str, base: str) -> None:
    base_module, _, base_name = base.rpartition(".")
    base_class = getattr(importlib.import_module(base_module), base_name)
    for module_name in _modules(info, kind):
        module = importlib.import_module(module_name)
        defined = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and obj.__module__ == module_name and issubclass(obj, base_class)
        ]
        assert defined, f"{module_name} defines no {base_name}"


def test_transfer_module_defines_an_operator(info: dict[str, Any]) -> None:
    from airflow.sdk import BaseOperator

    for transfer in info["transfers"]:
        module = importlib.import_module(transfer["python-module"])
        assert any(
            inspect.isclass(obj) and obj.__module__ == module.__name__ and issubclass(obj, BaseOperator)
            for obj in vars(module).values()
        ), transfer["python-module"]


def test_extra_links_are_operator_links(info: dict[str, Any]) -> None:
    from airflow.sdk import BaseOperatorLink

    for path in info["extra-links"]:
        module, _, name = path.rpartition(".")
        link = getattr(importlib.import_module(module), name)
        assert issubclass(link, BaseOperatorLink)
        assert link.name == "EmpirioLabs job"


def test_integrations_referenced_exist(info: dict[str, Any]) -> None:
    names = {i["integration-name"] for i in info["integrations"]}
    for kind in ("operators", "sensors", "hooks", "triggers"):
        for entry in info[kind]:
            assert entry["integration-name"] in names
    for transfer in info["transfers"]:
        assert transfer["source-integration-name"] in names


def test_connection_type_matches_the_hook(info: dict[str, Any]) -> None:
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == EmpirioLabsHook.conn_type == "empiriolabs"
    assert conn_type["hook-class-name"] == f"{EmpirioLabsHook.__module__}.{EmpirioLabsHook.__name__}"
    assert conn_type["hook-name"] == EmpirioLabsHook.hook_name


def test_ui_field_behaviour_matches_the_hook(info: dict[str, Any]) -> None:
    (conn_type,) = info["connection-types"]
    declared = conn_type["ui-field-behaviour"]
    assert EmpirioLabsHook.get_ui_field_behaviour() == {
        "hidden_fields": declared["hidden-fields"],
        "relabeling": declared["relabeling"],
        "placeholders": declared["placeholders"],
    }
    assert "password" not in declared["hidden-fields"]
    assert "host" not in declared["hidden-fields"]
    assert declared["relabeling"]["password"] == "API key"


def test_conn_fields_are_the_extras_the_hook_reads(info: dict[str, Any]) -> None:
    (conn_type,) = info["connection-types"]
    fields = conn_type["conn-fields"]
    for name, spec in fields.items():
        assert spec["label"], name
        jsonschema.Draft7Validator.check_schema(spec["schema"])
    jsonschema.validate(30, fields["timeout"]["schema"])
    jsonschema.validate(50, fields["requests_per_minute"]["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(0, fields["requests_per_minute"]["schema"])
    jsonschema.validate(True, fields["allow_private_output_hosts"]["schema"])
    jsonschema.validate("cdn.example.com, *.example.net", fields["allowed_output_hosts"]["schema"])
    jsonschema.validate("redis_budget", fields["budget_conn_id"]["schema"])


def test_every_setting_is_in_the_form(info: dict[str, Any]) -> None:
    """A connection made in the UI can set every extra the provider reads: no raw JSON needed."""
    (conn_type,) = info["connection-types"]
    fields = conn_type["conn-fields"]
    placeholders = conn_type["ui-field-behaviour"]["placeholders"]
    assert [s.name for s in CONNECTION_SETTINGS] == list(fields)
    for setting in CONNECTION_SETTINGS:
        assert fields[setting.name]["label"] == setting.label
        assert fields[setting.name]["description"] == setting.description
        if setting.placeholder is not None:  # the defaults the hook applies, not a copy of them
            assert placeholders[setting.name] == setting.placeholder
    assert placeholders["timeout"] == f"{DEFAULT_TIMEOUT_SECONDS:g}"
    assert placeholders["requests_per_minute"] == str(DEFAULT_REQUESTS_PER_MINUTE)
    assert placeholders["host"] == DEFAULT_BASE_URL


def test_the_extras_the_docs_name_are_in_the_form(info: dict[str, Any]) -> None:
    """Every extra docs/connection.rst sends users to is a form field."""
    (conn_type,) = info["connection-types"]
    page = (Path(__file__).parents[1] / "docs" / "connection.rst").read_text()
    documented = set(re.findall(r"extra ``(\w+)``", page))
    assert {"allow_private_output_hosts", "allowed_output_hosts", "budget_conn_id"} <= documented
    assert documented <= set(conn_type["conn-fields"])


def test_the_extras_read_elsewhere_are_the_settings() -> None:
    """The modules that read an extra use its name from the one declaration."""
    from airflow_provider_empiriolabs.hooks.shared_budget import BUDGET_CONN_EXTRA
    from airflow_provider_empiriolabs.transfers._output_trust import (
        EXTRA_ALLOW_PRIVATE_OUTPUT_HOSTS,
        EXTRA_ALLOWED_OUTPUT_HOSTS,
    )

    names = {s.name for s in CONNECTION_SETTINGS}
    assert {BUDGET_CONN_EXTRA, EXTRA_ALLOWED_OUTPUT_HOSTS, EXTRA_ALLOW_PRIVATE_OUTPUT_HOSTS} <= names


def test_airflow_providers_list_shows_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
    }
    result = subprocess.run(
        [str(AIRFLOW), "providers", "list", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Log lines may come first; the listing is the JSON array of objects.
    listed, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index('[{"') :])
    (ours,) = [p for p in listed if p["package_name"] == DISTRIBUTION]
    assert ours["version"] == __version__
    assert "EmpirioLabs" in ours["description"]
