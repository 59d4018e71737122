"""
A model's spec: its parameters, the rules between them, and its price rows, as data.

One spec per model, written from the model's public page (``models/specs/<model-id>.json``) and
replaced field by field by what the live catalogue says at run time (:mod:`.catalogue`). A spec
answers two questions about a request body, the JSON that is sent:

- :meth:`ModelSpec.problems`: what the model would refuse (a parameter it does not take, a value
  outside its allowed values or range, a rule the docs state in prose such as "``video`` required
  for videoedit" or "``duration`` only when ``custom_duration``"), each naming the field and the rule;
- :meth:`ModelSpec.estimate`: what it would cost, from the price rows that apply to the body's
  values (and the model's defaults for what the body leaves unset), or why that is unknown.

A price row has a unit: ``second`` (times the billed seconds), ``clip`` and ``image`` (times the
count of outputs), ``fee`` (a flat amount per request, added to the rest). Its ``when`` says which
parameter values it applies to; exactly one non-fee row applies to a priced request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from airflow_provider_empiriolabs.models.text import is_http_url, is_uploaded_path, shown

__all__ = ["ABSENT", "PRESENT", "Estimate", "ModelSpec", "Param", "PriceRow", "Rule", "whole_seconds"]

#: A ``when`` value that matches a parameter given (not empty), or one left unset.
PRESENT = "present"
ABSENT = "absent"

#: Body fields every model of an endpoint takes, whatever its spec lists (the platform's own).
PLATFORM_FIELDS: dict[str, frozenset[str]] = {
    "video": frozenset({"model", "template", "extend_from"}),
    "image": frozenset({"model", "template", "sync"}),
}

_SCENE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*s\s*:", re.IGNORECASE)


def whole_seconds(seconds: float) -> int:
    """The whole seconds the API bills for ``seconds`` of video: rounded up (5.5 s is billed as 6)."""
    return max(0, math.ceil(seconds))


class Param(BaseModel):
    """One parameter a model takes: its type, default, and the values or range it allows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["string", "number", "integer", "boolean", "array", "object", "string_or_array"]
    required: bool = False
    default: Any = None
    allowed: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(None, description="characters of a string, or items of an array")
    reference: bool = Field(False, description="holds media references: http(s) URLs or uploaded paths")
    description: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not one this parameter allows, or ``None``."""
        kind = _kind_problem(self.type, value)
        if kind:
            return kind
        if self.reference:
            items = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
            bad = next((item for item in items if not (is_http_url(item) or is_uploaded_path(item))), None)
            if bad is not None or not items:
                got = "" if bad is None else f" (got {shown(bad)})"
                return f"must be an http(s) URL or a path returned by /v1/files/upload{got}"
        if self.allowed is not None and value not in self.allowed:
            return f"must be one of {', '.join(map(_literal, self.allowed))} (got {shown(value)})"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low = -math.inf if self.min is None else self.min
            high = math.inf if self.max is None else self.max
            if not low <= value <= high:
                return f"must be {_number(self.min, 'any')} to {_number(self.max, 'any')} (got {shown(value)})"
        if self.max_length is not None and isinstance(value, (str, list, tuple)):
            size = 1 if self.type == "string_or_array" and isinstance(value, str) else len(value)
            what = "characters" if self.type == "string" else "items"
            if size > self.max_length:
                return f"at most {self.max_length:,} {what} (got {size:,})"
        return None


class Rule(BaseModel):
    """
    A rule between parameters that the docs state in prose: when ``when`` matches the body, the
    ``require`` parameters must be given and the ``forbid`` ones must not be.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: dict[str, Any]
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    says: str = Field(description="the docs' words for the rule, quoted in the refusal")


