"""
The request to ``POST /v1/images/generations``: strict, like the video request, and checked by the
model's spec (:mod:`.spec`): its parameters, the rules between them and its price per image.

Image models ask for several images under different names (``max_images``, ``num_images``, ``n``):
the request's ``num_images`` is sent under the name the model's spec gives (``count_field``), and
each image is priced by the spec's row times that count.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_provider_empiriolabs.models.catalogue import shipped_spec
from airflow_provider_empiriolabs.models.errors import rule_error
from airflow_provider_empiriolabs.models.fields import (
    FieldUse,
    ImageRef,
    Seed,
    TemplateSlug,
    _no_bool,
    as_list,
    described_fields,
    templates_read_as_types,
)
from airflow_provider_empiriolabs.models.parsing import api_job_id, number
from airflow_provider_empiriolabs.models.request import _SPEC, _VALIDATION, Validation, VideoRequest
from airflow_provider_empiriolabs.models.spec import ModelSpec
from airflow_provider_empiriolabs.models.text import is_http_url
from airflow_provider_empiriolabs.transfers._body import MAGIC_BYTES_NEEDED, sniff_container

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "IMAGE_CONTAINERS",
    "MAX_HELD_ANSWER_BYTES",
    "MAX_IMAGES",
    "HeldAnswer",
    "ImageRequest",
    "ResponseFormat",
]

DEFAULT_IMAGE_MODEL = "seedream-5-0-lite"
#: The most images one request may ask for, whatever the model (Seedream's 15): a bound on the bill.
MAX_IMAGES = 15
#: What the answer carries for each image: a hosted URL, or the image's bytes in base64.
ResponseFormat = Literal["url", "b64_json"]
#: The count field of a model without a spec (the MCP's and most models' name).
_DEFAULT_COUNT_FIELD = "num_images"

_SHOWN = FieldUse(displayed=True)
#: The most bytes a held answer may have: its images travel in it as base64 (a JSON answer is 1 MiB at most).
MAX_HELD_ANSWER_BYTES = 256 * 1024 * 1024
#: The image files an answer's ``b64_json`` may hold, by their first bytes, and the media type of each.
IMAGE_CONTAINERS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


class ImageRequest(BaseModel):
    """
    A request to ``POST /v1/images/generations``.

    A model with a spec (``seedream-5-0-lite``, ``qwen-image-2-0``, ``flux-2-klein-4b``,
    ``wan2-7-image``, or a deployment's spec file) is checked by it and priced per image; another
    model is sent as it is, unpriced (so refused under ``max_cost_usd``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Where the request is sent: one request path, one endpoint per request model.
    endpoint: ClassVar[str] = "/v1/images/generations"
    #: The kind of model it takes (a spec's ``kind``).
    kind: ClassVar[str] = "image"
    _spec: ModelSpec | None = PrivateAttr(None)
    _spec_problems: tuple[str, ...] = PrivateAttr(())

    prompt: str = Field(
        description="what to draw (or, with ``images``, the edit to make), 1 to 2,500 characters with at "
        "least one visible character."
    )
    model: Annotated[str, FieldUse(bill="rate")] = Field(
        DEFAULT_IMAGE_MODEL, description=f"image model id; ``{DEFAULT_IMAGE_MODEL}`` by default."
    )
    images: Annotated[list[ImageRef], BeforeValidator(as_list)] = Field(
        default_factory=list,
        description="reference image URLs or uploaded paths for edit mode, sent as the ``image`` list "
        "(how many the model takes is its spec's).",
    )
    num_images: Annotated[int | None, BeforeValidator(_no_bool), FieldUse(displayed=True, bill="rate")] = Field(
        None,
        description=f"how many images, 1 to {MAX_IMAGES}; sent as the model's own count field "
        "(``max_images`` for Seedream, ``num_images`` for the others), each billed.",
    )
    aspect_ratio: Annotated[str | None, _SHOWN] = Field(
        None, min_length=1, description="e.g. ``1:1`` or ``16:9``; the values are the model's."
    )
    seed: Seed | None = Field(None, description="0 to 2147483647, for repeatable results.")
    template: Annotated[TemplateSlug | None, FieldUse(displayed=True, bill="unpriced")] = Field(
        None, description="a template slug."
    )
    response_format: Annotated[ResponseFormat | None, _SHOWN] = Field(
        None,
        description="``url`` (hosted URLs, by default) or ``b64_json`` (the bytes in the answer: needs "
        "``sync=True`` and a ``destination`` to write them to).",
    )
    sync: bool | None = Field(
        None,
        strict=True,
        description="hold the request open until the images are made (no job to poll); by default a job "
        "is polled like a video's.",
    )
    extra_params: dict[str, Any] = Field(
        default_factory=dict,
        description="the model's own parameters (``quality``, ``model_variant``...), checked by its spec.",
    )

    # The prompt, model id and extra_params follow the video request's rules: one definition each.
    @model_validator(mode="before")
    @classmethod
    def _text_of_templates(cls, data: Any, info: ValidationInfo) -> Any:
        return templates_read_as_types(cls, data, info.context)

    @field_validator("prompt")
    @classmethod
    def _prompt_text(cls, value: str) -> str:
        return VideoRequest._prompt_text(value)

    @field_validator("model")
    @classmethod
    def _model_id(cls, value: str) -> str:
        return VideoRequest._model_id(value)

    @field_validator("extra_params")
    @classmethod
    def _extra_params_are_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return VideoRequest._extra_params_are_json(value)

    @model_validator(mode="after")
    def _model_rules(self, info: ValidationInfo) -> ImageRequest:
        if self.num_images is not None and not 1 <= self.num_images <= MAX_IMAGES:
            raise rule_error("num_images", f"must be 1 to {MAX_IMAGES} (got {self.num_images})")
        context = info.context or {}
        given = context.get(_SPEC)
        self._spec = given if isinstance(given, ModelSpec) and given.id == self.model else shipped_spec(self.model)
        count_field = self.count_field
        reserved = set(self.extra_params) & (set(type(self).model_fields) | {"image", count_field})
        if reserved:
            raise rule_error(
                "extra_params",
                f"must not repeat the request's own fields {sorted(reserved)}; pass them as arguments "
                f"(the count as num_images, sent as {count_field})",
            )
        if self.response_format == "b64_json" and not self.sync:
            raise rule_error(
                "response_format",
                "b64_json needs sync=True: a job's result is read from GET /v1/jobs as URLs; "
                "use response_format='url' (the default) for a job",
            )
        # The spec's refusals as the video request applies them (strict, warn or off), each naming its field.
        VideoRequest._spec_rules(self, context.get(_VALIDATION, "strict"))  # type: ignore[arg-type]
        return self

    def _field_of(self, body_name: str) -> str:
        """The request's field a body field comes from: ``images`` (sent as ``image``), the count, ``extra_params``."""
        if body_name == self.count_field and self.num_images is not None:
            return "num_images"
        return VideoRequest._field_of(self, body_name)  # type: ignore[arg-type]

    @property
    def spec(self) -> ModelSpec | None:
        """The model spec the request was checked and priced by (``None`` for a model without one)."""
        return self._spec

    @property
    def spec_problems(self) -> tuple[str, ...]:
        """What the spec says the model would refuse, kept under ``validation="warn"`` (to be logged)."""
        return self._spec_problems

    @property
    def count_field(self) -> str:
        """The body field this model reads the number of images from."""
        spec = self._spec
        return (spec.count_field if spec is not None else None) or _DEFAULT_COUNT_FIELD

    @property
    def image_count(self) -> int:
        """How many images the request may make (and be billed for): the model's default when unset."""
        if self.num_images is not None:
            return self.num_images
        spec = self._spec
        default = spec.value({}, spec.count_field) if spec is not None and spec.count_field else None
        return default if isinstance(default, int) and not isinstance(default, bool) and default > 0 else 1

    def describe(self) -> str:
        """What the request asks for, in a log line: ``seedream-5-0-lite, 4 images (max_images)``."""
        how = "held request" if self.sync else "job"
        return f"{self.model}, {self.image_count} image(s) ({self.count_field}), {how}"

    def expected_render_seconds(self) -> float:
        """A guess (10 s plus 4 s per image) that only times polls: being wrong costs a poll or a little lag."""
        return 10.0 + 4.0 * self.image_count

    # -- the price: the video request's, over this request's body and spec --------------------------

    def unpriced(self) -> list[tuple[str, str]]:
        """Each field that may change the bill and has no known price, with why (see :meth:`VideoRequest.unpriced`)."""
        return VideoRequest.unpriced(self)  # type: ignore[arg-type]

    def unpriced_fields(self) -> list[str]:
        """The names of the fields that make the estimate uncertain; empty when it covers the whole request."""
        return [name for name, _ in self.unpriced()]

    def estimated_cost_usd(self) -> float | None:
        """What the request will cost if accepted, in USD (the price per image times the count), or ``None``."""
        if self.unpriced() or self._spec is None:
            return None
        return self._spec.estimate(self.to_payload()).usd

    def cost_problem(self, max_cost_usd: float | None) -> str | None:
        """
        Why the request may not be sent under the cap, or ``None`` when it may (see :meth:`VideoRequest.cost_problem`).

        :param max_cost_usd: the cap in USD; ``None`` means no cap.
        """
        return VideoRequest.cost_problem(self, max_cost_usd)  # type: ignore[arg-type]

    # -- the body ---------------------------------------------------------------------------------------

    def to_payload(self) -> dict[str, Any]:
        """The JSON body: unset fields are left to the model's defaults; the count under the model's name."""
        body = self.model_dump(exclude_none=True, exclude={"images", "extra_params", "num_images", "sync"})
        if self.images:
            body["image"] = list(self.images)
        if self.num_images is not None:
            body[self.count_field] = self.num_images
        if self.sync:
            body["sync"] = True
        body.update(self.extra_params)
        return body

    @classmethod
    def build(
        cls,
        *,
        from_templates: Collection[str] = (),
        validation: Validation = "strict",
        spec: ModelSpec | None = None,
        **fields: Any,
    ) -> ImageRequest:
        """
        Build a request, turning pydantic's errors into one that names each field and what it allows
        (see :meth:`VideoRequest.build`: the same ``from_templates``, ``validation`` and ``spec``).
        """
        build = VideoRequest.build.__func__  # type: ignore[attr-defined]
        return build(cls, from_templates=from_templates, validation=validation, spec=spec, **fields)


ImageRequest.__doc__ = f"{ImageRequest.__doc__}{described_fields(ImageRequest)}\n"


class HeldAnswer(BaseModel):
    """
    What a held (``sync``) image request answers: OpenAI-shaped ``{"data": [{"url"} | {"b64_json"}]}``,
    or a job id when the API made a job of it after all.

    Parsing raises ``ValueError`` (and nothing else) for an answer it cannot read wholly: the hook
    then reports the paid request's outcome as unknown, never sending it again.

    :param job_id: the job the API made instead of holding the request, if it did.
    :param urls: the images' hosted URLs.
    :param images: the images' bytes (from ``b64_json``), each a PNG, JPEG or WebP file.
    :param cost_usd: the cost the answer reports, if it does.
    """

    model_config = ConfigDict(frozen=True)

    job_id: str | None = None
    urls: tuple[str, ...] = ()
    images: tuple[bytes, ...] = ()
    cost_usd: float | None = None

    @classmethod
    def from_api(cls, payload: Any) -> HeldAnswer:
        """
        Read the answer: every item of ``data`` must be an http(s) URL or a base64 image.

        :param payload: the decoded JSON answer.
        """
        if not isinstance(payload, Mapping):
            raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
        data = payload.get("data")
        raw_id = payload.get("job_id") or payload.get("id")
        if not data and raw_id:
            return cls(job_id=api_job_id(raw_id))
        if not isinstance(data, list) or not data:
            raise ValueError("the answer holds no images (no data list)")
        urls: list[str] = []
        images: list[bytes] = []
        for n, item in enumerate(data):
            b64 = item.get("b64_json") if isinstance(item, Mapping) else None
            url = item.get("url") if isinstance(item, Mapping) else None
            if isinstance(b64, str) and b64:
                try:
                    image = base64.b64decode(b64, validate=True)
                except (binascii.Error, ValueError):
                    raise ValueError(f"data[{n}].b64_json is not base64") from None
                if sniff_container(image[:MAGIC_BYTES_NEEDED]) not in IMAGE_CONTAINERS:
                    raise ValueError(f"data[{n}].b64_json is not a PNG, JPEG or WebP image")
                images.append(image)
            elif isinstance(url, str) and is_http_url(url):
                urls.append(url)
            else:
                raise ValueError(f"data[{n}] is neither an http(s) url nor a b64_json image")
        usage = payload.get("usage")
        cost = number(usage.get("cost_usd")) if isinstance(usage, Mapping) else None
        return cls(urls=tuple(urls), images=tuple(images), cost_usd=cost)
