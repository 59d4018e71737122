"""
The request's fields in one place: their types and single-field rules, what each is used for, and
how a rendered template's text is read as a field's type.

A field of the request model (:class:`~airflow_provider_empiriolabs.models.request.VideoRequest`)
is the one edit a new request parameter needs: the operator's arguments and template fields, the
decorator's fields, the view's parameters, the simulator's accepted body fields and the unpriced
list all derive from the model's fields and their :class:`FieldUse`.
"""

from __future__ import annotations

import ast
import json
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo

from airflow_provider_empiriolabs.models.text import JOB_ID_RULE, is_http_url, is_job_id, is_uploaded_path

__all__ = [
    "FROM_TEMPLATES",
    "MAX_EXTRA_PARAMS_DEPTH",
    "MAX_SEED",
    "ExtendFrom",
    "FieldUse",
    "described_fields",
    "from_text",
    "request_fields",
    "templates_read_as_types",
]


MAX_SEED = 2_147_483_647
#: How deep ``extra_params`` values may nest (JSON objects and arrays).
MAX_EXTRA_PARAMS_DEPTH = 8

_TEMPLATE_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MAX_JSON_INT = 2**63


def _no_bool(value: Any) -> Any:
    # pydantic's lax mode reads True as 1; a boolean where a number belongs is a mistake.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _check_image_ref(value: str) -> str:
    if not (is_http_url(value) or is_uploaded_path(value)):
        raise ValueError("not an image reference; allowed: an http(s) URL or a path returned by /v1/files/upload")
    return value


def _between(low: float, high: float, unit: str = "") -> AfterValidator:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be {low:,g} to {high:,}{unit}")
        return value

    return AfterValidator(check)


def _check_template(value: str) -> str:
    if not _TEMPLATE_SLUG.fullmatch(value):
        raise ValueError("must be a template slug such as 'dance-loop' (letters, digits, - _ ., at most 128)")
    return value


ImageRef = Annotated[str, AfterValidator(_check_image_ref)]
Seconds = Annotated[float, BeforeValidator(_no_bool)]  # bounds depend on the model: see the model rules
Seed = Annotated[int, BeforeValidator(_no_bool), _between(0, MAX_SEED)]  # an int bound prints exactly
TemplateSlug = Annotated[str, Field(min_length=1), AfterValidator(_check_template)]


def as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` is not a JSON value the API can be sent, or ``None``."""
    if value is None or isinstance(value, (bool, str)):
        return None
    if isinstance(value, int):
        return None if -_MAX_JSON_INT <= value < _MAX_JSON_INT else "an integer beyond 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "a number that is not finite"
    if depth >= MAX_EXTRA_PARAMS_DEPTH:
        return f"nested deeper than {MAX_EXTRA_PARAMS_DEPTH} levels"
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            return "an object with a key that is not a string"
        items = list(value.values())
    else:
        return f"not a JSON value (a {type(value).__name__})"
    return next((problem for item in items if (problem := json_problem(item, depth + 1))), None)


class ExtendFrom(BaseModel):
    """A previous video to continue: a job of this account or a video URL, exactly one of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str | None = None
    video_url: str | None = None

    @field_validator("job_id")
    @classmethod
    def _job_id(cls, value: str | None) -> str | None:
        if value is not None and not is_job_id(value):
            raise ValueError(f"not a job id ({JOB_ID_RULE})")
        return value

    @field_validator("video_url")
    @classmethod
    def _video_url(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError("must be an http(s):// URL with no blank or invisible character")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ExtendFrom:
        if (self.job_id is None) == (self.video_url is None):
            raise ValueError("give exactly one of job_id or video_url")
        return self


@dataclass(frozen=True)
class FieldUse:
    """
    What the provider does with a request field beyond its rule, as the field's metadata.

    Every other list of the request's fields derives from the model: the operator's arguments and
    template fields, the decorator's fields, the view's parameters, the simulator's accepted body
    fields and the unpriced list (see :func:`request_fields`).

    :param displayed: shown among the "Parameters" of a video in the EmpirioLabs view.
    :param bill: ``"rate"`` when the field sets the price (model, resolution, duration),
        ``"unpriced"`` when it may change the bill at no known price.
    """

    displayed: bool = False
    bill: Literal["rate", "unpriced"] | None = None


#: The validation context's key naming the fields rendered from templates.
FROM_TEMPLATES = "empiriolabs_from_templates"


def _field_uses(field: FieldInfo) -> FieldUse:
    return next((item for item in field.metadata if isinstance(item, FieldUse)), FieldUse())


def request_fields(
    model: type[BaseModel], *, displayed: bool | None = None, bill: str | None = None
) -> tuple[str, ...]:
    """
    The request's fields, in order, or those whose :class:`FieldUse` says so.

    :param model: the request model (a subclass adds its own fields).
    :param displayed: only the fields shown (``True``) or not shown (``False``) among the view's parameters.
    :param bill: only the fields with this ``FieldUse.bill`` (``"rate"``, ``"unpriced"``).
    """
    return tuple(
        name
        for name, field in model.model_fields.items()
        if (displayed is None or _field_uses(field).displayed == displayed)
        and (bill is None or _field_uses(field).bill == bill)
    )


def described_fields(model: type[BaseModel]) -> str:
    """
    The ``:param:`` lines of a model's docstring, from its fields' descriptions (one text for both).

    :param model: the request model.
    """
    return "".join(f"\n    :param {name}: {field.description}" for name, field in model.model_fields.items())


def _types(annotation: Any) -> list[Any]:
    """The types a field's annotation admits, unions and ``Annotated`` unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _types(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [kind for arg in get_args(annotation) for kind in _types(arg)]
    return [annotation]


def templates_read_as_types(model: type[BaseModel], data: Any, context: Mapping[str, Any] | None) -> Any:
    """
    A request model's input with each templated field's rendered text read as the field's type.

    A template renders to text (``render_template_as_native_obj`` is off by default): ``"8"``,
    ``"true"``, ``"['https://...']"`` become the field's type here, and only for fields that were
    templates (named in the validation context under :data:`FROM_TEMPLATES`).

    :param model: the request model.
    :param data: its input, before validation.
    :param context: the validation context.
    """
    rendered = (context or {}).get(FROM_TEMPLATES) or ()
    if not rendered or not isinstance(data, dict):
        return data
    return {
        name: from_text(model.model_fields[name], value)
        if name in rendered and name in model.model_fields and isinstance(value, str)
        else value
        for name, value in data.items()
    }


def from_text(field: FieldInfo, text: str) -> Any:
    """A rendered template's text as the field's type, or the text unchanged for the rules to refuse."""
    kinds = _types(field.annotation)
    if str in kinds or any(get_origin(kind) is Literal for kind in kinds):
        return text  # a text field: the text is the value
    stripped = text.strip()
    if stripped == "None" and type(None) in kinds:
        return None
    if bool in kinds:
        return {"true": True, "false": False}.get(stripped.lower(), text)
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):  # deep nesting ends the parser's recursion: not a value
            pass
        try:
            return ast.literal_eval(stripped)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return text
    return text  # numbers: pydantic reads "8" and "8.5" and refuses the rest
