"""
The "where each concept lives" table of docs/internals.rst is true: each symbol it names is defined
at the top level of the module it names, and nowhere else in the package.

A re-export (``from x import y`` or ``y = x.y``) is not a definition; a second ``def``, ``class``
or computed value of the same name is, and fails here: that is a concept living in two places.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "airflow_provider_empiriolabs"
DOC = REPO / "docs" / "internals.rst"


def _table_rows() -> list[tuple[str, list[str], str]]:
    """(concept, symbols, module) of each row of the concept table."""
    text = DOC.read_text().split("Where each concept lives", 1)[1]
    rows = re.findall(r"^   \* - (.+?)\n     - (.+?)\n     - ``(.+?)``$", text, flags=re.MULTILINE)
    return [(concept, re.findall(r"``(\w+)``", symbols), module) for concept, symbols, module in rows]


def _definitions() -> dict[str, list[str]]:
    """Every top-level definition in the package: name -> the modules (paths) that define it."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = str(path.relative_to(PACKAGE))
        for node in ast.parse(path.read_text()).body:
            names: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                if isinstance(node.value, (ast.Name, ast.Attribute)):
                    continue  # an alias of something defined elsewhere
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            for name in names:
                found[name].append(module)
    return found


ROWS = _table_rows()
DEFINITIONS = _definitions()


def test_the_table_is_read() -> None:
    assert len(ROWS) >= 20
    assert all(symbols for _, symbols, _ in ROWS)


@pytest.mark.parametrize(("concept", "symbols", "module"), ROWS, ids=[row[0][:40] for row in ROWS])
def test_each_concept_is_defined_once_where_the_table_says(concept: str, symbols: list[str], module: str) -> None:
    assert (PACKAGE / module).is_file(), f"{concept}: {module} does not exist"
    for symbol in symbols:
        assert DEFINITIONS.get(symbol) == [module], f"{concept}: {symbol} is defined in {DEFINITIONS.get(symbol)}"


def test_every_module_of_the_data_path_exists() -> None:
    text = DOC.read_text().split("Where each concept lives", 1)[0]
    named = set(re.findall(r"``([\w/]+\.py)``", text))
    assert len(named) >= 20
    missing = sorted(name for name in named if not (PACKAGE / name).is_file())
    assert missing == []


#: Issue 10's bound: a module holds one idea, and one idea fits in about this many lines.
MODULE_LINES = 400


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_of_the_package_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MODULE_LINES, f"{path.relative_to(PACKAGE)}: {lines} lines; split it along one of its ideas"
