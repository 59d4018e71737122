"""
The "where each concept lives" table of docs/internals.rst is true: each symbol it names is defined
at the top level of the module it names, and nowhere else in the package.

A re-export (``from x import y`` or ``y = x.y``) is not a definition; a second ``def``, ``class``
or computed value of the same name is, and fails here: that is a concept living in two places.
"""

from __future__ import annotations

import ast
import json
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


# -- the map true by meaning ------------------------------------------------------------------------
#
# A concept copied under another name passes the symbol check above. Where a literal or a shape *is*
# the concept (a mask, the default resolution, the mode list, the event statuses, the User-Agent, a
# status-to-error table, a redaction function), it may appear only in its home module. Docstrings are
# prose and are not read; the simulator (``testing/simulator``) stands for the API on the other side
# of the wire and keeps its own copy of the API's facts on purpose (a simulator importing the
# provider's constants could not catch the provider getting them wrong).

SIMULATOR = PACKAGE / "testing" / "simulator"
#: The trigger's event statuses (the words the trigger and its readers agree on).
EVENT_STATUSES = frozenset({"success", "failed", "timeout", "error"})
#: The video modes the API takes.
MODES = frozenset({"t2v", "i2v", "r2v"})


def _sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text())
        for path in sorted(PACKAGE.rglob("*.py"))
        if SIMULATOR not in path.parents
    }


SOURCES = _sources()


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring constants of a module, its classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _strings(tree: ast.Module) -> list[ast.Constant]:
    """Every string constant of a module but its docstrings (f-strings' literal parts included)."""
    skip = _docstrings(tree)
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def _status_read(node: ast.AST) -> bool:
    """``x.get("status")`` or ``x["status"]``: an event's status read back."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "status"
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "status"


def _event_status_words(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and node.value in EVENT_STATUSES:
        return [node.value]
    if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in EVENT_STATUSES]
    if isinstance(node, ast.IfExp):
        return _event_status_words(node.body) + _event_status_words(node.orelse)
    return []


def _mask_copies(tree: ast.Module) -> list[ast.AST]:
    return [c for c in _strings(tree) if c.value == "***" or "[redacted]" in c.value or r"\[redacted\]" in c.value]


def _default_resolution_copies(tree: ast.Module) -> list[ast.AST]:
    return [c for c in _strings(tree) if c.value == "720p"]


def _mode_copies(tree: ast.Module) -> list[ast.AST]:
    """The mode list: a tuple, list, set or ``Literal`` of two or more modes."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        listed = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else []
        if sum(isinstance(e, ast.Constant) and e.value in MODES for e in listed) >= 2:
            found.append(node)
    return found


def _event_status_copies(tree: ast.Module) -> list[ast.AST]:
    """Event statuses built (``{"status": "error"}``, ``_event("timeout")``) or named (``== "timeout"``, an enum)."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "status" and _event_status_words(value):
                    found.append(value)
        elif isinstance(node, ast.Compare) and any(map(_status_read, [node.left, *node.comparators])):
            if any(_event_status_words(part) for part in [node.left, *node.comparators]):
                found.append(node)
        elif isinstance(node, ast.Call) and node.args and _event_status_words(node.args[0]):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if "event" in name.lower():
                found.append(node)
        elif isinstance(node, ast.ClassDef):  # an enum of them
            values = [a.value for a in node.body if isinstance(a, ast.Assign)]
            found += [node] if sum(len(_event_status_words(v)) for v in values) >= 2 else []
        elif isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
            found += [node] if len(_event_status_words(node.slice)) >= 2 else []
    return found


def _user_agent_copies(tree: ast.Module) -> list[ast.AST]:
    """A product token of the provider (``...empiriolabs/``), or a ``User-Agent`` header set to anything else."""
    found: list[ast.AST] = [c for c in _strings(tree) if re.fullmatch(r"[\w.-]*empiriolabs[\w.-]*/", c.value)]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and str(key.value).lower() == "user-agent":
                calls_home = isinstance(value, ast.Call) and getattr(value.func, "id", None) == "user_agent"
                if not calls_home:
                    found.append(value)
    return found


def _status_tables(tree: ast.Module) -> list[ast.AST]:
    """A dict keyed by HTTP error statuses: which error (or meaning) a status has."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            statuses = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, int)]
            if len(statuses) >= 2 and all(400 <= s < 600 for s in statuses):
                found.append(node)
    return found


