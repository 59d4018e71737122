"""
``.. empiriolabs-model-table::``: the table of models, generated from the spec files the package ships.

The docs never copy a price or a range: this directive reads the specs (``models/specs/*.json``)
when the docs are built, so the table is the data the operators check and price with.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from airflow_provider_empiriolabs.models.catalogue import packaged_spec, shipped_models
from airflow_provider_empiriolabs.models.spec import ModelSpec, Param

_UNITS = {"second": "per second", "clip": "per clip", "image": "per image", "fee": "fee per request"}


def _param(name: str, param: Param) -> str:
    if param.allowed is not None:
        values = "/".join(str(v) for v in param.allowed)
    elif param.min is not None or param.max is not None:
        low, high = (_number(param.min), _number(param.max))
        values = f"{low} to {high}"
    else:
        values = param.type
    default = "" if param.default is None else f", default {param.default}"
    return f"``{name}`` ({values}{default})"


def _number(value: float | None) -> str:
    if value is None:
        return "any"
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"


def _prices(spec: ModelSpec) -> str:
    rows = [f"{row.label}: ${row.usd:g} {_UNITS[row.unit]}" for row in spec.prices]
    if len(rows) > 8:
        rows = [*rows[:6], f"... {len(rows) - 6} more rows (see the spec)"]
    return "; ".join(rows) or "unpriced"


def model_table_lines() -> list[str]:
    """The reStructuredText of the table: one row per shipped model."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 14 8 46 32",
        "",
        "   * - Model",
        "     - Kind",
        "     - Parameters (allowed values or range, default)",
        "     - Prices (USD)",
    ]
    for model_id in shipped_models():
        spec = packaged_spec(model_id)
        params = ", ".join(_param(name, p) for name, p in spec.parameters.items() if name != "prompt")
        lines += [
            f"   * - `{spec.id} <{spec.source}>`__",
            f"     - {spec.kind}",
            f"     - {params}",
            f"     - {_prices(spec)}",
        ]
    return lines


class ModelTable(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(model_table_lines(), source="model specs"), self.content_offset, container)
        return list(container.children)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("empiriolabs-model-table", ModelTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
