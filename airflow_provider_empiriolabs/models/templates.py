"""
Templates: what ``GET /v1/templates`` lists, and what a template does to a request's bill.

A template ships a recommended model, the models it supports, default parameters and required
inputs (``empiriolabs-catalogue.md`` section 4). Its JSON shape is only partly published, so an
item is read tolerantly: what cannot be read is left unset, and an item without a usable slug is
skipped. Nothing here trusts the answer's text: every string is made safe for a log line.

The API merges a template's ``default_params`` into the request "for any key you didn't supply",
and bills the job as an ordinary generation of the model (no template fee was found, INFERRED). So
:func:`priced_with_template` gives the request *as it will be billed*: the model checked against
the template's models, its defaults merged into the fields the request left unset, the template
itself dropped (its effect is now in the fields); that request's estimate is the job's.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models.fields import _TEMPLATE_SLUG, json_problem
from airflow_provider_empiriolabs.models.parsing import safe_text
from airflow_provider_empiriolabs.models.text import is_param_name, shown
from airflow_provider_empiriolabs.redaction import redact_log_text

__all__ = [
    "TEMPLATE_MODEL_UNSUPPORTED",
    "TEMPLATE_NOT_FOUND",
    "Template",
    "priced_with_template",
    "templates_from_api",
]

#: The API's error code for an unknown slug (DOC); also what :meth:`.EmpirioLabsHook.get_template` raises with.
TEMPLATE_NOT_FOUND = "template_not_found"
#: The API's error code for a model outside the template's ``supported_models`` (DOC).
TEMPLATE_MODEL_UNSUPPORTED = "template_model_unsupported"

_MAX_NAMES = 100  # supported models read per template
_MAX_SLUG_CHARS = 100

#: Fields of a request a template's defaults never set: what is asked, not how it is rendered.
_NOT_FROM_DEFAULTS = frozenset({"prompt", "model", "template", "extra_params", "extend_from"})


def _slug(value: Any) -> str | None:
    """A slug, model id or category the item gives, if it is one (the rule of ``template=``)."""
    text = safe_text(value, _MAX_SLUG_CHARS)
    return text if text and _TEMPLATE_SLUG.fullmatch(text) else None


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    names = (_slug(item.get("id") or item.get("slug") if isinstance(item, Mapping) else item) for item in value)
    return tuple(dict.fromkeys(name for name in names if name))[:_MAX_NAMES]


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


class Template(BaseModel):
    """
    One template, as far as its item could be read.

    :param slug: what ``template=`` takes.
    :param modality: ``video`` or ``image`` (a template applies only to its own endpoint), when said.
    :param supported_models: the models the API accepts with it; empty when the item did not say.
    :param default_params: merged by the API into the request for every key it did not set.
    :param unreadable_defaults: how many of ``default_params`` could not be read (no parameter name, or
        not a JSON value): the API applies them all the same, so they leave the cost unknown.
    :param force_recommended_model: ``metadata.force_recommended_model``: only the recommended model.
    """

    model_config = ConfigDict(frozen=True)

    slug: str
    display_name: str | None = None
    category: str | None = None
    modality: str | None = None
    recommended_model: str | None = None
    supported_models: tuple[str, ...] = ()
    default_params: dict[str, Any] = {}
    unreadable_defaults: int = 0
    required_inputs: tuple[str, ...] = ()
    force_recommended_model: bool = False
    featured: bool | None = None

    @classmethod
    def from_api(cls, item: Any) -> Self | None:
        """
        Read one item of the list; ``None`` when it has no usable slug. Nothing else is raised.

        :param item: one element of the answer's ``data``.
        """
        if not isinstance(item, Mapping):
            return None
        slug = _slug(item.get("slug") or item.get("id"))
        if slug is None:
            return None
        metadata = item.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        defaults = item.get("default_params")
        defaults = defaults if isinstance(defaults, Mapping) else {}
        readable = {
            key: value
            for key, value in defaults.items()
            if isinstance(key, str) and is_param_name(key) and not json_problem(value)
        }
        inputs = item.get("required_inputs")
        if isinstance(inputs, Mapping):  # {"image": true, ...} or {"image": 1}
            inputs = [key for key, wanted in inputs.items() if wanted]
        return cls(
            slug=slug,
            display_name=safe_text(item.get("display_name") or item.get("name")),
            category=_slug(item.get("category")),
            modality=_slug(item.get("modality") or item.get("type")),
            recommended_model=_slug(item.get("recommended_model")),
            supported_models=_names(item.get("supported_models")),
            default_params=readable,
            unreadable_defaults=len(defaults) - len(readable),
            required_inputs=_names(inputs),
            force_recommended_model=_flag(metadata.get("force_recommended_model", item.get("force_recommended_model")))
            is True,
            featured=_flag(item.get("featured")),
        )

    @property
    def allowed_models(self) -> tuple[str, ...]:
        """The models a request may name with this template; empty when the item did not say (the API decides)."""
        if self.force_recommended_model and self.recommended_model:
            return (self.recommended_model,)
        return self.supported_models

    def model_problem(self, model: str) -> str | None:
        """Why ``model`` may not be used with this template, or ``None`` when it may (or nothing is known)."""
        allowed = self.allowed_models
        if not allowed or model in allowed:
            return None
        if self.force_recommended_model:
            return (
                f"template {self.slug!r} is pinned to its recommended model {self.recommended_model!r} "
                f"(metadata.force_recommended_model), not {model!r}; pass model={self.recommended_model!r}"
            )
        return (
            f"template {self.slug!r} does not support model {model!r}; its supported models are "
            f"{', '.join(map(repr, allowed))} (the API answers {TEMPLATE_MODEL_UNSUPPORTED})"
        )


def templates_from_api(payload: Any) -> list[Template]:
    """
    The templates of a ``GET /v1/templates`` answer (``data``, ``templates`` or a bare list).

    Raises ``ValueError`` (and nothing else) when the answer holds no list; unreadable items are skipped.

    :param payload: the decoded JSON answer.
    """
    items = payload
    if isinstance(payload, Mapping):
        items = next((payload[key] for key in ("data", "templates", "items") if key in payload), None)
    if not isinstance(items, list):
        raise ValueError("expected a list of templates")
    found = (Template.from_api(item) for item in items)
    return [template for template in found if template is not None]


R = TypeVar("R", bound=BaseModel)


def _build_options(request: BaseModel) -> dict[str, Any]:
    """
    How the request as billed is built: by the spec the request was checked by (a live catalogue's),
    and with ``validation="warn"``: the defaults are the API's own, so a parameter the spec does not
    know is kept and named unpriced (a cap refuses it, naming it) rather than refused as a user's typo.
    """
    accepted = inspect.signature(type(request).build).parameters  # type: ignore[attr-defined]
    options: dict[str, Any] = {}
    if "validation" in accepted:
        options["validation"] = "warn"
    spec = getattr(request, "spec", None)
    if "spec" in accepted and spec is not None:
        options["spec"] = spec
    return options


def priced_with_template(request: R, template: Template, log: Any = None) -> R:
    """
    The request as the API will bill it with ``template``: the same request model, ``template`` unset.

    Refuses (:class:`.EmpirioLabsRequestError`, naming the template, the model and the models it
    allows) a model the template does not take, and a template of the other modality (an image
    template on a video request). Each of ``default_params`` fills the request's
    field of that name when the request left it unset, or else goes to ``extra_params`` when the
    request did not set that key there; then the request model's rules check the result, and its
    estimate is the job's. For any request model with ``model``, ``template``, ``extra_params`` and
    ``build`` (the video request, the image request).

    :param request: the validated request, ``template`` set.
    :param template: the template it names, read at run time.
    :param log: where to say which defaults were merged.
    """
    kind = getattr(type(request), "kind", None)  # video or image: a template applies only to its own endpoint
    if template.modality and kind and template.modality != kind:
        raise EmpirioLabsRequestError(
            f"template: {template.slug!r} is an {template.modality} template; it applies only to "
            f"{template.modality} generations, not to this {kind} request"
        )
    problem = template.model_problem(str(getattr(request, "model", "")))
    if problem:
        raise EmpirioLabsRequestError(f"model: {problem}")
    fields = type(request).model_fields
    values = {name: getattr(request, name) for name in request.model_fields_set}
    values["template"] = None
    extra = dict(getattr(request, "extra_params", None) or {})
    body_names: frozenset[str] = getattr(type(request), "body_fields", frozenset)()
    merged: list[str] = []
    for key, value in template.default_params.items():
        if key in fields and key not in _NOT_FROM_DEFAULTS:
            if key not in request.model_fields_set or getattr(request, key) is None:
                values[key] = value
                merged.append(key)
        elif key not in fields and key not in body_names and key not in extra:
            extra[key] = value
            merged.append(key)
    if "extra_params" in fields:
        values["extra_params"] = extra
    try:
        priced = type(request).build(**values, **_build_options(request))  # type: ignore[attr-defined]
    except EmpirioLabsRequestError as error:
        raise EmpirioLabsRequestError(
            f"template {template.slug!r}: its default_params {sorted(merged)} make the request invalid: "
            f"{redact_log_text(str(error))}"
        ) from None
    if log is not None:
        for problem in getattr(priced, "spec_problems", ()):
            log.warning(
                "Template %s: its default_params: %s (the API applies them; the estimate names it)",
                template.slug,
                redact_log_text(problem),
            )
        log.info(
            "Template %s: model %s; default_params merged for the estimate: %s",
            template.slug,
            shown(getattr(priced, "model", "")),
            redact_log_text(", ".join(f"{key}={shown(template.default_params[key])}" for key in merged)) or "none",
        )
    return priced