class PriceRow(BaseModel):
    """One row of a model's price list: a rate in USD per unit, and the parameter values it applies to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    unit: Literal["second", "clip", "image", "fee"]
    usd: float = Field(ge=0)
    when: dict[str, Any] = Field(default_factory=dict)


class Unpriced(BaseModel):
    """A case the price list cannot price before sending, and why (e.g. billed by an input's length)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: dict[str, Any]
    why: str


class Estimate(BaseModel):
    """What a request will cost in USD (``None`` when unknown, with why), and the rows that priced it."""

    model_config = ConfigDict(frozen=True)

    usd: float | None
    why: str | None = None
    rows: tuple[str, ...] = ()


class ModelSpec(BaseModel):
    """
    What one model takes and what it costs, as data (see the module's docstring).

    :param seconds: how the billed seconds are read: ``duration`` (rounded up to whole seconds),
        ``scenes`` (a multi-scene prompt, ``"5s: ..."`` per scene separated by ``|`` or new lines:
        the sum of the scenes' seconds, ``duration`` each when a scene names none), or ``None``
        for a model not billed by the second.
    :param count_field: the body field that asks for several outputs (``num_images``,
        ``max_images``, ``n``), each billed; ``None`` when there is one.
    :param priced_combinations_only: a combination of values with no price row is refused, not
        only unpriced (the model page lists every combination it offers).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    kind: Literal["video", "image"]
    source: str = Field(description="the public page the spec was written from")
    parameters: dict[str, Param]
    rules: tuple[Rule, ...] = ()
    prices: tuple[PriceRow, ...] = ()
    unpriced: tuple[Unpriced, ...] = ()
    seconds: Literal["duration", "scenes"] | None = "duration"
    max_scenes: int | None = None
    count_field: str | None = None
    priced_combinations_only: bool = False
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _names_known(self) -> ModelSpec:
        names = set(self.parameters) | PLATFORM_FIELDS[self.kind]
        for where, condition in [(f"rule {i}", r.when) for i, r in enumerate(self.rules)] + [
            (f"price row {row.label!r}", row.when) for row in self.prices
        ]:
            unknown = set(condition) - names
            if unknown:
                raise ValueError(f"{self.id}: {where} names unknown parameters {sorted(unknown)}")
        for rule in self.rules:
            if set(rule.require) - names or set(rule.forbid) - names:
                raise ValueError(f"{self.id}: rule {rule.says!r} names unknown parameters")
        if self.count_field is not None and self.count_field not in self.parameters:
            raise ValueError(f"{self.id}: count_field {self.count_field!r} is not a parameter")
        return self

    # -- what the model refuses ---------------------------------------------------------------------

    def problems(self, body: Mapping[str, Any]) -> list[tuple[str, str]]:
        """
        Each thing in ``body`` the model would refuse, as ``(field, rule)``; empty when none.

        :param body: the JSON body to be sent.
        """
        found: list[tuple[str, str]] = []
        platform = PLATFORM_FIELDS[self.kind]
        takes = ", ".join(sorted(self.parameters))
        found.extend(
            (name, f"{self.id} takes no such parameter; it takes {takes}")
            for name in body
            if name not in self.parameters and name not in platform
        )
        for name, param in self.parameters.items():
            if name in body and body[name] is not None:
                problem = param.problem(body[name])
                if problem:
                    found.append((name, problem))
            elif param.required:
                found.append((name, f"required by {self.id}"))
        for rule in self.rules:
            if self._matches(rule.when, body):
                found.extend((name, f"required here ({rule.says})") for name in rule.require if not _given(body, name))
                found.extend((name, f"not allowed here ({rule.says})") for name in rule.forbid if _given(body, name))
        if self.seconds == "scenes" and self.max_scenes is not None:
            scenes = _scenes(body.get("prompt"))
            if len(scenes) > self.max_scenes:
                found.append(("prompt", f"at most {self.max_scenes} scenes (got {len(scenes)})"))
            per_scene = self.parameters.get("duration")  # "Per-scene duration": a scene's own seconds obey it too
            for number, seconds in enumerate(scenes, 1):
                problem = None if per_scene is None or seconds is None else per_scene.problem(seconds)
                if problem:
                    found.append(("prompt", f"scene {number}'s duration {problem}"))
        if not found and self.priced_combinations_only and self.prices and not self._rates(body):
            first = (self._condition_names() or ["model"])[0]
            found.append(
                (first, f"{self.id} has no price row for {self._combination(body)}; its rows: {self._offered()}")
            )
        return found

    # -- what it costs ----------------------------------------------------------------------------

    def estimate(self, body: Mapping[str, Any]) -> Estimate:
        """
        What ``body`` will cost if accepted, from the rows that apply to it; ``usd`` is ``None``
        (with why) when no row applies, several do, or the spec says the case is unpriced.

        :param body: the JSON body to be sent (the model's defaults fill what it leaves unset).
        """
        for case in self.unpriced:
            if self._matches(case.when, body):
                return Estimate(usd=None, why=case.why)
        rates = self._rates(body)
        if len(rates) != 1:
            combination = self._combination(body)
            what = "no price row" if not rates else f"{len(rates)} price rows ({', '.join(r.label for r in rates)})"
            return Estimate(usd=None, why=f"{what} for {combination}")
        (rate,) = rates
        count = self._count(body)
        if count is None:
            return Estimate(usd=None, why=f"{self.count_field}: a count of outputs with no price")
        if rate.unit == "second":
            seconds = self.billed_seconds(body)
            if seconds is None:
                return Estimate(usd=None, why="duration: the seconds billed are unknown")
            usd = rate.usd * seconds * count
        else:
            usd = rate.usd * count
        fees = [row for row in self.prices if row.unit == "fee" and self._matches(row.when, body)]
        usd += sum(row.usd for row in fees)
        return Estimate(usd=round(usd, 4), rows=(rate.label, *(row.label for row in fees)))

    def billed_seconds(self, body: Mapping[str, Any]) -> float | None:
        """The whole seconds of video ``body`` will be billed for, or ``None`` when unknown."""
        duration = self.value(body, "duration")
        if self.seconds == "scenes":
            scenes = _scenes(body.get("prompt"))
            if not isinstance(duration, (int, float)) or isinstance(duration, bool):
                return None
            seconds = sum(whole_seconds(scene if scene is not None else duration) for scene in scenes)
            return float(seconds or whole_seconds(duration))
        if self.seconds != "duration" or not isinstance(duration, (int, float)) or isinstance(duration, bool):
            return None
        return float(whole_seconds(duration)) if math.isfinite(duration) else None

    def value(self, body: Mapping[str, Any], name: str) -> Any:
        """The value ``name`` will have: the body's, else the model's default."""
        if name in body and body[name] is not None:
            return body[name]
        param = self.parameters.get(name)
        return None if param is None else param.default

    # -- reading conditions -------------------------------------------------------------------------

    def _rates(self, body: Mapping[str, Any]) -> list[PriceRow]:
        return [row for row in self.prices if row.unit != "fee" and self._matches(row.when, body)]

    def _count(self, body: Mapping[str, Any]) -> int | None:
        if self.count_field is None:
            return 1
        count = self.value(body, self.count_field)
        if count is None:
            return 1
        if isinstance(count, bool) or not isinstance(count, (int, float)) or count != int(count) or count < 1:
            return None
        return int(count)

    def _matches(self, when: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
        for name, wanted in when.items():
            if wanted == PRESENT:
                if not _given(body, name):
                    return False
            elif wanted == ABSENT:
                if _given(body, name):
                    return False
            elif self.value(body, name) not in (wanted if isinstance(wanted, list) else [wanted]):
                return False
        return True

    def _condition_names(self) -> list[str]:
        return list(dict.fromkeys(name for row in self.prices for name in row.when))

    def _combination(self, body: Mapping[str, Any]) -> str:
        names = self._condition_names()
        return ", ".join(f"{name}={_literal(self.value(body, name))}" for name in names) or "this request"

    def _offered(self) -> str:
        return "; ".join(row.label for row in self.prices if row.unit != "fee")


def _given(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    return value is not None and value != "" and value != [] and value != {}


def _scenes(prompt: Any) -> list[float | None]:
    """The seconds each scene of a multi-scene prompt names (``None`` when it names none)."""
    if not isinstance(prompt, str):
        return []
    parts = [part for part in re.split(r"[|\n]", prompt) if part.strip()]
    return [float(m.group(1)) if (m := _SCENE.match(part)) else None for part in parts]


def _kind_problem(kind: str, value: Any) -> str | None:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        "string": isinstance(value, str),
        "number": is_number and math.isfinite(value),
        "integer": is_number and float(value).is_integer(),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, (list, tuple)),
        "object": isinstance(value, Mapping),
        "string_or_array": isinstance(value, (str, list, tuple)),
    }[kind]
    if ok:
        return None
    wanted = {"string_or_array": "a string or a list", "integer": "a whole number"}.get(kind, f"a {kind}")
    return f"must be {wanted} (got {shown(value)})"


def _literal(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else f"{value}"


def _number(value: float | None, otherwise: str) -> str:
    return otherwise if value is None else f"{value:g}"
