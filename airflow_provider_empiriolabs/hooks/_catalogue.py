"""
The live catalogue (``GET /v1/models/{id}``) read over a shipped model spec: what it says wins.

The catalogue's JSON is not published (``empiriolabs-catalogue.md`` sections 1 and 8), so the
reader takes what it can from several plausible shapes and names what it could not read:

- parameters from ``supported_parameters`` (a list of items with ``name``, or an object by name):
  allowed values from ``options`` / ``enum`` / ``allowed`` / ``values`` (scalars, or objects with a
  ``value``), a range from ``min``/``max``, ``minimum``/``maximum`` or ``range`` (``[lo, hi]``,
  ``{"min", "max"}`` or text such as ``"3 - 15"``), ``default`` and ``required``;
- prices from ``pricing_rows`` or ``pricing`` (a list, one row, or an object of rows by label): the
  label from ``label`` / ``charge`` / ``name`` / ``spec``, the unit from ``unit`` /
  ``billing_unit`` / ``spec`` (video-second, per second, per video, image, additional fee...), the
  rate from ``price`` / ``price_usd`` / ``rate`` / ``usd`` / ``amount`` (a number, or text such as
  ``"$0.14"`` or ``"$0.09 (was $0.10)"``: the first amount); a list ("was") rate is ignored.

A live price row is matched to a shipped row by its label (case, spaces and punctuation aside) or by
the parameter values it carries (``"resolution": "720p"``, at the top or under ``conditions`` /
``when`` / ``applies_to``). Where the catalogue and the shipped spec disagree (a rate, a range, the
allowed values, a default, required) the catalogue wins, and each difference is one log line. A live
row that matches no shipped row, a unit that is not the shipped row's, a value of the wrong kind:
each is one "not understood" line, and the shipped value stays. Whatever the body holds, the reader
returns a valid spec: a body it cannot read at all leaves the shipped spec, with one line saying why.

A model without a shipped spec is never given one from the catalogue alone (see ``docs/models.rst``).

The hook reads the catalogue once per model, base URL and TTL per process (:func:`model_spec`):
``catalogue_ttl_seconds``, a connection extra, else ``[empiriolabs] catalogue_ttl_seconds``
(default 3600; 0 turns the live read off).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_provider_empiriolabs.hooks._settings import CATALOGUE_TTL, DEFAULT_CATALOGUE_TTL_SECONDS
from airflow_provider_empiriolabs.models import parsing
from airflow_provider_empiriolabs.models.catalogue import CONFIG_SECTION, shipped_spec
from airflow_provider_empiriolabs.models.spec import PLATFORM_FIELDS, ModelSpec, Param, PriceRow
from airflow_provider_empiriolabs.models.text import shown
from airflow_provider_empiriolabs.redaction import redact_log_text, scrub

if TYPE_CHECKING:
    import logging

    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

__all__ = ["LiveSpec", "catalogue_ttl", "forget_catalogue", "merge_live", "model_spec"]

#: The most seconds the catalogue read may take in all: a slow catalogue delays a task this much at most.
CATALOGUE_DEADLINE_SECONDS = 10.0
#: How long a failed read is remembered before the next task tries again (never longer than the TTL).
FAILED_READ_TTL_SECONDS = 60.0
#: The most parameters or price rows read from one body (the rest are named as not read).
MAX_ITEMS = 500
#: A rate above this many USD per unit is not a price (a hostile or broken catalogue).
MAX_RATE_USD = 1_000_000.0

_ALLOWED_KEYS = ("options", "enum", "allowed", "allowed_values", "values", "choices")
_LOW_KEYS = ("min", "minimum", "min_value")
_HIGH_KEYS = ("max", "maximum", "max_value")
_LABEL_KEYS = ("label", "charge", "name", "title", "spec")
_UNIT_KEYS = ("unit", "billing_unit", "spec", "per")
_RATE_KEYS = ("price", "price_usd", "rate", "usd", "amount", "cost", "rate_usd")
_CONDITION_KEYS = ("conditions", "when", "applies_to")
_AMOUNT = re.compile(r"[-+]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")
_RANGE_TEXT = re.compile(
    r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:-|\u2013|\u2014|to|\.\.)\s*([-+]?\d+(?:\.\d+)?)\s*(?:s|seconds?)?\s*$"
)


@dataclass(frozen=True)
class LiveSpec:
    """
    A model's spec as the live catalogue left it, and what to log about it.

    :param spec: the shipped spec with the catalogue's values over it (the shipped one when unread).
    :param notes: one line per difference the catalogue won, or per thing it said that was not understood.
    :param problem: why the catalogue could not be read at all (the shipped spec is used), else ``None``.
    """

    spec: ModelSpec
    notes: tuple[str, ...] = ()
    problem: str | None = None


# -- reading a body ------------------------------------------------------------------------------


def merge_live(shipped: ModelSpec, body: Any) -> LiveSpec:
    """
    The shipped spec with what ``body`` (a ``GET /v1/models/{id}`` answer) says over it. Never raises.

    :param shipped: the model's shipped spec.
    :param body: the decoded JSON answer, of any shape.
    """
    try:
        return _merge(shipped, body)
    except Exception as error:  # a shape no branch foresaw: the shipped spec, and why
        return LiveSpec(shipped, problem=f"its answer could not be read ({type(error).__name__})")


def _merge(shipped: ModelSpec, body: Any) -> LiveSpec:
    if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping):
        body = body["data"]  # a detail wrapped as {"data": {...}}
    if not isinstance(body, Mapping):
        return LiveSpec(shipped, problem=f"its answer is not a JSON object (got {type(body).__name__})")
    live_id = body.get("id")
    if live_id is not None and live_id != shipped.id:
        return LiveSpec(shipped, problem=f"its answer describes another model ({shown(live_id)})")
    notes: list[str] = []
    raw_params = _parameter_items(body, notes)
    raw_rows = _price_items(body, notes)
    if raw_params is None and raw_rows is None:
        return LiveSpec(shipped, problem="its answer has neither supported_parameters nor pricing rows")
    parameters = dict(shipped.parameters)
    for name, item in raw_params or []:
        if name in PLATFORM_FIELDS[shipped.kind] and name not in parameters:
            continue  # the platform's own fields (model, template...): taken by every model
        merged = _merge_param(shipped.id, name, parameters.get(name), item, notes)
        if merged is not None:
            parameters[name] = merged
    prices = _merge_prices(shipped, raw_rows or [], notes) if raw_rows else shipped.prices
    try:
        spec = ModelSpec.model_validate({**shipped.model_dump(), "parameters": parameters, "prices": prices})
    except ValidationError as error:
        first = error.errors()[0].get("msg", "invalid") if error.errors() else "invalid"
        return LiveSpec(shipped, problem=f"what it says does not make a valid spec ({first})")
    if spec != shipped:  # a refusal names where its rule came from
        spec = spec.model_copy(
            update={"source": f"the live catalogue (GET /v1/models/{spec.id}) over {shipped.source}"}
        )
    return LiveSpec(spec, tuple(notes))


def _parameter_items(body: Mapping[str, Any], notes: list[str]) -> list[tuple[str, Mapping[str, Any]]] | None:
    raw = body.get("supported_parameters", body.get("parameters"))
    if raw is None:
        return None
    if isinstance(raw, Mapping):  # {"duration": {...}, ...}
        items = [(name, item) for name, item in raw.items() if isinstance(item, Mapping)]
        items = [(n, {**i, "name": n}) for n, i in items]
    elif isinstance(raw, list):
        items = [(item.get("name"), item) for item in raw if isinstance(item, Mapping)]
    else:
        notes.append(f"supported_parameters not understood: a {type(raw).__name__}, not a list")
        return None
    kept = [(name, item) for name, item in items if isinstance(name, str) and name]
    if len(kept) < len(raw):
        notes.append(f"{len(raw) - len(kept)} supported_parameters item(s) not understood (no name)")
    if len(kept) > MAX_ITEMS:
        notes.append(f"only the first {MAX_ITEMS} of {len(kept)} supported_parameters read")
    return kept[:MAX_ITEMS]


def _merge_param(model: str, name: str, param: Param | None, item: Mapping[str, Any], notes: list[str]) -> Param | None:
    where = f"{model} parameter {shown(name)}"
    if param is None:
        notes.append(
            f"{where}: in the catalogue, not in the shipped spec; not added (the shipped spec lists what is checked)"
        )
        return None
    changes: dict[str, Any] = {}
    allowed = _allowed(item, param, where, notes)
    if allowed is not None and allowed != param.allowed:
        changes["allowed"] = allowed
        notes.append(
            f"{where}: catalogue allows {_values(allowed)}, shipped spec {_values(param.allowed)}; "
            "using the catalogue's"
        )
    low, high = _range(item, where, notes)
    if param.type in ("number", "integer") and (low is not None or high is not None):
        new_low = param.min if low is None else low
        new_high = param.max if high is None else high
        if new_low is not None and new_high is not None and new_low > new_high:
            notes.append(
                f"{where}: range {_span(new_low, new_high)} not understood (its low end is above its high end)"
            )
        elif (new_low, new_high) != (param.min, param.max):
            changes.update(min=new_low, max=new_high)
            notes.append(
                f"{where}: catalogue says {_span(new_low, new_high)}, shipped spec {_span(param.min, param.max)}; "
                f"using {_span(new_low, new_high)}"
            )
    required = item.get("required")
    if isinstance(required, bool) and required != param.required:
        changes["required"] = required
        notes.append(
            f"{where}: catalogue says required={str(required).lower()}, shipped spec "
            f"{str(param.required).lower()}; using the catalogue's"
        )
    elif required is not None and not isinstance(required, bool):
        notes.append(f"{where}: required {shown(required)} not understood (not true or false)")
    if "default" in item and item["default"] is not None:
        default = _coerce(item["default"], param.type)
        candidate = param.model_copy(update=changes)
        if default is _UNREAD or candidate.problem(default):
            notes.append(f"{where}: default {shown(item['default'])} not understood (not a value it allows)")
        elif not (_is_number(default) and _is_number(param.default) and default == param.default) and (
            default != param.default or type(default) is not type(param.default)
        ):
            changes["default"] = default
            notes.append(
                f"{where}: catalogue's default is {shown(default)}, shipped spec {shown(param.default)}; "
                "using the catalogue's"
            )
    if not changes:
        return param
    try:
        return Param.model_validate({**param.model_dump(), **changes})
    except ValidationError:
        notes.append(f"{where}: what the catalogue says does not make a valid parameter; keeping the shipped one")
        return param


_UNREAD = object()


def _allowed(item: Mapping[str, Any], param: Param, where: str, notes: list[str]) -> tuple[Any, ...] | None:
    for key in _ALLOWED_KEYS:
        raw = item.get(key)
        if raw is None:
            continue
        if not isinstance(raw, list) or not raw or len(raw) > MAX_ITEMS:
            notes.append(f"{where}: {key} not understood (not a list of up to {MAX_ITEMS} values)")
            return None
        values = [_coerce(v.get("value", v.get("id")) if isinstance(v, Mapping) else v, param.type) for v in raw]
        if any(v is _UNREAD for v in values):
            notes.append(f"{where}: {key} not understood (a value of the wrong kind for a {param.type})")
            return None
        return tuple(dict.fromkeys(values))
    return None


def _coerce(value: Any, kind: str) -> Any:
    """``value`` as a value of a parameter of type ``kind``, or ``_UNREAD`` when it cannot be one."""
    if kind in ("number", "integer"):
        number = parsing.number(value)
        if number is None or (kind == "integer" and not float(number).is_integer()):
            return _UNREAD
        return int(number) if float(number).is_integer() and abs(number) < 2**53 else number
    if kind == "boolean":
        return value if isinstance(value, bool) else _UNREAD
    if kind in ("string", "string_or_array"):
        return value if isinstance(value, str) and len(value) <= 200 else _UNREAD
    return _UNREAD  # arrays and objects have no allowed list or default read from the catalogue


def _range(item: Mapping[str, Any], where: str, notes: list[str]) -> tuple[float | None, float | None]:
    low = next((item[k] for k in _LOW_KEYS if item.get(k) is not None), None)
    high = next((item[k] for k in _HIGH_KEYS if item.get(k) is not None), None)
    raw = item.get("range")
    if raw is not None and low is None and high is None:
        if isinstance(raw, list) and len(raw) == 2:
            low, high = raw
        elif isinstance(raw, Mapping):
            low = next((raw[k] for k in _LOW_KEYS if raw.get(k) is not None), None)
            high = next((raw[k] for k in _HIGH_KEYS if raw.get(k) is not None), None)
        elif isinstance(raw, str) and (match := _RANGE_TEXT.match(raw)):
            low, high = match.group(1), match.group(2)
        else:
            notes.append(f"{where}: range {shown(raw)} not understood")
            return None, None
    lo, hi = (None if v is None else parsing.number(v) for v in (low, high))
    if (low is not None and lo is None) or (high is not None and hi is None):
        notes.append(f"{where}: range {shown(low)} to {shown(high)} not understood (not numbers)")
        return None, None
    return lo, hi


# -- price rows ----------------------------------------------------------------------------------


def _price_items(body: Mapping[str, Any], notes: list[str]) -> list[Mapping[str, Any]] | None:
    key = "pricing_rows" if body.get("pricing_rows") is not None else "pricing"
    raw = body.get(key)
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        if any(k in raw for k in _RATE_KEYS):
            raw = [raw]  # one row
        elif isinstance(raw.get("rows"), list):
            raw = raw["rows"]
        else:  # rows by label: {"720p": "$0.14", "1080p": {"price": 0.18}}
            raw = [
                {**value, "label": label} if isinstance(value, Mapping) else {"label": label, "price": value}
                for label, value in raw.items()
            ]
    if not isinstance(raw, list):
        notes.append(f"{key} not understood: a {type(raw).__name__}, not a list of rows")
        return None
    rows = [row for row in raw if isinstance(row, Mapping)]
    if len(rows) < len(raw):
        notes.append(f"{len(raw) - len(rows)} {key} item(s) not understood (not an object)")
    if len(rows) > MAX_ITEMS:
        notes.append(f"only the first {MAX_ITEMS} of {len(rows)} {key} read")
    return rows[:MAX_ITEMS]


def _merge_prices(shipped: ModelSpec, rows: list[Mapping[str, Any]], notes: list[str]) -> tuple[PriceRow, ...]:
    prices = list(shipped.prices)
    taken: set[int] = set()
    for row in rows:
        label, unit, rate, conditions = _label(row), _unit(row), _rate(row), _conditions(row, shipped)
        shown_label = shown(label) if label is not None else "without a label"
        index = _match(prices, label, conditions)
        where = f"{shipped.id} price row {label if label is not None else shown_label}"
        if index is None:
            notes.append(f"{shipped.id}: catalogue price row {shown_label} not understood (matches no shipped row)")
            continue
        old = prices[index]
        where = f"{shipped.id} price row {old.label}"
        if index in taken:
            notes.append(f"{where}: a second catalogue row for it ({shown_label}) not understood; keeping the first")
            continue
        taken.add(index)
        if unit is _UNREAD:
            notes.append(f"{where}: the catalogue's unit not understood; keeping the shipped ${old.usd:g}")
            continue
        if unit is not None and unit != old.unit:
            notes.append(
                f"{where}: catalogue prices it per {unit}, shipped spec per {old.unit}; not understood, "
                f"keeping the shipped ${old.usd:g}"
            )
            continue
        if rate is None:
            notes.append(f"{where}: the catalogue's rate not understood; keeping the shipped ${old.usd:g}")
            continue
        if rate != old.usd:
            prices[index] = old.model_copy(update={"usd": rate})
            notes.append(f"{where}: catalogue says ${rate:g}, shipped spec ${old.usd:g}; using ${rate:g}")
    for index, kept in enumerate(shipped.prices):
        if index not in taken:
            notes.append(
                f"{shipped.id} price row {kept.label}: not in the catalogue; keeping the shipped ${kept.usd:g}"
            )
    return tuple(prices)


def _label(row: Mapping[str, Any]) -> str | None:
    for key in _LABEL_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip() and not (key == "spec" and _unit_of(value) is not None):
            return value.strip()[:200]
    return None


def _unit(row: Mapping[str, Any]) -> Any:
    """The row's unit as a spec's (``second``, ``clip``, ``image``, ``fee``), ``None`` unsaid, ``_UNREAD`` unknown."""
    for key in _UNIT_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            unit = _unit_of(value)
            if unit is not None:
                return unit
            if key != "spec":  # a spec that is no unit is the label
                return _UNREAD
    return None


def _unit_of(text: str) -> str | None:
    words = text.lower()
    if "fee" in words or "additional" in words or "request" in words or "call" in words:
        return "fee"
    if "second" in words or re.search(r"\bsec\b|/s\b", words):
        return "second"
    if "image" in words:
        return "image"
    if "video" in words or "clip" in words:
        return "clip"
    return None


def _rate(row: Mapping[str, Any]) -> float | None:
    for key in _RATE_KEYS:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, Mapping):  # {"amount": 0.14, "currency": "USD"}
            value = next((value[k] for k in _RATE_KEYS if value.get(k) is not None), None)
        number = parsing.number(value)
        if number is None and isinstance(value, str):
            match = _AMOUNT.search(value[:64])  # "$0.14", "0.14 USD / s", "$0.09 (was $0.10)": the first amount
            number = parsing.number(match.group(0).replace(",", ".")) if match else None
        if number is not None and 0 <= number <= MAX_RATE_USD:
            return round(number, 6)
        return None
    return None


def _conditions(row: Mapping[str, Any], shipped: ModelSpec) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in _CONDITION_KEYS:
        nested = row.get(key)
        if isinstance(nested, Mapping):
            found.update({k: v for k, v in nested.items() if k in shipped.parameters})
    found.update({k: v for k, v in row.items() if k in shipped.parameters and k not in _LABEL_KEYS})
    return found


def _match(prices: list[PriceRow], label: str | None, conditions: dict[str, Any]) -> int | None:
    if label is not None:
        wanted = _normal(label)
        for index, row in enumerate(prices):
            if _normal(row.label) == wanted:
                return index
    if conditions:
        wanted_when = _normal_when(conditions)
        for index, row in enumerate(prices):
            if row.when and _normal_when(row.when) == wanted_when:
                return index
    return None


def _normal(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", label.lower())


def _normal_when(when: Mapping[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, list):
            return frozenset(one(v) for v in value if not isinstance(v, (list, Mapping)))
        if isinstance(value, str):
            return _normal(value)
        return value if not isinstance(value, Mapping) else None

    return {key: one(value) for key, value in when.items()}


def _values(values: tuple[Any, ...] | None) -> str:
    return (
        "any value"
        if values is None
        else ", ".join(shown(v) for v in values[:20]) + (" ..." if len(values) > 20 else "")
    )


def _span(low: float | None, high: float | None) -> str:
    return f"{'any' if low is None else f'{low:g}'} to {'any' if high is None else f'{high:g}'}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- the hook's read, cached per process ---------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    live: LiveSpec
    expires: float
    read_at: float


_cache: dict[tuple[str, str], _Entry] = {}
_lock = threading.Lock()


def _now() -> float:
    return time.monotonic()


def forget_catalogue() -> None:
    """Read the catalogue again on next use (every model, every base URL)."""
    with _lock:
        _cache.clear()


def catalogue_ttl(extra: Mapping[str, Any], log: logging.Logger | Any) -> float:
    """
    Seconds a catalogue read is kept: the connection's extra, else ``[empiriolabs]``'s key, else the default.

    :param extra: the connection's extras.
    :param log: where a value that is not a number of seconds is named (the default is used).
    """
    from airflow.sdk import conf

    raw = extra.get(CATALOGUE_TTL.name)
    where = f"connection extra {CATALOGUE_TTL.name}"
    if raw in (None, ""):
        raw = conf.get(CONFIG_SECTION, CATALOGUE_TTL.name, fallback=None)
        where = f"[{CONFIG_SECTION}] {CATALOGUE_TTL.name}"
    if raw in (None, ""):
        return DEFAULT_CATALOGUE_TTL_SECONDS
    seconds = parsing.number(raw)
    if seconds is None or seconds < 0:
        log.warning("%s must be 0 or more seconds (got %s); using %g", where, shown(raw), DEFAULT_CATALOGUE_TTL_SECONDS)
        return DEFAULT_CATALOGUE_TTL_SECONDS
    return seconds


def model_spec(hook: EmpirioLabsHook, model_id: Any) -> ModelSpec | None:
    """
    The spec of ``model_id``: the shipped one with the live catalogue's values over it, logged.

    ``None`` for a model without a shipped spec (no request is made). The catalogue is read with one
    GET (in the account's request budget, tried once, within :data:`CATALOGUE_DEADLINE_SECONDS`),
    kept per base URL and model for the TTL; a read that fails (an error, a timeout, a body it
    cannot read) leaves the shipped spec and logs one warning. Never raises.
    """
    shipped = shipped_spec(model_id) if isinstance(model_id, str) else None
    if shipped is None:
        return None
    log = hook.log
    try:
        settings = hook.settings
        ttl = catalogue_ttl(hook.get_connection(hook.empiriolabs_conn_id).extra_dejson, log)
    except Exception as error:  # the task needs the connection anyway, and says so where it does
        log.debug("The live catalogue is not read (the connection: %s)", type(error).__name__)
        return shipped
    if ttl <= 0:
        return shipped
    key = (settings.base_url, model_id)
    with _lock:  # one read per model and base URL at a time: N tasks in one process make one GET
        entry = _cache.get(key)
        now = _now()
        if entry is None or entry.expires <= now:
            live = _read(hook, shipped)
            ttl_here = ttl if live.problem is None else min(ttl, FAILED_READ_TTL_SECONDS)
            entry = _Entry(live, now + ttl_here, now)
            _cache[key] = entry
    _log(log, entry, settings.api_key, settings.base_url)
    return entry.live.spec


def _read(hook: EmpirioLabsHook, shipped: ModelSpec) -> LiveSpec:
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

    settings = hook.settings
    deadline = min(settings.deadline, CATALOGUE_DEADLINE_SECONDS)
    probe = EmpirioLabsHook(hook.empiriolabs_conn_id, max_attempts=1)  # tried once: the shipped spec is there
    probe._settings = replace(settings, timeout=min(settings.timeout, deadline), total_timeout=deadline)
    try:
        body = probe.get_model(shipped.id)
    except Exception as error:  # of any kind: the task goes on with the shipped spec
        return LiveSpec(shipped, problem=f"it could not be read ({type(error).__name__}: {error})")
    finally:
        probe.close()
    return merge_live(shipped, _scrubbed(body, settings.api_key))


def _scrubbed(value: Any, api_key: str, depth: int = 0) -> Any:
    """``value`` with the key masked in every string: a catalogue that echoes it never gets it logged, even cut."""
    if depth > 32:
        return None
    if isinstance(value, str):
        return scrub(value, api_key)
    if isinstance(value, list):
        return [_scrubbed(item, api_key, depth + 1) for item in value]
    if isinstance(value, Mapping):
        return {scrub(k, api_key): _scrubbed(v, api_key, depth + 1) for k, v in value.items()}
    return value


def _log(log: logging.Logger | Any, entry: _Entry, api_key: str, base_url: str) -> None:
    live = entry.live
    age = _now() - entry.read_at
    when = "" if age < 1 else f" (read {age:.0f} s ago)"
    if live.problem is not None:
        text = f"The live catalogue of {live.spec.id} at {base_url}{when}: {live.problem}; using the shipped spec"
        log.warning("%s", _clean(text, api_key))
        return
    for note in live.notes:
        log.warning("Live catalogue%s: %s", when, _clean(note, api_key))


def _clean(text: str, api_key: str) -> str:
    return redact_log_text(scrub(text, api_key, limit=1000))
