"""
The operator that generates a video: validate, estimate, submit once, then (optionally) wait.

Every accepted request is billed, so this operator is built around never submitting twice for
one task: the job id is written to Airflow's task state store the moment the API accepts the
request, and every later try of the task reattaches to that job instead of paying again (the job
path, shared with the image operator: :mod:`._job_operator`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import conf

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import HAPPYHORSE_MODEL, Job, VideoRequest
from airflow_provider_empiriolabs.models.request import Validation
from airflow_provider_empiriolabs.operators._checks import templated_arguments
from airflow_provider_empiriolabs.operators._job_operator import JobOperator
from airflow_provider_empiriolabs.triggers._render_times import RenderKey
from airflow_provider_empiriolabs.triggers.polling import render_key

if TYPE_CHECKING:
    from airflow.sdk import XComArg

__all__ = ["EmpirioLabsGenerateVideoOperator"]


class EmpirioLabsGenerateVideoOperator(JobOperator):
    """
    Generate a video with an EmpirioLabs model (HappyHorse 1.1 by default).

    Literal arguments are validated when the DAG is parsed, rendered ones before anything is sent:
    a request the API would reject is never sent, and one whose estimate exceeds ``max_cost_usd``
    is refused. The job id is pushed to XCom (key ``job_id``) before any waiting.

    The request's arguments (``prompt`` to ``extra_params``) are the fields of :attr:`request_model`,
    described as there, and all templated: rendered text (``duration="{{ params.duration }}"``
    gives ``"8"``) is read as the field's type, then checked by the same rules before sending.

    :param prompt: what to film, 1 to 2,500 characters with at least one visible character and no
        control character other than tabs and line breaks.
    :param model: model id; ``happyhorse-1-1`` by default. A model with a spec (see the models page)
        is checked and priced by it; another gets a passthrough (see ``extra_params``).
    :param mode: ``auto`` (inferred from the images), ``t2v``, ``i2v`` or ``r2v``; another model's
        modes as its spec lists them (``videoedit``...).
    :param images: image URLs or uploaded paths: none for t2v, exactly 1 for i2v, 1 to 9 for r2v
        (referred to in the prompt as character1 ... character9). Storage URLs (``s3://``, ``gs://``,
        ``abfs://``, ``file://``) and absolute local paths are uploaded on submission.
    :param aspect_ratio: 16:9, 9:16, 1:1, 4:3 or 3:4 (t2v and r2v; i2v follows its image).
    :param resolution: 720p or 1080p.
    :param duration: seconds of video, 3 to 15; billed in whole seconds (5.5 is billed as 6).
    :param seed: 0 to 2147483647, for repeatable results.
    :param watermark: whether the video carries a watermark.
    :param generate_audio: whether the model adds native audio (the API's default is yes).
    :param template: a template slug.
    :param extend_from: ``{"job_id": ...}`` or ``{"video_url": ...}`` to continue a video.
    :param extra_params: the model's own parameters (``flash_mode``, ``model_tier``...), checked by its
        spec; for a model without one, sent as they are.
    :param images_conn_id: the Airflow connection for storage URLs in ``images`` that name none
        themselves (``s3://my_conn@bucket/key`` does). Templated.
    :param empiriolabs_conn_id: the Airflow connection of the account. Templated.
    :param wait_for_completion: wait for the video and return its summary; else return the job id.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poll_interval: the longest wait between two polls; polls are timed from the expected
        render time and the reported progress, so most jobs need two or three.
    :param timeout: how long to wait for the job, in seconds or as a timedelta.
    :param max_cost_usd: refuse, before sending, a request whose estimated cost exceeds this.
    :param validation: how the model's spec is applied: ``strict`` (the default) refuses what the
        spec says the model would refuse, ``warn`` logs each such problem (one warning each) and
        sends the request anyway, ``off`` sends it unchecked by the spec.
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook` (for instance ``timeout``).
    :param regenerate: pay for a new video even when an earlier run of this task (cleared since)
        made one for the same request whose URLs still live. A changed request (prompt, seed...)
        always gets a new video; a retry of a failed try never pays twice either way.
    """

    #: The request's fields, their rules and descriptions: the operator's request arguments are its fields.
    request_model: ClassVar[type[VideoRequest]] = VideoRequest
    template_fields: Sequence[str] = templated_arguments(VideoRequest, ())
    ui_color = "#f5d0fe"

    def __init__(
        self,
        *,
        prompt: str,
        model: str = HAPPYHORSE_MODEL,
        mode: str | None = None,
        images: list[str] | str | XComArg | None = None,
        images_conn_id: str | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        duration: float | str | None = None,
        seed: int | str | None = None,
        watermark: bool | str | None = None,
        generate_audio: bool | str | None = None,
        template: str | None = None,
        extend_from: dict[str, str] | str | None = None,
        extra_params: dict[str, Any] | str | None = None,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | timedelta = 3600.0,
        max_cost_usd: float | None = None,
        hook_params: dict[str, Any] | None = None,
        regenerate: bool = False,
        validation: Validation = "strict",
        **kwargs: Any,
    ) -> None:
        # The request's arguments: the model's fields (the signature tied by tests/operators/test_request_fields.py).
        super().__init__(arguments=locals(), **kwargs)

    # -- what differs from the job path (see _job_operator) --------------------------------------

    def _summary(self, job: Job) -> dict[str, Any]:
        billed = self._billed_request()  # a template's defaults merged: what the job is billed for
        return job.summary(seconds=billed.billed_seconds, price=billed.estimated_cost_usd)

    def _render_key(self) -> RenderKey:
        return render_key(self._billed_request())
