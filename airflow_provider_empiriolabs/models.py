"""
Typed requests and responses of the EmpirioLabs API, the job status classes and the price table.

Everything the provider knows about the API's shapes lives here, so that the hook, operators,
trigger and sensor agree. Requests are strict (a rejected request costs a round trip, an accepted
wrong one costs money); responses are parsed tolerantly, because most of their shape is not
documented (see the project's notes on the API).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
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

HAPPYHORSE_MODEL = "happyhorse-1-1"
MAX_PROMPT_CHARS = 2500
MAX_REFERENCE_IMAGES = 9
MAX_SEED = 2_147_483_647

Mode = Literal["auto", "t2v", "i2v", "r2v"]
HAPPYHORSE_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
HAPPYHORSE_RESOLUTIONS = ("720p", "1080p")
HAPPYHORSE_SECONDS = (3, 15)

# ---------------------------------------------------------------------------------------------
# Price table: the one place that knows what a second of video costs.
# ---------------------------------------------------------------------------------------------

#: USD per second of generated video, by model and resolution (EmpirioLabs pricing page).
PRICE_USD_PER_SECOND: dict[str, dict[str, float]] = {
    HAPPYHORSE_MODEL: {"720p": 0.14, "1080p": 0.18},
}


def estimate_cost_usd(model: str, resolution: str | None, seconds: float | None) -> float | None:
    """
    Return what a video will cost, or ``None`` when the price table does not know the model.

    :param model: model id, e.g. ``happyhorse-1-1``.
    :param resolution: ``720p`` or ``1080p``; ``None`` means the API's default, 720p.
    :param seconds: seconds of video; ``None`` means the API's default, 5.
    """
    prices = PRICE_USD_PER_SECOND.get(model)
    if prices is None:
        return None
    price = prices.get(resolution or "720p")
    if price is None:
        return None
    return round(price * (5 if seconds is None else seconds), 4)


# ---------------------------------------------------------------------------------------------
# Job status: one enum, shared by the operator, the sensor and the trigger.
# ---------------------------------------------------------------------------------------------

_SUCCESS_VALUES = frozenset({"completed", "succeeded", "success", "done"})
_FAILURE_VALUES = frozenset({"failed", "error", "cancelled", "canceled", "expired", "timeout"})


class JobStatus(str, Enum):
    """
    The class of a job's status.

    The API's status strings are not listed in one place; they are folded into three classes
    (case-insensitive), and anything unknown counts as still running so that a new intermediate
    state never fails a task.
    """

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def from_api(cls, value: object) -> JobStatus:
        """Classify a raw status value of the API."""
        text = str(value or "").strip().lower()
        if text in _SUCCESS_VALUES:
            return cls.SUCCEEDED
        if text in _FAILURE_VALUES:
            return cls.FAILED
        return cls.RUNNING

    def is_terminal(self) -> bool:
        """Return whether the job will not change any more."""
        return self is not JobStatus.RUNNING

    def is_success(self) -> bool:
        """Return whether the job finished and its outputs can be fetched."""
        return self is JobStatus.SUCCEEDED


#: Error codes of a failed job after which a new job may be submitted: the failure was the
#: service's, not the request's. Everything else (content policy, validation, credits) is final.
TRANSIENT_JOB_ERROR_CODES = frozenset(
    {"model_unavailable", "upstream_error", "internal_error", "server_error", "timeout", "overloaded"}
)

# ---------------------------------------------------------------------------------------------
# The request.
# ---------------------------------------------------------------------------------------------


def _no_bool(value: Any) -> Any:
    # pydantic's lax mode reads True as 1; a boolean where a number belongs is a mistake.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


_IMAGE_REF = re.compile(r"^(https?://[^\s/$.?#][^\s]*|bunny://\S+)$", re.IGNORECASE)
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_CHARACTER_REF = re.compile(r"\bcharacter(\d+)\b", re.IGNORECASE)


def _check_image_ref(value: str) -> str:
    if not _IMAGE_REF.match(value):
        raise ValueError("not an image reference; allowed: an http(s) URL or a path returned by /v1/files/upload")
    return value


def _between(low: float, high: float, unit: str = "") -> AfterValidator:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be {low:,g} to {high:,}{unit}")
        return value

    return AfterValidator(check)


ImageRef = Annotated[str, AfterValidator(_check_image_ref)]
Seconds = Annotated[float, BeforeValidator(_no_bool)]  # bounds depend on the model: see the model rules
Seed = Annotated[int, BeforeValidator(_no_bool), _between(0, MAX_SEED)]  # an int bound prints exactly


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


class ExtendFrom(BaseModel):
    """A previous video to continue: a job of this account or a video URL, exactly one of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str | None = Field(default=None, min_length=1)
    video_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

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
    in ``extra_params`` unchecked, and HappyHorse-only parameters are refused rather than silently
    sent to a model that does not know them.

    :param prompt: what to film, 1 to 2,500 characters.
    :param model: model id; ``happyhorse-1-1`` by default.
    :param mode: ``auto`` (inferred from the images), ``t2v``, ``i2v`` or ``r2v``.
    :param images: image URLs or uploaded paths: none for t2v, exactly 1 for i2v, 1 to 9 for r2v
        (referred to in the prompt as character1 ... character9).
    :param aspect_ratio: 16:9, 9:16, 1:1, 4:3 or 3:4 (t2v and r2v; i2v follows its image).
    :param resolution: 720p or 1080p.
    :param duration: seconds of video, 3 to 15.
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
    template: str | None = Field(default=None, min_length=1)
    extend_from: ExtendFrom | None = None
    extra_params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("prompt")
    @classmethod
    def _prompt_length(cls, value: str) -> str:
        if not value.strip() or len(value) > MAX_PROMPT_CHARS:
            raise ValueError(f"must be 1 to {MAX_PROMPT_CHARS:,} characters, not blank (got {len(value):,})")
        return value

    @field_validator("model")
    @classmethod
    def _model_id(cls, value: str) -> str:
        if not _MODEL_ID.match(value):
            raise ValueError("must be a model id such as 'happyhorse-1-1' (lower-case letters, digits, - . _)")
        return value

    @model_validator(mode="after")
    def _model_rules(self) -> VideoRequest:
        reserved = set(self.extra_params) & (set(type(self).model_fields) | {"image"})
        if reserved:
            raise ValueError(
                f"extra_params: must not repeat the request's own fields {sorted(reserved)}; pass them as arguments"
            )
        if self.model != HAPPYHORSE_MODEL:
            if self.duration is not None and not 0 < self.duration < math.inf:
                raise ValueError(f"duration: must be a positive number of seconds (got {self.duration:g})")
            only_happyhorse = [
                name
                for name in ("mode", "watermark", "generate_audio", "template", "extend_from")
                if getattr(self, name) is not None
            ]
            if only_happyhorse:
                raise ValueError(
                    f"{only_happyhorse[0]}: only HappyHorse 1.1 takes {', '.join(only_happyhorse)}; for model "
                    f"{self.model!r} pass model-specific parameters in extra_params"
                )
            return self
        return self._happyhorse_rules()

    def _happyhorse_rules(self) -> VideoRequest:
        for name, allowed in (("aspect_ratio", HAPPYHORSE_ASPECT_RATIOS), ("resolution", HAPPYHORSE_RESOLUTIONS)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"{name}: must be one of {', '.join(map(repr, allowed))} (got {value!r})")
        low, high = HAPPYHORSE_SECONDS
        if self.duration is not None and not low <= self.duration <= high:
            raise ValueError(f"duration: must be {low} to {high} seconds (got {self.duration:g})")
        count = len(self.images)
        mode = self.effective_mode
        if mode == "t2v" and count:
            raise ValueError(f"images: mode t2v takes no images, got {count}")
        if mode == "i2v" and count != 1:
            raise ValueError(f"images: mode i2v takes exactly 1 image, got {count}")
        if mode == "r2v" and not 1 <= count <= MAX_REFERENCE_IMAGES:
            raise ValueError(f"images: mode r2v takes 1 to {MAX_REFERENCE_IMAGES} images, got {count}")
        if mode == "i2v" and self.aspect_ratio is not None:
            raise ValueError("aspect_ratio: not used in i2v mode (the video follows its image); leave it unset")
        if mode == "r2v":
            referenced = {int(n) for n in _CHARACTER_REF.findall(self.prompt)}
            beyond = sorted(n for n in referenced if not 1 <= n <= count)
            if beyond:
                raise ValueError(
                    f"prompt: refers to character{beyond[0]} but only {count} reference image(s) were "
                    f"given (character1 to character{count})"
                )
        return self

    @property
    def effective_mode(self) -> Mode:
        """The mode the API will use: ``auto`` resolved from the number of images."""
        if self.mode not in (None, "auto"):
            return self.mode
        count = len(self.images)
        if count > MAX_REFERENCE_IMAGES:
            raise ValueError(f"images: at most {MAX_REFERENCE_IMAGES} images are allowed, got {count}")
        return "t2v" if count == 0 else "i2v" if count == 1 else "r2v"

    @property
    def billed_seconds(self) -> float:
        """Seconds of video the request will be billed for (the API's default is 5)."""
        return 5.0 if self.duration is None else self.duration

    def expected_render_seconds(self) -> float:
        """
        How long the render is expected to take, to time the first poll.

        Not documented by EmpirioLabs: a guess (20 s plus 6 s per second of video, half again at
        1080p) that only times polls, so being wrong costs a poll or a little lag, never a result.
        """
        factor = 1.5 if self.resolution == "1080p" else 1.0
        return 20.0 + 6.0 * self.billed_seconds * factor

    def estimated_cost_usd(self) -> float | None:
        """What the request will cost if accepted; ``None`` for a model without a known price."""
        return estimate_cost_usd(self.model, self.resolution, self.billed_seconds)

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