#: The redaction rules, by name: a function that calls one of them applies the rule, it does not copy it.
REDACTION_RULES = frozenset({"redact_url", "redact_text", "redact_log_text", "scrub", "mask_signed_url"})


def _redaction_functions(tree: ast.Module) -> list[ast.AST]:
    """A function whose name says it redacts, scrubs or masks, and that does so without the home's rules."""
    words = ("redact", "scrub", "mask")
    found: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(w in node.name.lower() for w in words):
            calls = [c.func for c in ast.walk(node) if isinstance(c, ast.Call)]
            called = {getattr(f, "id", getattr(f, "attr", None)) for f in calls}
            if not called & REDACTION_RULES:
                found.append(node)
    return found


def _policy_claims(tree: ast.Module) -> list[ast.AST]:
    """A module docstring that calls its module the provider's one retry (or outcome) policy."""
    doc = ast.get_docstring(tree) or ""
    return [tree] if re.search(r"\bthe one (?:\w+ and )?retry policy\b", doc, flags=re.IGNORECASE) else []


#: Concept of the table -> how a copy of it looks. Each is allowed only in the table's module.
SHAPES = {
    "Redaction of keys and signed URLs": [_mask_copies, _redaction_functions],
    "A model's parameters, defaults (720p, 5 s), rules and price rows (``models/specs/*.json``)": [
        _default_resolution_copies
    ],
    "The video modes and which one a request means": [_mode_copies],
    "Trigger events: built and read, every status": [_event_status_copies],
    "The provider's User-Agent": [_user_agent_copies],
    "Which error an HTTP status becomes": [_status_tables],
    "Can a retry help? Transient or final, for every path": [_policy_claims],
}
#: Concepts whose values are data files (a folder of the package), not literals of their module.
DATA_HOMES = {
    "A model's parameters, defaults (720p, 5 s), rules and price rows (``models/specs/*.json``)": "models/specs"
}
#: Other modules that may hold a concept's literal, and why.
ALSO_AT_HOME = {
    # The render-time guess names 1080p as a value, not as a default.
    "A model's parameters, defaults (720p, 5 s), rules and price rows (``models/specs/*.json``)": {"models/request.py"},
}


def _location(module: str, node: ast.AST) -> str:
    return f"{module}:{getattr(node, 'lineno', 1)}"


@pytest.mark.parametrize("concept", sorted(SHAPES), ids=lambda c: c[:40])
def test_a_concept_appears_under_no_other_name(concept: str) -> None:
    homes = {module for name, _, module in ROWS if name == concept}
    assert len(homes) == 1, f"{concept!r} is not a row of the table in {DOC.name}"
    allowed = homes | ALSO_AT_HOME.get(concept, set())
    copies = [
        _location(module, node)
        for module, tree in SOURCES.items()
        if module not in allowed
        for shape in SHAPES[concept]
        for node in shape(tree)
    ]
    assert copies == [], f"{concept}: copies outside {sorted(allowed)}; use the home's name instead"


@pytest.mark.parametrize("concept", sorted(SHAPES), ids=lambda c: c[:40])
def test_the_shape_finds_the_home_copy(concept: str) -> None:
    """Each shape sees its concept at home (so an empty result elsewhere means something)."""
    (home,) = {module for name, _, module in ROWS if name == concept}
    if concept in DATA_HOMES:  # the values are data: the shape finds them in the files
        files = sorted((PACKAGE / DATA_HOMES[concept]).glob("*.json"))
        texts = [ast.parse(repr(json.loads(path.read_text()))) for path in files]
        assert any(shape(tree) for shape in SHAPES[concept] for tree in texts), f"{concept}: nothing found"
        return
    assert any(shape(SOURCES[home]) for shape in SHAPES[concept]), f"{concept}: nothing found in {home}"
