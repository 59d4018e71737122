"""Every test that MATRIX.md's new-surfaces section names exists (a renamed test would leave a dead row)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.reliability.new_surfaces import EVERY_JOB, NEW_SURFACES

REPO = Path(__file__).resolve().parents[2]


def _names(path: Path) -> set[str]:
    """``name`` and ``Class::name`` of every test function in ``path``."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.add(f"{node.name}::{item.name}")
    return found


@pytest.mark.parametrize("row", NEW_SURFACES + EVERY_JOB, ids=[row[0][:50] for row in NEW_SURFACES + EVERY_JOB])
def test_each_class_names_a_test_that_exists(row: tuple[str, str, str, str]) -> None:
    path, _, name = row[1].partition("::")
    assert (REPO / path).is_file(), f"{row[0]}: {path} does not exist"
    assert name in _names(REPO / path), f"{row[0]}: no test {name} in {path}"