def describe_validation_error(err: ValidationError) -> str:
    """One line per problem, naming the field, what is allowed and (briefly) what was given."""
    lines = []
    for problem in err.errors(include_url=False):
        field = ".".join(str(part) for part in problem["loc"]) or "request"
        message = str(problem["msg"]).removeprefix("Value error, ")
        head, sep, rest = message.partition(": ")
        if field == "request" and sep and " " not in head:
            field, message = head, rest
        given = problem.get("input")
        hide = problem["type"] in {"missing", "model_type"} or isinstance(given, Mapping) or "(got" in message
        shown = "" if hide or field == "prompt" else f" (got {_short(given)})"
        lines.append(f"{field}: {message}{shown}")
    return "Invalid EmpirioLabs request: " + "; ".join(lines)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------
# Responses, parsed tolerantly.
# ---------------------------------------------------------------------------------------------


class JobError(BaseModel):
    """Why a job failed: the API's code and message, and whether it said the job was billed."""

    code: str | None = None
    message: str = "unknown error"
    billed: bool | None = None

    @classmethod
    def from_api(cls, value: Any) -> JobError | None:
        if value in (None, "", {}):
            return None
        if isinstance(value, str):
            return cls(message=value)
        if isinstance(value, Mapping):
            code = value.get("code") or value.get("type")
            message = value.get("message") or value.get("detail") or code or "unknown error"
            billed = value.get("billed")
            return cls(
                code=str(code) if code else None,
                message=str(message),
                billed=billed if isinstance(billed, bool) else None,
            )
        return cls(message=str(value))

    def is_transient(self) -> bool:
        """Whether a new job may succeed where this one failed, and the API said this one cost nothing."""
        return self.code in TRANSIENT_JOB_ERROR_CODES and self.billed is False


