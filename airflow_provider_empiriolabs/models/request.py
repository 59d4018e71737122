"""
The request to ``POST /v1/videos/generations``: strict, because a rejected request costs a round
trip and an accepted wrong one costs money.

Every pattern is matched whole (``re.fullmatch``): a trailing newline never slips through as it
does past ``$``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models.catalogue import packaged_spec, shipped_spec
from airflow_provider_empiriolabs.models.errors import describe_validation_error, rule_error
from airflow_provider_empiriolabs.models.fields import (
    FROM_TEMPLATES,
    ExtendFrom,
    FieldUse,
    ImageRef,
    Seconds,
    Seed,
    TemplateSlug,
    as_list,
    described_fields,
    json_problem,
    request_fields,
    templates_read_as_types,
)
from airflow_provider_empiriolabs.models.pricing import (
    HAPPYHORSE_MODEL,
    billed_seconds,
    describe_cost_problem,
    unpriced_fields_of,
)
from airflow_provider_empiriolabs.models.spec import ModelSpec
from airflow_provider_empiriolabs.models.text import is_param_name, shown, text_problem

#: How a model's spec is applied to a request: ``strict`` refuses what the spec says the model would
#: refuse, ``warn`` sends it and logs why, ``off`` sends it unchecked. Strict by default.
Validation = Literal["strict", "warn", "off"]
VALIDATION_MODES: tuple[Validation, ...] = ("strict", "warn", "off")
#: The context keys :meth:`VideoRequest.build` passes its ``validation`` and ``spec`` in.
_VALIDATION, _SPEC = "empiriolabs_validation", "empiriolabs_spec"

# HappyHorse 1.1's own rules, read from its spec file: the shipped one, not a deployment's.
_HAPPYHORSE = packaged_spec("happyhorse-1-1")
MAX_PROMPT_CHARS = int(_HAPPYHORSE.parameters["prompt"].max_length or 0)
MAX_REFERENCE_IMAGES = int(_HAPPYHORSE.parameters["image"].max_length or 0)

Mode = Literal["auto", "t2v", "i2v", "r2v"]
HAPPYHORSE_ASPECT_RATIOS: tuple[str, ...] = tuple(_HAPPYHORSE.parameters["aspect_ratio"].allowed or ())
HAPPYHORSE_RESOLUTIONS: tuple[str, ...] = tuple(_HAPPYHORSE.parameters["resolution"].allowed or ())
HAPPYHORSE_SECONDS = (
    int(_HAPPYHORSE.parameters["duration"].min or 0),
    int(_HAPPYHORSE.parameters["duration"].max or 0),
)

_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_OPTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,31}")  # aspect ratio or resolution of another model
_CHARACTER_REF = re.compile(r"\bcharacter(\d+)\b", re.IGNORECASE)


_SHOWN = FieldUse(displayed=True)


class VideoRequest(BaseModel):
    """
    A request to ``POST /v1/videos/generations``.

    For ``happyhorse-1-1`` every documented rule is checked; other video models on the same
    endpoint get a passthrough: the common fields keep their types, model-specific parameters go
    in ``extra_params`` (JSON values under plain names), and HappyHorse-only parameters are refused
    rather than silently sent to a model that does not know them.

    Each field's description (below, and in the operator's parameters) is the ``description`` of
    its pydantic field; what else uses the field is its :class:`FieldUse`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Where the request is sent: one request path, one endpoint per request model.
    endpoint: ClassVar[str] = "/v1/videos/generations"
    #: The kind of model it takes (a spec's ``kind``).
    kind: ClassVar[str] = "video"
    _spec: ModelSpec | None = PrivateAttr(None)
    _spec_problems: tuple[str, ...] = PrivateAttr(())

    prompt: str = Field(
        description="what to film, 1 to 2,500 characters with at least one visible character and no "
        "control character other than tabs and line breaks."
    )
    model: Annotated[str, FieldUse(bill="rate")] = Field(
        HAPPYHORSE_MODEL,
        description="model id; ``happyhorse-1-1`` by default. A model with a spec (see the models page) "
        "is checked and priced by it; another gets a passthrough (see ``extra_params``).",
    )
    mode: Annotated[str | None, _SHOWN] = Field(
        None,
        description="``auto`` (inferred from the images), ``t2v``, ``i2v`` or ``r2v``; another model's "
        "modes as its spec lists them (``videoedit``...).",
    )
    images: Annotated[list[ImageRef], BeforeValidator(as_list)] = Field(
        default_factory=list,
        description="image URLs or uploaded paths: none for t2v, exactly 1 for i2v, 1 to 9 for r2v "
        "(referred to in the prompt as character1 ... character9).",
    )
    aspect_ratio: Annotated[str | None, _SHOWN] = Field(
        None, min_length=1, description="16:9, 9:16, 1:1, 4:3 or 3:4 (t2v and r2v; i2v follows its image)."
    )
    resolution: Annotated[str | None, FieldUse(displayed=True, bill="rate")] = Field(
        None, min_length=1, description="720p or 1080p."
    )
    duration: Annotated[Seconds | None, FieldUse(displayed=True, bill="rate")] = Field(
        None, description="seconds of video, 3 to 15; billed in whole seconds (5.5 is billed as 6)."
    )
    seed: Seed | None = Field(None, description="0 to 2147483647, for repeatable results.")
    watermark: Annotated[bool | None, _SHOWN] = Field(
        None, strict=True, description="whether the video carries a watermark."
    )
    generate_audio: Annotated[bool | None, _SHOWN] = Field(
        None, strict=True, description="whether the model adds native audio (the API's default is yes)."
    )
    template: Annotated[TemplateSlug | None, FieldUse(displayed=True, bill="unpriced")] = Field(
        None, description="a template slug."
    )
    extend_from: Annotated[ExtendFrom | None, FieldUse(bill="unpriced")] = Field(
        None, description='``{"job_id": ...}`` or ``{"video_url": ...}`` to continue a video.'
    )
    extra_params: dict[str, Any] = Field(
        default_factory=dict,
        description="the model's own parameters (``flash_mode``, ``model_tier``...), checked by its spec; "
        "for a model without one, sent as they are.",
    )

    @model_validator(mode="before")
    @classmethod
    def _text_of_templates(cls, data: Any, info: ValidationInfo) -> Any:
        return templates_read_as_types(cls, data, info.context)

    @field_validator("prompt")
    @classmethod
    def _prompt_text(cls, value: str) -> str:
        problem = text_problem(value, MAX_PROMPT_CHARS)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("model")
    @classmethod
    def _model_id(cls, value: str) -> str:
        if not _MODEL_ID.fullmatch(value):
            raise ValueError("must be a model id such as 'happyhorse-1-1' (lower-case letters, digits, - . _)")
        return value

    @field_validator("extra_params")
    @classmethod
    def _extra_params_are_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not is_param_name(key):
                raise ValueError(f"keys must be parameter names (letters, digits, _ and -, up to 64), not {shown(key)}")
            problem = json_problem(item)
            if problem:
                raise rule_error(key, f"must be a JSON value, not {problem}")
        return value

    @model_validator(mode="after")
    def _model_rules(self, info: ValidationInfo) -> VideoRequest:
        reserved = set(self.extra_params) & (set(type(self).model_fields) | {"image"})
        if reserved:
            raise rule_error(
                "extra_params", f"must not repeat the request's own fields {sorted(reserved)}; pass them as arguments"
            )
        context = info.context or {}
        given = context.get(_SPEC)
        self._spec = given if isinstance(given, ModelSpec) and given.id == self.model else shipped_spec(self.model)
        if self.model == HAPPYHORSE_MODEL:
            self._happyhorse_rules()
        elif self._spec is None:
            return self._passthrough_rules()
        return self._spec_rules(context.get(_VALIDATION, "strict"))

    def _spec_rules(self, validation: Validation) -> VideoRequest:
        """What the model's spec says the model would refuse: refused (strict), kept to log (warn), or neither."""
        spec = self._spec
        if spec is None or validation == "off":
            return self
        if spec.kind != self.kind:
            raise rule_error("model", f"{self.model!r} makes {spec.kind}s; this request takes {self.kind} models")
        # A field the request model declares unpriced is its own (the spec cannot judge it; a cap names it).
        own = set(request_fields(type(self), bill="unpriced"))
        body = {name: value for name, value in self.to_payload().items() if name not in own}
        problems = [(self._field_of(name), rule) for name, rule in spec.problems(body)]
        if problems and validation == "strict":
            (field, rule), more = problems[0], "".join(f"; {name}: {rule}" for name, rule in problems[1:])
            raise rule_error(field, f"{rule}{more} (the {spec.id} spec, from {spec.source})")
        self._spec_problems = tuple(f"{name}: {rule}" for name, rule in problems)
        return self

    def _field_of(self, body_name: str) -> str:
        """The request field a body field comes from (``image`` from ``images``, a key of ``extra_params``)."""
        if body_name in self.extra_params:
            return f"extra_params.{body_name}"
        return next((field for field, name in _BODY_NAMES.items() if name == body_name), body_name)

    def _passthrough_rules(self) -> VideoRequest:
        if self.duration is not None and not 0 < self.duration < math.inf:
            raise rule_error("duration", f"must be a positive number of seconds (got {self.duration:g})")
        for name in ("aspect_ratio", "resolution"):
            value = getattr(self, name)
            if value is not None and not _OPTION.fullmatch(value):
                raise rule_error(name, f"must be a short value such as '16:9' or '720p' (got {shown(value)})")
        only_specified = [name for name in ("mode", "watermark", "generate_audio") if getattr(self, name) is not None]
        if only_specified:
            raise rule_error(
                only_specified[0],
                f"{self.model!r} has no model spec, so what it takes in {', '.join(only_specified)} is unknown; "
                "pass model-specific parameters in extra_params",
            )
        return self

    def _happyhorse_rules(self) -> VideoRequest:
        for name, allowed in (
            ("mode", _HAPPYHORSE.parameters["mode"].allowed or ()),
            ("aspect_ratio", HAPPYHORSE_ASPECT_RATIOS),
            ("resolution", HAPPYHORSE_RESOLUTIONS),
        ):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise rule_error(name, f"must be one of {', '.join(map(repr, allowed))} (got {shown(value)})")
        low, high = HAPPYHORSE_SECONDS
        if self.duration is not None and not low <= self.duration <= high:
            raise rule_error("duration", f"must be {low} to {high} seconds (got {self.duration:g})")
        count = len(self.images)
        mode = self.effective_mode
        if mode == "t2v" and count:
            raise rule_error("images", f"mode t2v takes no images, got {count}")
        if mode == "i2v" and count != 1:
            raise rule_error("images", f"mode i2v takes exactly 1 image, got {count}")
        if mode == "r2v" and not 1 <= count <= MAX_REFERENCE_IMAGES:
            raise rule_error("images", f"mode r2v takes 1 to {MAX_REFERENCE_IMAGES} images, got {count}")
        if mode == "i2v" and self.aspect_ratio is not None:
            raise rule_error("aspect_ratio", "not used in i2v mode (the video follows its image); leave it unset")
        if mode == "r2v":
            # int() of a very long digit string raises: a number of 3 digits or more is beyond anyway.
            found = _CHARACTER_REF.findall(self.prompt)
            numbers = {int(n) if len(n.lstrip("0")) < 3 else 100 + len(n): n for n in found}
            beyond = [numbers[n] for n in sorted(numbers) if not 1 <= n <= count]
            if beyond:
                raise rule_error(
                    "prompt",
                    f"refers to character{beyond[0]} but only {count} reference image(s) were "
                    f"given (character1 to character{count})",
                )
        return self

    @property
    def effective_mode(self) -> Mode:
        """The mode the API will use: ``auto`` resolved from the number of images."""
        if self.mode in ("t2v", "i2v", "r2v"):
            return self.mode  # type: ignore[return-value]  # HappyHorse 1.1's modes, checked by its rules
        count = len(self.images)
        if count > MAX_REFERENCE_IMAGES:
            raise rule_error("images", f"at most {MAX_REFERENCE_IMAGES} images are allowed, got {count}")
        return "t2v" if count == 0 else "i2v" if count == 1 else "r2v"

    @property
    def spec(self) -> ModelSpec | None:
        """The model spec the request was checked and priced by (``None`` for a model without one)."""
        return self._spec

    @property
    def effective_resolution(self) -> str:
        """The resolution the API will use: the request's, else its model's default (``default`` when unknown)."""
        default = self._spec.value({}, "resolution") if self._spec is not None else None
        return str(self.resolution or default or "default")

    @property
    def spec_problems(self) -> tuple[str, ...]:
        """What the spec says the model would refuse, kept under ``validation="warn"`` (to be logged)."""
        return self._spec_problems

    @property
    def billed_seconds(self) -> float:
        """
        Seconds of video the request will be billed for, in whole seconds: as its model's spec reads
        them (a multi-scene prompt adds its scenes up), else the duration (5 by default) rounded up.
        """
        seconds = self._spec.billed_seconds(self.to_payload()) if self._spec is not None else None
        return float(seconds if seconds is not None else billed_seconds(self.duration))

    def expected_render_seconds(self) -> float:
        """
        How long the render is expected to take, to time the first poll.

        Not documented by EmpirioLabs: a guess (20 s plus 6 s per second of video, half again at
        1080p) that only times polls, so being wrong costs a poll or a little lag, never a result.
        """
        factor = 1.5 if self.resolution == "1080p" else 1.0
        return 20.0 + 6.0 * self.billed_seconds * factor

    def unpriced(self) -> list[tuple[str, str]]:
        """
        Each field that may change the bill and has no known price, with why: a model without a
        spec, a case its price rows do not cover, a parameter its spec does not know, ``template``
        and ``extend_from`` (see :mod:`.pricing`).
        """
        found = [
            (self._field_of(name), why) for name, why in unpriced_fields_of(self._spec, self.model, self.to_payload())
        ]
        if self._spec is None:  # nothing of a model without a spec is priced: every parameter of its own is named
            found.extend(
                (f"extra_params.{key}", "may change the bill and has no known price") for key in self.extra_params
            )
        found.extend(
            (name, "may change the bill and has no known price")
            for name in request_fields(type(self), bill="unpriced")
            if getattr(self, name) is not None and name not in {field for field, _ in found}
        )
        return found

    def unpriced_fields(self) -> list[str]:
        """
        The names of the fields that make the estimate uncertain, e.g. ``["template", "extra_params.n"]``.

        Empty when :meth:`estimated_cost_usd` accounts for everything in the request.
        """
        return [name for name, _ in self.unpriced()]

    def estimated_cost_usd(self, seconds: float | None = None) -> float | None:
        """
        What the request will cost if accepted, in USD; ``None`` when a field that may change the bill
        has no known price (see :meth:`unpriced_fields`), including a model without a known price.

        :param seconds: the seconds the API billed, when it said (in place of the requested duration).
        """
        if self.unpriced() or self._spec is None:
            return None
        body = self.to_payload()
        if seconds is not None and self._spec.seconds is not None:
            body = {**body, "duration": seconds, "prompt": ""}  # the billed seconds, not the scenes asked for
        return self._spec.estimate(body).usd

    def cost_problem(self, max_cost_usd: float | None) -> str | None:
        """
        Why the request may not be sent under the cap, or ``None`` when it may (or there is no cap).

        The message starts with ``max_cost_usd:`` and names what is wrong: the estimate over the
        cap, or each field without a known price and what a capped request may hold instead.

        :param max_cost_usd: the cap in USD; ``None`` means no cap.
        """
        return describe_cost_problem(
            model=self.model,
            estimate=self.estimated_cost_usd(),
            unpriced=self.unpriced(),
            max_cost_usd=max_cost_usd,
            unpriced_fields=request_fields(type(self), bill="unpriced"),
            kind=self.kind,
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON body the API expects: unset fields are left to the API's defaults."""
        body = self.model_dump(exclude_none=True, exclude={"images", "extra_params", "duration"})
        if self.duration is not None:
            body["duration"] = int(self.duration) if float(self.duration).is_integer() else self.duration
        if self.images:
            body[_BODY_NAMES["images"]] = self.images[0] if len(self.images) == 1 else list(self.images)
        body.update(self.extra_params)
        return body

    @classmethod
    def body_fields(cls) -> frozenset[str]:
        """The names :meth:`to_payload` may send besides ``extra_params``' keys (``images`` goes as ``image``)."""
        return frozenset(_BODY_NAMES.get(name, name) for name in cls.model_fields if name != "extra_params")

    @classmethod
    def build(
        cls,
        *,
        from_templates: Collection[str] = (),
        validation: Validation = "strict",
        spec: ModelSpec | None = None,
        **fields: Any,
    ) -> VideoRequest:
        """
        Build a request, turning pydantic's errors into one that names each field and what it allows.
        ``None`` values are dropped, so operator arguments that were not given keep the API's default.

        :param from_templates: the fields whose values were rendered from templates: their text is
            read as the field's type (``"8"`` as 8, ``"true"`` as ``True``, ``"['https://...']"`` as
            a list, ``"None"`` as unset) before the same rules check it; other values must have it.
        :param validation: how the model's spec is applied: ``strict`` (refuse), ``warn`` (keep the
            problems in :attr:`spec_problems`, to be logged) or ``off``.
        :param spec: the model's spec as the live catalogue gave it; by default the shipped one.
        :param fields: the request's fields.
        """
        given = {name: value for name, value in fields.items() if value is not None}
        context = {FROM_TEMPLATES: frozenset(from_templates), _VALIDATION: validation, _SPEC: spec}
        try:
            return cls.model_validate(given, context=context)
        except ValidationError as err:
            raise EmpirioLabsRequestError(describe_validation_error(err)) from None


#: What a field is called in the body when it is not its own name.
_BODY_NAMES = {"images": "image"}


VideoRequest.__doc__ = f"{VideoRequest.__doc__}{described_fields(VideoRequest)}\n"


def _models(model: type[VideoRequest] = VideoRequest) -> Iterator[type[VideoRequest]]:
    """:class:`VideoRequest` and every request model derived from it: a request may come from any."""
    yield model
    for subclass in model.__subclasses__():
        yield from _models(subclass)


def displayed_parameters() -> tuple[str, ...]:
    """The fields the view shows among a video's parameters (``FieldUse(displayed=True)``), of every request model."""
    return tuple(dict.fromkeys(name for model in _models() for name in request_fields(model, displayed=True)))


def request_body_fields() -> frozenset[str]:
    """The body fields a request may send besides ``extra_params``' keys, of every request model."""
    return frozenset(name for model in _models() for name in model.body_fields())


#: Request fields whose effect on the bill is unknown: a template merges its own defaults
#: (duration, resolution...), and extending a video may bill the video it continues.
UNPRICED_REQUEST_FIELDS = request_fields(VideoRequest, bill="unpriced")
