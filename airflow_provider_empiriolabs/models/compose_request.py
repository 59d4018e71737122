"""
The request to ``POST /v1/videos/compose`` (EmpirioLabs Compose), and the reading of its job's result.

Compose makes a whole short video from a brief in up to three jobs, each polled on
``GET /v1/jobs/{id}`` like any other: ``plan`` writes a storyboard (scenes with narration,
captions, visual prompts), ``render`` turns a storyboard into an MP4 (and a manifest), ``edit``
changes scenes of an earlier render from its manifest. Fields and rules are the MCP tool's
``compose_video`` (DOC-MCP); inputs are http(s) URLs only ("this endpoint does not accept file
uploads").

Compose has no published price list: a production is billed as the sum of the model calls it
makes, known only afterwards (the account's usage, ``source=compose``). So a request is never
estimated, and under ``max_cost_usd`` it is refused, saying why.

What the job's result holds is not documented (INFERRED): :class:`ComposeResult` reads the
storyboard and the manifest wherever they are seen, tolerantly, and never fails on their shape.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models.errors import describe_validation_error, rule_error
from airflow_provider_empiriolabs.models.fields import (
    FROM_TEMPLATES,
    FieldUse,
    _no_bool,
    described_fields,
    json_problem,
    templates_read_as_types,
)
from airflow_provider_empiriolabs.models.text import is_http_url, shown, text_problem
from airflow_provider_empiriolabs.redaction import redact_url

__all__ = [
    "COMPOSE_ENDPOINT",
    "COMPOSE_MODES",
    "COMPOSE_STAGES",
    "MAX_SCENE_COUNT",
    "ComposeMode",
    "ComposeRequest",
    "ComposeResult",
    "SceneEdit",
    "Storyboard",
    "StoryboardScene",
]

COMPOSE_ENDPOINT = "/v1/videos/compose"
ComposeMode = Literal["plan", "render", "edit"]
COMPOSE_MODES: tuple[str, ...] = ("plan", "render", "edit")
#: The stages whose model a recipe lets one override (``<stage>_model`` or ``model_overrides.<stage>``).
COMPOSE_STAGES: tuple[str, ...] = ("script", "visual", "image", "voice", "music")
MAX_SCENE_COUNT = 12

_RECIPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
_SHORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._ -]{0,63}")  # a style, a voice, a language, a ratio


def _http_url(value: str) -> str:
    if not is_http_url(value):
        raise ValueError("must be an http(s):// URL (Compose takes no file uploads or storage paths)")
    return value


def _recipe(value: str) -> str:
    if not _RECIPE.fullmatch(value):
        raise ValueError(
            "must be a recipe slug such as 'ai-ugc-product-ad' (lower-case letters, digits, - and _, at most 100); "
            "GET /v1/videos/compose/recipes lists them"
        )
    return value


def _short(value: str) -> str:
    if not _SHORT.fullmatch(value):
        raise ValueError("must be a short value such as '9:16', 'bold' or 'en' (letters, digits, : . _ - and spaces)")
    return value


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _json_values(value: dict[str, Any]) -> dict[str, Any]:
    problem = json_problem(value)
    if problem:
        raise ValueError(f"must hold JSON values only, not {problem}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Text = Annotated[str, AfterValidator(_text)]
Short = Annotated[str, AfterValidator(_short)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_values)]


class StoryboardScene(BaseModel):
    """One scene of a storyboard; other keys the API adds are kept (JSON values)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    index: Annotated[int | None, BeforeValidator(_no_bool)] = Field(None, ge=0)
    narration: str | None = None
    visual_prompt: str | None = None
    caption: str | None = None
    duration_seconds: Annotated[float | None, BeforeValidator(_no_bool)] = Field(None, gt=0, le=600, strict=False)
    image_url: HttpUrl | None = None
    video_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _extras_are_json(self) -> StoryboardScene:
        _json_values(dict(self.model_extra or {}))
        return self


class Storyboard(BaseModel):
    """A Compose storyboard: what ``plan`` returns and ``render`` takes; other keys are kept (JSON values)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    title: str | None = None
    aspect_ratio: str | None = None
    caption_style: str | None = None
    scenes: list[StoryboardScene] = Field(default_factory=list, max_length=MAX_SCENE_COUNT * 4)

    @model_validator(mode="after")
    def _extras_are_json(self) -> Storyboard:
        _json_values(dict(self.model_extra or {}))
        return self

    @property
    def seconds(self) -> float | None:
        """The video's length if every scene says its own, else ``None``."""
        durations = [scene.duration_seconds for scene in self.scenes]
        if not durations or any(d is None for d in durations):
            return None
        return float(sum(d for d in durations if d is not None))