class Job(BaseModel):
    """A generation job as ``GET /v1/jobs/{job_id}`` reports it."""

    job_id: str
    status: JobStatus
    raw_status: str
    progress: float | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    output_urls: list[str] = Field(default_factory=list)
    error: JobError | None = None
    billable_seconds: float | None = None
    cost_usd: float | None = None

    @classmethod
    def from_api(cls, payload: Any) -> Job:
        """Parse a job tolerantly: ``job_id`` or ``id``, any status spelling, URLs wherever they are."""
        if not isinstance(payload, Mapping):
            raise ValueError(f"expected a JSON object for a job, got {type(payload).__name__}")
        job_id = payload.get("job_id") or payload.get("id")
        if not job_id:
            raise ValueError("the job has neither job_id nor id")
        raw_status = str(payload.get("status") or "unknown")
        raw_result = payload.get("result")
        result: Mapping[str, Any] = raw_result if isinstance(raw_result, Mapping) else {}
        raw_usage = result.get("usage")
        usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
        billable = _number(usage.get("billable_units"))
        cost = _number(usage.get("cost_usd"))
        if cost is None and isinstance(usage.get("cost"), Mapping):
            cost = _number(usage["cost"].get("amount"))
        return cls(
            job_id=str(job_id),
            status=JobStatus.from_api(raw_status),
            raw_status=raw_status,
            progress=_fraction(payload.get("progress")),
            created_at=_timestamp(payload.get("created_at")),
            completed_at=_timestamp(payload.get("completed_at")),
            output_urls=list(_output_urls(result)),
            error=JobError.from_api(payload.get("error")),
            billable_seconds=billable,
            cost_usd=cost,
        )

    @property
    def state_text(self) -> str:
        """The status as the API said it, with the progress when it gave one: ``processing, 45%``."""
        return self.raw_status if self.progress is None else f"{self.raw_status}, {self.progress:.0%}"

    def summary(
        self, *, model: str | None = None, resolution: str | None = None, seconds: float | None = None
    ) -> dict[str, Any]:
        """
        The small, JSON-safe result a task returns: what downstream tasks and people need.

        The cost is the API's own figure when it gave one, else the price table's for the
        billed seconds (or the requested ones).

        :param model: the model the job ran, to price it.
        :param resolution: the resolution requested, to price it.
        :param seconds: the duration requested, used when the API did not report billed seconds.
        """
        video_seconds = self.billable_seconds if self.billable_seconds is not None else seconds
        cost = self.cost_usd
        if cost is None and model is not None:
            cost = estimate_cost_usd(model, resolution, video_seconds)
        return {
            "job_id": self.job_id,
            "status": self.raw_status,
            "output_urls": list(self.output_urls),
            "video_seconds": video_seconds,
            "cost_usd": cost,
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _fraction(value: Any) -> float | None:
    number = _number(value)
    if number is None:
        return None
    if number > 1:  # some APIs report percent
        number /= 100
    return min(max(number, 0.0), 1.0)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _urls_in(value: Any) -> Iterable[str]:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        yield value
    elif isinstance(value, Mapping):
        for key in ("url", "video_url"):
            if isinstance(value.get(key), str):
                yield from _urls_in(value[key])
    elif isinstance(value, list):
        for item in value:
            yield from _urls_in(item)


def _output_urls(result: Mapping[str, Any]) -> Iterable[str]:
    """``result.data[*].url`` as served; else the other places an output URL is seen in the wild."""
    for key in ("data", "url", "video_url", "output", "outputs", "videos"):
        urls = list(dict.fromkeys(_urls_in(result.get(key))))
        if urls:
            return urls
    return []


class SubmittedJob(BaseModel):
    """What ``POST /v1/videos/generations`` answers: at least the new job's id."""

    job_id: str

    @classmethod
    def from_api(cls, payload: Any) -> SubmittedJob:
        if isinstance(payload, Mapping) and (job_id := payload.get("job_id") or payload.get("id")):
            return cls(job_id=str(job_id))
        raise ValueError("the API accepted the request but its answer holds no job_id")


class UploadedFile(BaseModel):
    """A file stored by ``POST /v1/files/upload``: its ``path`` is what generation requests accept."""

    model_config = ConfigDict(extra="allow")

    path: str


class UsageEvent(BaseModel):
    """One billed request in the account's usage history."""

    model_config = ConfigDict(extra="allow")

    job_id: str | None = None
    model: str | None = None
    status: str | None = None
    cost_usd: float | None = None
    output_urls: list[str] = Field(default_factory=list)


class AccountUsage(BaseModel):
    """The account's credit balance and its latest usage events."""

    balance_usd: float | None = None
    events: list[UsageEvent] = Field(default_factory=list)

    @classmethod
    def from_api(cls, payload: Any) -> AccountUsage:
        if not isinstance(payload, Mapping):
            raise ValueError("expected a JSON object for account usage")
        balance = payload.get("balance_usd", payload.get("balance"))
        if isinstance(balance, Mapping):
            balance = balance.get("amount")
        raw_events = payload.get("data") or payload.get("events") or payload.get("usage") or []
        events = []
        for raw in raw_events if isinstance(raw_events, list) else []:
            if not isinstance(raw, Mapping):
                continue
            cost = raw.get("cost")
            events.append(
                UsageEvent(
                    job_id=raw.get("job_id") or raw.get("id"),
                    model=raw.get("model"),
                    status=raw.get("status"),
                    cost_usd=_number(cost.get("amount") if isinstance(cost, Mapping) else cost),
                    output_urls=list(_urls_in(raw.get("output_urls") or [])),
                )
            )
        return cls(balance_usd=_number(balance), events=events)
