"""
The model specs the provider ships, and the ones a deployment adds: read from files, never the network.

The package ships one JSON file per model in ``models/specs/`` (written from the model's public
page, named in its ``source``). A deployment adds or replaces models with files of the same shape
in the folders listed in ``[empiriolabs] model_specs``: adding a model is a spec file, not code.
Files are read once per process, on first use (a DAG that names no model with a spec reads none).
What the live catalogue says at run time replaces these values through the hook (see
``hooks/_catalogue.py``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from airflow_provider_empiriolabs.models.spec import ModelSpec

__all__ = ["load_spec", "packaged_spec", "shipped_models", "shipped_spec", "spec_folders"]

CONFIG_SECTION = "empiriolabs"
#: The configuration key listing a deployment's folders of spec files (comma-separated).
SPEC_FOLDERS_KEY = "model_specs"


def load_spec(path: Path | str) -> ModelSpec:
    """
    Read one spec file; a file that is not a spec fails naming the file and what is wrong.

    :param path: a ``<model-id>.json`` file.
    """
    path = Path(path)
    try:
        spec = ModelSpec.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as error:
        raise ValueError(f"model spec {path}: {error}") from None
    if spec.id != path.stem:
        raise ValueError(f"model spec {path}: its id {spec.id!r} is not its file's name")
    return spec


def spec_folders() -> tuple[Path, ...]:
    """The deployment's folders of spec files (``[empiriolabs] model_specs``), in order."""
    from airflow.sdk import conf

    raw = conf.get(CONFIG_SECTION, SPEC_FOLDERS_KEY, fallback="") or ""
    return tuple(Path(part.strip()) for part in raw.split(",") if part.strip())


def packaged_spec(model_id: str) -> ModelSpec:
    """The spec file the package ships for ``model_id`` (never a deployment's): for rules written in code."""
    text = resources.files(__package__).joinpath("specs", f"{model_id}.json").read_text(encoding="utf-8")
    return ModelSpec.model_validate_json(text)


@cache
def _specs(folders: tuple[Path, ...]) -> dict[str, ModelSpec]:
    specs: dict[str, ModelSpec] = {}
    for entry in sorted(resources.files(__package__).joinpath("specs").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            spec = ModelSpec.model_validate(json.loads(entry.read_text(encoding="utf-8")))
            specs[spec.id] = spec
    for folder in folders:  # a deployment's file replaces the shipped one of the same id
        for path in sorted(folder.glob("*.json")):
            spec = load_spec(path)
            specs[spec.id] = spec
    return specs


def shipped_spec(model_id: str) -> ModelSpec | None:
    """The spec of ``model_id`` from the files (the package's, then the deployment's), or ``None``."""
    return _specs(spec_folders()).get(model_id)


def shipped_models(kind: str | None = None) -> tuple[str, ...]:
    """The ids of the models with a spec file, of one kind (``video``, ``image``) or all."""
    return tuple(spec.id for spec in _specs(spec_folders()).values() if kind is None or spec.kind == kind)


def forget_specs() -> None:
    """Read the files again on next use (after a deployment changed ``model_specs``)."""
    _specs.cache_clear()
