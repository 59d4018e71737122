"""
Every Python code block of the docs runs as a test.

The rule, checked here: a ``.rst`` page holds no inline Python block; it ``literalinclude``\\ s a
file under ``example_dags/`` or ``docs/examples/``, and every such file is run (or built) by a test
(here, and in ``tests/example_dags``). Markdown cannot include a file, so each Python block of the
README (and of any ``.md`` page) must be, line for line, a region of one of those files. The user
testing example of ``docs/testing.rst`` runs as written: its files are copied into an empty
folder and ``pytest`` runs there, in a clean environment, as a user's project would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"
EXAMPLES = DOCS / "examples"
#: Where included code may come from: files the test suite runs or builds.
# Files the suite runs: the example DAGs, the docs' own examples, and the test DAGs of the decorators
# (tests/operators/test_request_fields.py runs the templated one that docs/howto/generate.rst shows).
TESTED_ROOTS = (REPO / "example_dags", EXAMPLES, REPO / "tests" / "decorators" / "dags")
PAGES = sorted([*DOCS.rglob("*.rst"), *DOCS.rglob("*.md"), REPO / "README.md"])
PAGES = [p for p in PAGES if "_build" not in p.parts]

_INLINE_PYTHON_RST = re.compile(r"^\s*\.\. (?:code-block|code|sourcecode)::\s*(?:python|py|pycon|python3)\s*$", re.M)
_LITERALINCLUDE = re.compile(r"^\s*\.\. literalinclude::\s*(\S+)\s*$", re.M)
_MD_PYTHON = re.compile(r"^```(?:python|py)\s*\n(.*?)^```", re.M | re.S)


def _tested_files() -> list[Path]:
    return sorted(p for root in TESTED_ROOTS for p in root.rglob("*.py"))


def _lines(text: str) -> list[str]:
    """The lines of ``text``, a run of blank lines as one (formatters space top-level code apart)."""
    out: list[str] = []
    for line in text.rstrip("\n").split("\n"):
        if line.strip() or (out and out[-1].strip()):
            out.append(line if line.strip() else "")
    return out


def _is_region_of(block: str, text: str) -> bool:
    """Whether ``block``'s lines are consecutive lines of ``text`` under one common indent."""
    wanted = _lines(textwrap.dedent(block))
    lines = _lines(text)
    for start, line in enumerate(lines):
        indent = len(line) - len(line.lstrip(" "))
        if line[indent:] != wanted[0] or start + len(wanted) > len(lines):
            continue
        if all(
            (lines[start + i].strip() == "" if not w.strip() else lines[start + i] == " " * indent + w)
            for i, w in enumerate(wanted)
        ):
            return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_rst_page_holds_an_untested_python_block(page: Path) -> None:
    if page.suffix != ".rst":
        return
    found = _INLINE_PYTHON_RST.findall(page.read_text())
    assert not found, f"{page.name}: literalinclude the code from a file under docs/examples/ that a test runs"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_literal_includes_come_from_tested_files(page: Path) -> None:
    for target in _LITERALINCLUDE.findall(page.read_text()):
        path = (page.parent / target).resolve()
        assert path.is_file(), f"{page.name}: {target} does not exist"
        assert any(path.is_relative_to(root) for root in TESTED_ROOTS), f"{page.name}: {target} is not a tested file"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_markdown_python_blocks_are_regions_of_tested_files(page: Path) -> None:
    if page.suffix != ".md":
        return
    sources = [p.read_text() for p in _tested_files()]
    for block in _MD_PYTHON.findall(page.read_text()):
        assert any(_is_region_of(block, text) for text in sources), (
            f"{page.name}: this block is not a region of a file under example_dags/ or docs/examples/:\n{block}"
        )


def test_the_region_check_can_fail() -> None:
    text = "def f():\n    a = 1\n\n    b = 2\n"
    assert _is_region_of("a = 1\n\nb = 2\n", text)
    assert _is_region_of("a = 1\n\n\nb = 2\n", text)
    assert not _is_region_of("a = 1\nb = 3\n", text)


# -- the example files themselves ------------------------------------------------------------------


def _bag(path: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag


def test_every_example_file_is_run_by_a_test() -> None:
    """A new file under docs/examples/ gets a test here (or in the user project it belongs to)."""
    run_here = {"first_dag.py", "destinations.py", "operators.py"}
    user_project = {"conftest.py", "test_my_dag.py", "my_video_dag.py", "my_daily_videos.py"}
    assert {p.name for p in EXAMPLES.rglob("*.py")} == run_here | user_project


def test_the_destinations_example_builds_its_transfers() -> None:
    dag = _bag(EXAMPLES / "destinations.py").dags["other_destinations"]
    assert {t.destination for t in dag.tasks if t.task_id.startswith("store_video")} == {
        "s3://my-bucket/videos/",
        "gs://my-bucket/videos/",
        "abfs://my-container/videos/",
    }


def test_the_operator_snippets_build_and_the_cap_refuses() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import operators as snippets  # docs/examples/operators.py
    finally:
        sys.path.remove(str(EXAMPLES))
    with pytest.raises(ValueError, match=r"max_cost_usd"):
        snippets.over_the_cap()
    dag = _bag(EXAMPLES / "operators.py").dags["reference_images"]
    assert dag.get_task("animate_still").images_conn_id == "aws_default"


@pytest.mark.usefixtures("airflow_db")
def test_the_readmes_first_dag_stores_its_video(empiriolabs_connection: Any, tmp_path: Path) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = _bag(EXAMPLES / "first_dag.py")
    sync_bag_to_db(bag, "dags-folder", None)

    run = bag.get_dag("horse_video").test(run_conf={"destination": f"file://{tmp_path}/"})

    assert run.state == "success"
    assert empiriolabs_connection.stats()["posts"] == 1
    assert len(list(tmp_path.rglob("*.mp4"))) == 1


def test_the_user_testing_example_runs_as_written(tmp_path: Path) -> None:
    """docs/testing.rst's conftest, tests and DAGs (the pilot's daily DAG among them), in a project of their own."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "user_project", project)
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env["AIRFLOW_HOME"] = str(home)  # the conftest's default is a temporary folder too; this one is removed

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