class SceneEdit(BaseModel):
    """One change of an ``edit``: which scene, and what to do to it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    scene_index: int = Field(ge=0)
    instruction: Text


_SHOWN = FieldUse(displayed=True)
_UNPRICED = FieldUse(bill="unpriced")


class ComposeRequest(BaseModel):
    """
    A request to ``POST /v1/videos/compose``: one Compose job (``plan``, ``render`` or ``edit``).

    ``plan`` needs ``brief`` or ``script``; ``render`` needs ``storyboard``; ``edit`` needs
    ``manifest`` and ``edits``. Image and video inputs are http(s) URLs. Compose has no published
    price: the request is never estimated, and is refused under ``max_cost_usd``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    #: Where the request is sent.
    endpoint: ClassVar[str] = COMPOSE_ENDPOINT
    #: The modes a templated ``mode`` may render to (checked with each when the DAG is parsed).
    modes: ClassVar[tuple[str, ...]] = COMPOSE_MODES
    #: What a templated field stands for when the DAG is parsed: values no rule refuses by themselves.
    parse_time_stand_ins: ClassVar[dict[str, Any]] = {
        "recipe": "stand-in",
        "brief": "a stand-in brief",
        "storyboard": {"scenes": []},
        "manifest": {},
        "edits": [{"scene_index": 0, "instruction": "a stand-in"}],
    }

    recipe: Annotated[str, FieldUse(displayed=True, bill="unpriced"), AfterValidator(_recipe)] = Field(
        description="the recipe's slug, such as ``ai-ugc-product-ad`` (``GET /v1/videos/compose/recipes`` lists them)."
    )
    mode: Annotated[ComposeMode, FieldUse(displayed=True, bill="unpriced")] = Field(
        "plan",
        description="``plan`` (a storyboard from a brief or script), ``render`` (an MP4 from a storyboard) or "
        "``edit`` (scenes of an earlier render changed, from its manifest).",
    )
    brief: Text | None = Field(None, description="what the video is about, in words (plan: this or ``script``).")
    script: Text | None = Field(None, description="the narration as written (plan: this or ``brief``).")
    storyboard: Storyboard | None = Field(
        None,
        description="the storyboard to render (render): ``title``, ``aspect_ratio``, ``caption_style`` and "
        "``scenes`` of ``index``, ``narration``, ``visual_prompt``, ``caption``, ``duration_seconds``, "
        "``image_url``, ``video_url``; other keys are passed on.",
    )
    manifest: JsonObject | None = Field(None, description="the manifest of an earlier render (edit).")
    edits: list[SceneEdit] | None = Field(
        None, description="``[{scene_index, instruction}]``: what to change in which scene (edit)."
    )
    aspect_ratio: Annotated[Short | None, _SHOWN] = Field(
        None, description="such as ``9:16`` (the recipe lists its own)."
    )
    scene_count: Annotated[int | None, _SHOWN, BeforeValidator(_no_bool)] = Field(
        None, ge=1, le=MAX_SCENE_COUNT, description=f"how many scenes, 1 to {MAX_SCENE_COUNT}."
    )
    caption_style: Short | None = Field(None, description="the captions' style.")
    voice: Short | None = Field(None, description="the voiceover's voice.")
    music: Annotated[str | bool | None, _UNPRICED] = Field(
        None, description="background music: a style, or true/false."
    )
    product_image: HttpUrl | None = Field(None, description="an http(s) URL of the product's picture.")
    face_image: HttpUrl | None = Field(None, description="an http(s) URL of the face (recipes that require one).")
    character_image_url: HttpUrl | None = Field(None, description="an http(s) URL of a character's picture.")
    gameplay_style: Short | None = Field(None, description="the gameplay style (gameplay recipes).")
    video: HttpUrl | None = Field(None, description="an http(s) URL of a video to caption (``auto-captions``).")
    language: Short | None = Field(None, description="the narration's language; ``auto`` by default.")
    translate_to: Short | None = Field(None, description="a language to translate the narration into.")
    speakers: bool | None = Field(None, strict=True, description="whether speakers are told apart (default true).")
    model_overrides: Annotated[dict[str, str] | None, _UNPRICED] = Field(
        None,
        description="a model per stage (``script``, ``visual``, ``image``, ``voice``, ``music``), from the "
        "recipe's ``models.<stage>.options``.",
    )
    script_model: Annotated[Short | None, _UNPRICED] = Field(None, description="``model_overrides.script``.")
    visual_model: Annotated[Short | None, _UNPRICED] = Field(None, description="``model_overrides.visual``.")
    image_model: Annotated[Short | None, _UNPRICED] = Field(None, description="``model_overrides.image``.")
    voice_model: Annotated[Short | None, _UNPRICED] = Field(None, description="``model_overrides.voice``.")
    music_model: Annotated[Short | None, _UNPRICED] = Field(None, description="``model_overrides.music``.")
    parameters: JsonObject | None = Field(None, description="further recipe parameters, sent as they are.")

    @model_validator(mode="before")
    @classmethod
    def _text_of_templates(cls, data: Any, info: ValidationInfo) -> Any:
        return templates_read_as_types(cls, data, info.context)

    @field_validator("model_overrides")
    @classmethod
    def _stages(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for stage, model in (value or {}).items():
            if stage not in COMPOSE_STAGES:
                raise ValueError(f"stages are {', '.join(COMPOSE_STAGES)} (got {shown(stage)})")
            _short(model)
        return value

    @model_validator(mode="after")
    def _mode_rules(self) -> ComposeRequest:
        if self.mode == "plan" and self.brief is None and self.script is None:
            raise rule_error("brief", "mode plan needs a brief or a script (give brief= or script=)")
        if self.mode == "render" and self.storyboard is None:
            raise rule_error("storyboard", "mode render needs the storyboard to render (a plan's result)")
        if self.mode == "edit" and self.manifest is None:
            raise rule_error("manifest", "mode edit needs the manifest of an earlier render")
        if self.mode == "edit" and not self.edits:
            raise rule_error("edits", "mode edit needs at least one {scene_index, instruction}")
        if self.edits and self.mode != "edit":
            raise rule_error("edits", f"only mode edit takes edits (mode is {self.mode})")
        for stage in COMPOSE_STAGES:
            if getattr(self, f"{stage}_model") is not None and stage in (self.model_overrides or {}):
                raise rule_error(f"{stage}_model", f"give either {stage}_model or model_overrides.{stage}, not both")
        return self

    # -- what the operator, the job record and the view read of a request ---------------------------

    @property
    def model(self) -> str:
        """What the job is, for logs, the view and the learned render times: ``compose:<recipe>``."""
        return f"compose:{self.recipe}"

    @property
    def resolution(self) -> None:
        """Compose chooses its own resolution."""
        return None

    @property
    def effective_resolution(self) -> str:
        """``auto``: the recipe and its stage models choose the resolution (for logs and learned render times)."""
        return "auto"

    @property
    def billed_seconds(self) -> float:
        """Seconds of video, when the storyboard says them (render), else 0: Compose is not billed by the second."""
        return (self.storyboard.seconds if self.storyboard is not None else None) or 0.0

    def describe(self) -> str:
        """What the job is, for the log: ``Compose render (recipe ai-ugc-product-ad), 2 scene(s), 10 s of video``."""
        what = f"Compose {self.mode} (recipe {self.recipe})"
        if self.mode == "render" and self.storyboard is not None:
            what += f", {len(self.storyboard.scenes)} scene(s)" + (
                f", {self.billed_seconds:g} s of video" if self.billed_seconds else ""
            )
        elif self.mode == "edit":
            what += f", {len(self.edits or ())} edit(s)"
        elif self.scene_count is not None:
            what += f", {self.scene_count} scene(s)"
        return what

    def expected_render_seconds(self) -> float:
        """
        A guess at the job's time, to time the first poll (undocumented): a plan is an LLM call, a
        render makes every scene (about 20 s each), an edit remakes the edited ones.
        """
        if self.mode == "plan":
            return 30.0
        if self.mode == "edit":
            return 30.0 + 20.0 * len(self.edits or ())
        scenes = len(self.storyboard.scenes) if self.storyboard is not None else 0
        return 60.0 + 20.0 * (scenes or self.scene_count or 4)

    def unpriced(self) -> list[tuple[str, str]]:
        """Every Compose job: no price is published, its cost is known only afterwards."""
        return [("recipe", f"Compose ({self.mode}) has no published price")]

    def unpriced_fields(self) -> list[str]:
        """``["recipe"]``: a Compose job is never estimated."""
        return [name for name, _ in self.unpriced()]

    def estimated_cost_usd(self) -> None:
        """Always ``None``: Compose has no published price list."""
        return None

    def cost_problem(self, max_cost_usd: float | None) -> str | None:
        """
        Why the request may not be sent under the cap: under any cap, always (``None`` without one).

        :param max_cost_usd: the cap in USD; ``None`` means no cap.
        """
        if max_cost_usd is None:
            return None
        return (
            f"max_cost_usd: Compose has no published price, so a cap of ${max_cost_usd:.2f} cannot be kept: "
            f"a {self.mode} job is billed as the sum of the model calls it makes (script, visuals, voice, music, "
            "render), known only afterwards from the account's usage (source=compose). Leave max_cost_usd unset "
            "to send it"
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON body: unset fields are left to the API's defaults."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def body_fields(cls) -> frozenset[str]:
        """The names :meth:`to_payload` may send."""
        return frozenset(cls.model_fields)

    @classmethod
    def build(
        cls, *, from_templates: Collection[str] = (), validation: str = "strict", **fields: Any
    ) -> ComposeRequest:
        """
        Build a request, turning pydantic's errors into one naming each field and what it allows.
        ``None`` values are dropped (the API's default stays).

        :param from_templates: the fields rendered from templates (their text read as the field's type).
        :param validation: as for a video request; Compose has no model spec, so its own rules always hold.
        :param fields: the request's fields.
        """
        given = {name: value for name, value in fields.items() if value is not None}
        try:
            return cls.model_validate(given, context={FROM_TEMPLATES: frozenset(from_templates)})
        except ValidationError as err:
            raise EmpirioLabsRequestError(describe_validation_error(err)) from None


ComposeRequest.__doc__ = f"{ComposeRequest.__doc__}{described_fields(ComposeRequest)}\n"


# -- the job's result ------------------------------------------------------------------------------

#: How deep a storyboard or manifest is walked (for its URLs) and looked for under ``result``.
_MAX_DEPTH = 12
_PLACES = ("storyboard", "plan")


def _redacted(value: Any, depth: int = 0) -> Any:
    """A JSON value, every URL with a query, fragment or user info in it redacted (signed URLs are credentials)."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        return redact_url(value) if is_http_url(value) and redact_url(value) != value else value
    if isinstance(value, Mapping):
        return {str(key): _redacted(item, depth + 1) for key, item in value.items() if isinstance(key, str)}
    if isinstance(value, list):
        return [_redacted(item, depth + 1) for item in value]
    return value


def _object_at(result: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
    """The first JSON object under one of ``names`` in ``result`` or ``result.data`` (an object or its first item)."""
    holders: list[Any] = [result, result.get("data"), result.get("output")]
    for holder in list(holders):
        if isinstance(holder, list) and holder:
            holders.append(holder[0])
    for holder in holders:
        if not isinstance(holder, Mapping):
            continue
        for name in names:
            found = holder.get(name)
            if isinstance(found, Mapping) and json_problem(found) is None:
                return dict(found)
    return None


class ComposeResult(BaseModel):
    """
    What a finished Compose job's ``result`` holds, as far as it can be read (its keys are not documented).

    The storyboard is looked for at ``result.storyboard`` (or ``plan``), under ``result.data`` (an
    object or its first item), or ``result`` itself when it has ``scenes``; the manifest at
    ``manifest``, the same way. URLs with a query (signed ones) are redacted in both.
    """

    storyboard: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None

    @classmethod
    def from_api(cls, payload: Any) -> ComposeResult:
        """
        Read a job's answer; anything unreadable is left out, never raised.

        :param payload: the decoded ``GET /v1/jobs/{id}`` answer.
        """
        raw = payload.get("result") if isinstance(payload, Mapping) else None
        result: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        storyboard = _object_at(result, _PLACES)
        if storyboard is None and isinstance(result.get("scenes"), list) and json_problem(dict(result)) is None:
            storyboard = {key: value for key, value in result.items() if key not in ("usage", "data", "manifest")}
        manifest = _object_at(result, ("manifest",))
        return cls(
            storyboard=_redacted(storyboard) if storyboard is not None else None,
            manifest=_redacted(manifest) if manifest is not None else None,
        )
