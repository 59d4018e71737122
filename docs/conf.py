"""Sphinx configuration of the airflow-provider-empiriolabs docs (``make docs``: warnings are errors)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(DOCS / "_ext"))

# Autodoc imports the real package (nothing is mocked): give Airflow a throwaway home first, so
# building the docs never touches ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="empiriolabs-docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_empiriolabs import __version__  # noqa: E402

project = "airflow-provider-empiriolabs"
author = "airflow-provider-empiriolabs developers"
copyright = "2026, airflow-provider-empiriolabs developers"
release = version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "myst_parser",
    "model_table",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"EmpirioLabs provider {release}"
html_static_path = ["_static"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Type hints name Airflow, httpx and pydantic classes that have no inventory here (no network at
# build time): they print as text, not as broken links.
nitpicky = False
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

# The UI screenshots are made by the system test (tests/system): show them once they are there.
SCREENSHOTS = ("connection-form.png", "connection-form-extras.png", "task-extra-link.png")
if all((DOCS / "_static" / "screenshots" / name).is_file() for name in SCREENSHOTS):
    tags.add("screenshots")  # type: ignore[name-defined]  # noqa: F821
