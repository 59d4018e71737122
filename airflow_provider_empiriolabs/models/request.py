"""
The request to ``POST /v1/videos/generations``: strict, because a rejected request costs a round
trip and an accepted wrong one costs money.

Every pattern is matched whole (``re.fullmatch``): a trailing newline never slips through as it
does past ``$``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models.errors import describe_validation_error, rule_error
from airflow_provider_empiriolabs.models.pricing import (
    DEFAULT_RESOLUTION,
    HAPPYHORSE_MODEL,
    PRICE_USD_PER_SECOND,
    UNPRICED_REQUEST_FIELDS,
    billed_seconds,
    describe_cost_problem,
    estimate_cost_usd,
    unpriced_extra_params,
    video_count,
)
from airflow_provider_empiriolabs.models.text import (
    JOB_ID_RULE,
    forbidden_prompt_controls,
    has_visible_text,
    is_http_url,
    is_job_id,
    is_param_name,
    is_uploaded_path,
    shown,
)

MAX_PROMPT_CHARS = 2500
MAX_REFERENCE_IMAGES = 9
MAX_SEED = 2_147_483_647
#: How deep ``extra_params`` values may nest (JSON objects and arrays).
MAX_EXTRA_PARAMS_DEPTH = 8

Mode = Literal["auto", "t2v", "i2v", "r2v"]
HAPPYHORSE_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
HAPPYHORSE_RESOLUTIONS = ("720p", "1080p")
HAPPYHORSE_SECONDS = (3, 15)

_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_TEMPLATE_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_OPTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,31}")  # aspect ratio or resolution of another model
_CHARACTER_REF = re.compile(r"\bcharacter(\d+)\b", re.IGNORECASE)
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


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


def _json_problem(value: Any, depth: int = 0) -> str | None:
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
    return next((problem for item in items if (problem := _json_problem(item, depth + 1))), None)


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


class VideoRequest(BaseModel):
    """
    A request to ``POST /v1/videos/generations``.

    For ``happyhorse-1-1`` every documented rule is checked; other video models on the same
    endpoint get a passthrough: the common fields keep their types, model-specific parameters go
    in ``extra_params`` (JSON values under plain names), and HappyHorse-only parameters are refused
    rather than silently sent to a model that does not know them.

    :param prompt: what to film, 1 to 2,500 characters with at least one visible character and no
        control character other than tabs and line breaks.
    :param model: model id; ``happyhorse-1-1`` by default.
    :param mode: ``auto`` (inferred from the images), ``t2v``, ``i2v`` or ``r2v``.
    :param images: image URLs or uploaded paths: none for t2v, exactly 1 for i2v, 1 to 9 for r2v
        (referred to in the prompt as character1 ... character9).
    :param aspect_ratio: 16:9, 9:16, 1:1, 4:3 or 3:4 (t2v and r2v; i2v follows its image).
    :param resolution: 720p or 1080p.
    :param duration: seconds of video, 3 to 15; billed in whole seconds (5.5 is billed as 6).
    :param seed: 0 to 2147483647, for repeatable results.
    :param watermark: whether the video carries a watermark.
    :param generate_audio: whether the model adds native audio (the API's default is yes).
    :param template: a template slug.
    :param extend_from: ``{"job_id": ...}`` or ``{"video_url": ...}`` to continue a video.
    :param extra_params: further body fields, sent as they are (the passthrough for other models).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    model: str = HAPPYHORSE_MODEL
    mode: Mode | None = None
    images: Annotated[list[ImageRef], BeforeValidator(_as_list)] = Field(default_factory=list)
    aspect_ratio: str | None = Field(default=None, min_length=1)
    resolution: str | None = Field(default=None, min_length=1)
    duration: Seconds | None = None
    seed: Seed | None = None
    watermark: bool | None = Field(default=None, strict=True)
    generate_audio: bool | None = Field(default=None, strict=True)
    template: TemplateSlug | None = None
    extend_from: ExtendFrom | None = None
    extra_params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("prompt")
    @classmethod
    def _prompt_text(cls, value: str) -> str:
        controls = forbidden_prompt_controls(value)
        if controls:
            raise ValueError(
                f"must not hold control characters such as NUL (found {', '.join(controls[:3])}); "
                "tabs and line breaks are allowed"
            )
        if not has_visible_text(value) or len(value) > MAX_PROMPT_CHARS:
            raise ValueError(
                f"must be 1 to {MAX_PROMPT_CHARS:,} characters, not blank: at least one visible character "
                f"(got {len(value):,} characters)"
            )
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
            problem = _json_problem(item)
            if problem:
                raise rule_error(key, f"must be a JSON value, not {problem}")
        return value

    @model_validator(mode="after")
    def _model_rules(self) -> VideoRequest:
        reserved = set(self.extra_params) & (set(type(self).model_fields) | {"image"})
        if reserved:
            raise rule_error(
                "extra_params", f"must not repeat the request's own fields {sorted(reserved)}; pass them as arguments"
            )
        if self.model != HAPPYHORSE_MODEL:
            return self._passthrough_rules()
        return self._happyhorse_rules()

    def _passthrough_rules(self) -> VideoRequest:
        if self.duration is not None and not 0 < self.duration < math.inf:
            raise rule_error("duration", f"must be a positive number of seconds (got {self.duration:g})")
        for name in ("aspect_ratio", "resolution"):
            value = getattr(self, name)
            if value is not None and not _OPTION.fullmatch(value):
                raise rule_error(name, f"must be a short value such as '16:9' or '720p' (got {shown(value)})")
        only_happyhorse = [
            name
            for name in ("mode", "watermark", "generate_audio", "template", "extend_from")
            if getattr(self, name) is not None
        ]
        if only_happyhorse:
            raise rule_error(
                only_happyhorse[0],
                f"only HappyHorse 1.1 takes {', '.join(only_happyhorse)}; for model "
                f"{self.model!r} pass model-specific parameters in extra_params",
            )
        return self

    def _happyhorse_rules(self) -> VideoRequest:
        for name, allowed in (("aspect_ratio", HAPPYHORSE_ASPECT_RATIOS), ("resolution", HAPPYHORSE_RESOLUTIONS)):
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
        if self.mode not in (None, "auto"):
            return self.mode
        count = len(self.images)
        if count > MAX_REFERENCE_IMAGES:
            raise rule_error("images", f"at most {MAX_REFERENCE_IMAGES} images are allowed, got {count}")
        return "t2v" if count == 0 else "i2v" if count == 1 else "r2v"

    @property
    def billed_seconds(self) -> float:
        """
        Seconds of video the request will be billed for: the duration (5 by default) rounded up to
        whole seconds, times the number of videos asked for in ``extra_params`` (``n``, ``num_outputs``).
        """
        return float(billed_seconds(self.duration) * video_count(self.extra_params))

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
        Each field that may change the bill and has no known price, with why: an unknown model or
        resolution, ``template``, ``extend_from``, and ``extra_params`` keys other than a count of
        videos and the keys known not to change the bill (see :mod:`.pricing`).
        """
        found: list[tuple[str, str]] = []
        prices = PRICE_USD_PER_SECOND.get(self.model)
        if prices is None:
            found.append(("model", f"{shown(self.model)} has no known price"))
        elif (self.resolution or DEFAULT_RESOLUTION) not in prices:
            found.append(("resolution", f"{shown(self.resolution)} has no known price"))
        found.extend(
            (name, "may change the bill and has no known price")
            for name in UNPRICED_REQUEST_FIELDS
            if getattr(self, name) is not None
        )
        found.extend(unpriced_extra_params(self.extra_params))
        return found

    def unpriced_fields(self) -> list[str]:
        """
        The names of the fields that make the estimate uncertain, e.g. ``["template", "extra_params.n"]``.

        Empty when :meth:`estimated_cost_usd` accounts for everything in the request.
        """
        return [name for name, _ in self.unpriced()]

    def estimated_cost_usd(self) -> float | None:
        """
        What the request will cost if accepted, in USD; ``None`` when a field that may change the bill
        has no known price (see :meth:`unpriced_fields`), including a model without a known price.
        """
        if self.unpriced():
            return None
        return estimate_cost_usd(self.model, self.resolution, self.duration, video_count(self.extra_params))

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
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON body the API expects: unset fields are left to the API's defaults."""
        body = self.model_dump(exclude_none=True, exclude={"images", "extra_params", "duration"})
        if self.duration is not None:
            body["duration"] = int(self.duration) if float(self.duration).is_integer() else self.duration
        if self.images:
            body["image"] = self.images[0] if len(self.images) == 1 else list(self.images)
        body.update(self.extra_params)
        return body

    @classmethod
    def build(cls, **fields: Any) -> VideoRequest:
        """
        Build a request, turning pydantic's errors into one that names each field and what it allows.
        ``None`` values are dropped, so operator arguments that were not given keep the API's default.
        """
        given = {name: value for name, value in fields.items() if value is not None}
        try:
            return cls(**given)
        except ValidationError as err:
            raise EmpirioLabsRequestError(describe_validation_error(err)) from None
