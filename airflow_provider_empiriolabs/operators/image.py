"""
The operator that generates images: the video's job path (:mod:`._job_operator`), on ``POST /v1/images/generations``.

By default the API answers with a job, polled (or deferred on) exactly like a video's. With
``sync=True`` the request is held until the images are made and the answer holds them (URLs, or
their bytes as ``b64_json``): there is no job id, so what the answer held is recorded in the job
record as done as soon as a retry could find it (URLs at once, ``b64_json`` images once written),
before the usage read (:meth:`.JobOperator._finish`), and a retry returns it without paying again.
A held request cut off before its answer was read, or before it was recorded, is an unknown
outcome, as any billed POST's: never resent.

Images in ``b64_json`` are written to ``destination`` (each committed whole, as the transfer
commits a video, each write tried :data:`STORE_ATTEMPTS` times) and never travel in XCom: the task
returns their storage URIs. They exist only in the answer: images that still cannot be written
fail the task without retries, saying they were paid and that a retry will not send the request
again (the record stays ``sending``); a worker killed while writing them loses those not written
yet, and a retry fails as an unknown outcome, unpaid. Nothing can hold the bytes for it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import conf

from airflow_provider_empiriolabs._outcome import ErrorKind, task_failure, task_outcome
from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError, naming_the_task
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.models import Job, JobStatus
from airflow_provider_empiriolabs.models.image_request import (
    DEFAULT_IMAGE_MODEL,
    IMAGE_CONTAINERS,
    HeldAnswer,
    ImageRequest,
)
from airflow_provider_empiriolabs.models.request import Validation
from airflow_provider_empiriolabs.operators._checks import templated_arguments
from airflow_provider_empiriolabs.operators._job_operator import JobOperator
from airflow_provider_empiriolabs.redaction import mask_signed_url, redact_log_text
from airflow_provider_empiriolabs.transfers._body import MAGIC_BYTES_NEEDED, sniff_container
from airflow_provider_empiriolabs.transfers._copier import DEFAULT_WRITE_BLOCK_SIZE
from airflow_provider_empiriolabs.triggers._render_times import RenderKey

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath, XComArg

    from airflow_provider_empiriolabs.hooks._exchange import SendGuard

__all__ = ["HELD_JOB_PREFIX", "STORE_ATTEMPTS", "STORE_BACKOFF_SECONDS", "EmpirioLabsGenerateImageOperator"]

#: The id a held request's answer is recorded under (it has no job): never a job to poll.
HELD_JOB_PREFIX = "held-"
#: How many times each ``b64_json`` image's write is tried (a storage hiccup must not lose a paid image).
STORE_ATTEMPTS = 4
#: The first wait between two tries of an image's write, in seconds (doubling, at most 10 s).
STORE_BACKOFF_SECONDS = 0.5


class EmpirioLabsGenerateImageOperator(JobOperator):
    """
    Generate images with an EmpirioLabs image model (Seedream 5.0 Lite by default).

    Literal arguments are validated when the DAG is parsed, rendered ones before anything is sent,
    by the model's spec (its parameters, rules and price per image): a request the API would reject
    is never sent, and one whose estimate (price per image times the count) exceeds
    ``max_cost_usd`` is refused. Returns the summary: ``output_urls`` (sealed, as a video's),
    ``stored_uris`` (the ``b64_json`` images written to ``destination``), ``image_count``, ``cost_usd``.

    The request's arguments (``prompt`` to ``extra_params``) are the fields of :attr:`request_model`,
    described as there, and all templated.

    :param prompt: what to draw (or, with ``images``, the edit to make).
    :param model: image model id; ``seedream-5-0-lite`` by default.
    :param images: reference image URLs or uploaded paths for edit mode (files are uploaded on submission).
    :param num_images: how many images; sent as the model's own count field, each billed.
    :param aspect_ratio: e.g. ``1:1`` or ``16:9``; the values are the model's.
    :param seed: 0 to 2147483647, for repeatable results.
    :param template: a template slug.
    :param response_format: ``url`` (by default) or ``b64_json`` (needs ``sync=True`` and ``destination``).
    :param sync: hold the request open until the images are made (no job to poll).
    :param extra_params: the model's own parameters, checked by its spec.
    :param images_conn_id: the Airflow connection for storage URLs in ``images`` that name none themselves.
    :param destination: where ``b64_json`` images are written, an ObjectStoragePath URL such as
        ``s3://bucket/images/`` (templated); each lands at ``<destination>/<job id>/<index>.<ext>``.
    :param dest_conn_id: the Airflow connection of ``destination`` (templated).
    :param empiriolabs_conn_id: the Airflow connection of the account. Templated.
    :param wait_for_completion: wait for the images and return their summary; else return the job id
        (a held request always waits: it is its answer).
    :param deferrable: wait in the triggerer, freeing the worker slot.
    :param poll_interval: the longest wait between two polls.
    :param timeout: how long to wait for the job, in seconds or as a timedelta.
    :param max_cost_usd: refuse, before sending, a request whose estimated cost exceeds this.
    :param hook_params: keyword arguments for :class:`EmpirioLabsHook`.
    :param regenerate: pay for new images even when an earlier run of this task made them for the same request.
    :param validation: how the model's spec is applied: ``strict`` (the default) refuses what the
        spec says the model would refuse, ``warn`` logs each such problem (one warning each) and
        sends the request anyway, ``off`` sends it unchecked by the spec.
    """

    #: The request's fields, their rules and descriptions: the operator's request arguments are its fields.
    request_model: ClassVar[type[ImageRequest]] = ImageRequest
    template_fields: Sequence[str] = templated_arguments(ImageRequest, ("destination", "dest_conn_id"))
    ui_color = "#fde68a"

    def __init__(
        self,
        *,
        prompt: str,
        model: str = DEFAULT_IMAGE_MODEL,
        images: list[str] | str | XComArg | None = None,
        images_conn_id: str | None = None,
        num_images: int | str | None = None,
        aspect_ratio: str | None = None,
        seed: int | str | None = None,
        template: str | None = None,
        response_format: str | None = None,
        sync: bool | str | None = None,
        extra_params: dict[str, Any] | str | None = None,
        destination: str | None = None,
        dest_conn_id: str | None = None,
        empiriolabs_conn_id: str = EmpirioLabsHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float | timedelta = 1800.0,
        max_cost_usd: float | None = None,
        hook_params: dict[str, Any] | None = None,
        regenerate: bool = False,
        validation: Validation = "strict",
        **kwargs: Any,
    ) -> None:
        super().__init__(arguments=locals(), **kwargs)
        self.destination = destination
        self.dest_conn_id = dest_conn_id
        self._held: HeldAnswer | None = None
        with naming_the_task(self):
            if response_format == "b64_json" and destination is None:
                raise ValueError(
                    "destination: response_format='b64_json' writes the images to storage; give a destination "
                    "such as 's3://bucket/images/' (image bytes never go in XCom)"
                )

    # -- before anything is sent ---------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        request: ImageRequest = self.request  # validated, before the task state store or the API is touched
        with task_outcome(), naming_the_task(self, running=True):
            if request.response_format == "b64_json":
                if not self.destination:
                    raise EmpirioLabsRequestError(
                        "destination: response_format='b64_json' needs a destination to write the images to "
                        "(image bytes never go in XCom); nothing was sent"
                    )
                from airflow_provider_empiriolabs.transfers._commit import check_destination

                check_destination(self._destination_root(), self.dest_conn_id)  # writable, before paying
            if request.sync and not self.wait_for_completion:
                raise EmpirioLabsRequestError(
                    "wait_for_completion: a held request (sync=True) answers with its images, so it always "
                    "waits; leave wait_for_completion=True or drop sync; nothing was sent"
                )
        return super().execute(context)

    def _destination_root(self) -> ObjectStoragePath:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(str(self.destination), conn_id=self.dest_conn_id)

    # -- what differs from the job path (see _job_operator) --------------------------------------

    def _post(self, request: ImageRequest, guard: SendGuard, context: Context) -> str | Job:
        if not request.sync:
            return super()._post(request, guard, context)
        answer = self.hook.submit_held(request, guard=guard)
        if answer.job_id is not None:  # the API made a job of it after all: polled like any other
            return answer.job_id
        self._held = answer
        for url in answer.urls:  # signed: masked in this task's logs, as a polled job's are
            mask_signed_url(url)
        return Job(
            job_id=f"{HELD_JOB_PREFIX}{secrets.token_hex(12)}",
            status=JobStatus.SUCCEEDED,
            raw_status="completed",
            output_urls=list(answer.urls),
            cost_usd=answer.cost_usd,
        )

    def _summary(self, job: Job) -> dict[str, Any]:
        held = self._held
        stored = self._store(job.job_id, held.images) if held is not None and held.images else []
        cost = job.cost_usd if job.cost_usd is not None else self.request.estimated_cost_usd()
        return {
            "job_id": job.job_id,
            "status": job.raw_status,
            "media": "image",
            "output_urls": list(job.output_urls),
            "stored_uris": stored,
            "image_count": len(job.output_urls) + len(stored),
            "cost_usd": cost,
        }

    def _render_key(self) -> RenderKey:
        return RenderKey(self.request.model, "image", float(self.request.image_count))

    # -- b64_json images to storage -------------------------------------------------------------

    def _store(self, job_id: str, images: Sequence[bytes]) -> list[str]:
        """
        Write each image whole under ``destination`` (committed as the transfer commits a video); their URIs.

        Each write is tried :data:`STORE_ATTEMPTS` times (a storage hiccup is retried, never the paid
        request); an image that still cannot be written fails the task without retries, saying so.
        """
        import tenacity

        from airflow_provider_empiriolabs.transfers._commit import storage_uri

        def say_why(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            self.log.warning(
                "Writing an image to %s failed (%s); attempt %d of %d in %.1f s",
                storage_uri(state.args[0]),
                type(error).__name__,
                state.attempt_number + 1,
                STORE_ATTEMPTS,
                state.upcoming_sleep,
            )

        # Any error of a write is worth another try (tenacity's default): the bytes are ours and a
        # failed write leaves nothing at the final name, so a try costs nothing and sends nothing.
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(STORE_ATTEMPTS),
            wait=tenacity.wait_exponential(multiplier=STORE_BACKOFF_SECONDS, max=10),
            before_sleep=say_why,
            reraise=True,
        )
        root = self._destination_root()
        uris: list[str] = []
        for index, image in enumerate(images):
            container = sniff_container(image[:MAGIC_BYTES_NEEDED]) or "png"
            extension = "jpg" if container == "jpeg" else container
            target = root / job_id / f"{index}.{extension}"
            try:
                retrying(self._write, target, image)
            except Exception as error:
                # The outputs are gone (they existed only in the answer): no retry of the task can fix that.
                raise task_failure(ErrorKind.OUTPUT_GONE, _not_stored(index, images, target, uris, error)) from error
            uris.append(storage_uri(target))
            self.log.info(
                "Wrote image %d of %d (%s, %s bytes) to %s",
                index + 1,
                len(images),
                IMAGE_CONTAINERS.get(container, container),
                f"{len(image):,}",
                uris[-1],
            )
        return uris

    def _write(self, target: ObjectStoragePath, image: bytes) -> None:
        """One attempt to write an image whole at ``target``: nothing is left at the final name if it fails."""
        from airflow_provider_empiriolabs.transfers._commit import PendingObject

        target.parent.mkdir(parents=True, exist_ok=True)
        pending = PendingObject(target, DEFAULT_WRITE_BLOCK_SIZE, self.log)
        pending.open()
        try:
            pending.write(image)
            pending.commit(len(image))
        except BaseException:
            pending.discard()
            raise


def _not_stored(
    index: int, images: Sequence[bytes], target: ObjectStoragePath, written: Sequence[str], error: Exception
) -> str:
    """What the task says when a paid ``b64_json`` image cannot be written: what is lost, what a retry does."""
    from airflow_provider_empiriolabs.transfers._commit import storage_uri

    kept = f"; {len(written)} written before it: {', '.join(written)}" if written else "; none was written"
    return (
        f"The held image request was paid and answered with {len(images)} image(s) as b64_json, but image "
        f"{index + 1} could not be written to {storage_uri(target)} after {STORE_ATTEMPTS} attempts "
        f"({type(error).__name__}: {redact_log_text(str(error))[:300]}){kept}. The images existed only in that "
        "answer, so those not written are lost. The task fails without retries, and a retry or clear of it will "
        "not send the request again (it is not paid twice); to pay for new images, clear it with regenerate=True"
    )
