"""
The operator for EmpirioLabs Compose: a storyboard planned, a storyboard rendered, a render edited.

Each is one job on ``POST /v1/videos/compose``, on the job path every generate operator shares
(:mod:`._job_operator`): validated before sending, paid once per task instance across retries and
crashes (the job record), polled on the same trigger, its outputs sealed. What is Compose's own:

* ``plan`` returns the storyboard (and pushes it to XCom under ``storyboard``), to be read, edited
  (by a person, see the Compose example DAG) and passed to a ``render`` task;
* ``render`` and ``edit`` return the video's summary, as the video operator does (the transfer
  stores it), with the render's ``manifest`` for a later ``edit``;
* Compose has no published price: under ``max_cost_usd`` a request is refused before sending,
  saying why; the cost a summary reports is the API's own, afterwards, when it gives one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import conf

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import Job
from airflow_provider_empiriolabs.models.compose_request import ComposeRequest
from airflow_provider_empiriolabs.operators._job_operator import JobOperator
from airflow_provider_empiriolabs.triggers._render_times import RenderKey

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["STORYBOARD_KEY", "EmpirioLabsComposeOperator"]

#: The XCom key a plan pushes its storyboard under (it is also the task's return value's ``storyboard``).
STORYBOARD_KEY = "storyboard"


class EmpirioLabsComposeOperator(JobOperator):
    """
    Run one EmpirioLabs Compose job: ``plan`` a storyboard, ``render`` one into an MP4, or ``edit`` a render.

    The request's arguments (``recipe`` to ``parameters``) are the fields of
    :class:`~airflow_provider_empiriolabs.models.compose_request.ComposeRequest`, all templated: a
    plan task's storyboard goes to a render task as ``storyboard="{{ ti.xcom_pull('plan')['storyboard'] }}"``
    or as ``plan.output["storyboard"]``. Literal arguments are checked when the DAG is parsed,
    rendered ones before anything is sent.

    Returns, when waiting: for ``plan`` the job's summary with ``storyboard`` (also pushed to XCom
    under ``storyboard``); for ``render`` and ``edit`` the video's summary (``output_urls`` sealed,
    for the transfer) with ``manifest`` when the API gave one. Signed URLs inside a storyboard or
    manifest are redacted.

    :param recipe: the recipe's slug, such as ``ai-ugc-product-ad``.
    :param mode: ``plan`` (default), ``render`` or ``edit``.
    :param max_cost_usd: Compose has no published price: any cap refuses the request before sending,
        saying why. Leave it unset.

    The other arguments are the request's (see the model) and the job path's, as for
    :class:`~airflow_provider_empiriolabs.operators.empiriolabs.EmpirioLabsGenerateVideoOperator`.
    """

    request_model: ClassVar[type[ComposeRequest]] = ComposeRequest  # its fields are templated (see JobOperator)
    template_fields_renderers: ClassVar[dict[str, str]] = {"storyboard": "json", "manifest": "json", "edits": "json"}
    ui_color = "#fde68a"

    def __init__(
        self,
        *,
        recipe: str,
        mode: str = "plan",
        brief: str | None = None,
        script: str | None = None,
        storyboard: dict[str, Any] | str | None = None,
        manifest: dict[str, Any] | str | None = None,
        edits: list[dict[str, Any]] | str | None = None,
        aspect_ratio: str | None = None,
        scene_count: int | str | None = None,
        caption_style: str | None = None,
        voice: str | None = None,
        music: str | bool | None = None,
        product_image: str | None = None,
        face_image: str | None = None,
        character_image_url: str | None = None,
        gameplay_style: str | None = None,
        video: str | None = None,
        language: str | None = None,
        translate_to: str | None = None,
        speakers: bool | str | None = None,
        model_overrides: dict[str, str] | str | None = None,
        script_model: str | None = None,
        visual_model: str | None = None,
        image_model: str | None = None,
        voice_model: str | None = None,
        music_model: str | None = None,
        parameters: dict[str, Any] | str | None = None,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | timedelta = 3600.0,
        max_cost_usd: float | None = None,
        hook_params: dict[str, Any] | None = None,
        regenerate: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(arguments=locals(), **kwargs)  # the request's fields and the job path's (JOB_ARGUMENTS)

    # -- what differs from the job path's defaults ---------------------------------------------------

    def _render_key(self) -> RenderKey:
        # Render times are learned per recipe and mode, and scale with the storyboard's seconds.
        request: ComposeRequest = self.request
        return RenderKey(f"{request.model}:{request.mode}", request.effective_resolution, float(request.billed_seconds))

    def _summary(self, job: Job) -> dict[str, Any]:
        request: ComposeRequest = self.request
        result = self.hook.get_compose_result(job.job_id)  # the storyboard and manifest the job event does not carry
        summary = job.summary(seconds=request.billed_seconds or None)  # no price: Compose has none
        summary["mode"] = request.mode
        summary["recipe"] = request.recipe
        if request.mode == "plan":
            summary["video_seconds"] = None  # a plan makes no video
            summary[STORYBOARD_KEY] = result.storyboard
            if result.storyboard is None:
                self.log.warning("EmpirioLabs Compose job %s: its result holds no readable storyboard", job.job_id)
        elif result.manifest is not None:
            summary["manifest"] = result.manifest
        if request.mode != "plan" and not job.output_urls:
            self.log.warning("EmpirioLabs Compose job %s: its result holds no video URL that can be read", job.job_id)
        return summary

    # -- the storyboard in XCom -------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        return self._pushing_storyboard(super().execute(context), context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        return self._pushing_storyboard(super().execute_complete(context, event), context)

    def _pushing_storyboard(self, result: Any, context: Context) -> Any:
        if isinstance(result, dict) and result.get(STORYBOARD_KEY) is not None:
            context["ti"].xcom_push(key=STORYBOARD_KEY, value=result[STORYBOARD_KEY])
        return result
