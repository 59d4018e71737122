"""
Copy EmpirioLabs outputs to durable storage (S3, GCS, Azure Blob, local files), streaming.

Output URLs die after 7 days and job state after 1 hour: a video that is not copied somewhere
durable is lost, and it was paid for. :class:`EmpirioLabsToObjectStorageOperator` is that copy.

The storage side goes only through Airflow's ``ObjectStoragePath`` and the filesystems the
Airflow providers register (``amazon`` for ``s3://``, ``google`` for ``gs://``,
``microsoft-azure`` for ``abfs://``); nothing here imports a storage library, and nothing heavier
than ``airflow.sdk`` is imported when a DAG file is parsed: httpx, tenacity, the hook and the
storage filesystems load when the task runs.

This module is the operator: which outputs, where, under which names, and what Airflow is told.
How one output is copied lives in private modules, one idea each:

* ``_copier``: the copy routine (``StreamingCopier``): download, verify, honour ``if_exists``,
  commit, read the size back;
* ``_download``: the HTTP download: ``Range`` resume, fresh URLs for expired ones, size limits,
  the total deadline; ``_body``: type, encoding and container checks;
* ``_commit``: how an object appears at its final name whole or not at all (uploads committed on
  close on S3, GCS and Azure; a temporary object renamed elsewhere);
* ``_output_trust`` and ``_guarded_http``: which URLs, redirects and addresses may be fetched;
* ``_sources``: the shapes ``output_urls`` may take; ``_lineage``: asset events and OpenLineage.

The transfer's errors are in :mod:`airflow_provider_empiriolabs.exceptions`
(:class:`~airflow_provider_empiriolabs.exceptions.EmpirioLabsTransferError` and its subclasses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from airflow.sdk import BaseOperator

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsOutputExpiredError,
    EmpirioLabsTransferError,
    naming_the_task,
)
from airflow_provider_empiriolabs.transfers._commit import check_destination, storage_uri
from airflow_provider_empiriolabs.transfers._copier import (
    DEFAULT_ALLOWED_CONTENT_TYPES,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_SIZE_BYTES,
    DEFAULT_WRITE_BLOCK_SIZE,
    CopyResult,
    IfExists,
    StreamingCopier,
    check_settings,
    check_timeout,
)
from airflow_provider_empiriolabs.transfers._download import DownloadSettings
from airflow_provider_empiriolabs.transfers._lineage import emit_asset_event, openlineage_facets, with_alias_outlet
from airflow_provider_empiriolabs.transfers._sources import parse_output_urls

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_empiriolabs.transfers._output_trust import OutputTrustPolicy

__all__ = ["CopyResult", "EmpirioLabsToObjectStorageOperator", "IfExists"]

DEFAULT_OBJECT_NAME = "{job_id}/{index}.mp4"
#: The default name of an image job's outputs: the extension is the URL's (``png``, ``jpeg``, ``webp``).
DEFAULT_IMAGE_OBJECT_NAME = "{job_id}/{index}.{ext}"
#: The media types an image job's outputs may have (and still no HTML nor JSON page).
IMAGE_CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp")
DEFAULT_ASSET_ALIAS = "empiriolabs_videos"


class EmpirioLabsToObjectStorageOperator(BaseOperator):
    """
    Copy the outputs of an EmpirioLabs job to durable storage, streaming, and verified.

    Give ``job_id`` (the job is fetched for its current output URLs, and fetched again should a
    URL have expired), or ``output_urls`` (for instance the generate operator's XCom summary), or
    both. Each output lands at ``destination`` / ``object_name``. Returns the destination URIs
    and emits them as Airflow asset events (through ``asset_alias``) and as OpenLineage datasets.

    Storage goes through ``ObjectStoragePath``: install the provider extra for the scheme
    (``amazon`` for ``s3://``, ``google`` for ``gs://``, ``azure`` for ``abfs://``; ``file://``
    needs nothing). It is imported when the task runs, never when the DAG file is parsed.

    :param destination: where outputs go, an ObjectStoragePath URL such as
        ``s3://bucket/videos/`` (templated).
    :param dest_conn_id: Airflow connection for the destination (``aws``, ``google_cloud_platform``,
        ``wasb`` ...); ``None`` for ``file://`` or the filesystem's own default credentials.
    :param job_id: the EmpirioLabs job whose outputs to copy (templated). Also lets an expired
        URL be replaced while the API still retains the job (1 hour after completion).
    :param output_urls: output URLs to copy, when they come from elsewhere (templated). A list,
        a single URL, a rendered list/JSON string, or a summary mapping with ``output_urls``
        (and ``job_id``, used unless ``job_id`` is given).
    :param object_name: name of each object under ``destination``, a ``str.format`` template
        with ``{job_id}``, ``{index}``, ``{filename}`` (last segment of the URL path), ``{stem}``
        and ``{ext}`` (templated, so Jinja works too). Default ``{job_id}/{index}.mp4``.
    :param if_exists: what to do when an object is already at the final name:
        ``skip_identical`` (default: keep it if it holds the same bytes, fail on different ones,
        so a rerun is harmless but nothing is silently clobbered), ``fail`` or ``replace``.
    :param empiriolabs_conn_id: the EmpirioLabs connection: used to fetch the job; its base URL
        decides whether plain-http output URLs may be followed (only for an http simulator), and its
        extras ``allowed_output_hosts`` (hosts or ``*.suffix`` patterns redirects may lead to and,
        once set, every host outputs may come from; the API's own host always may) and
        ``allow_private_output_hosts`` (follow hosts resolving to non-public addresses; the
        simulator's connection sets it) which hosts may serve outputs.
    :param max_size_bytes: refuse an output larger than this (default 2 GiB, far above a 15 s
        1080p video), so a wrong URL cannot fill the bucket.
    :param allowed_content_types: accepted media types; an HTML or JSON error page is not a video.
    :param chunk_size: bytes per network read and storage write; bounds the copy's memory.
    :param write_block_size: storage block size (the multipart part size on S3; at least 5 MiB
        there; default 8 MiB). Larger blocks mean fewer requests, smaller ones less memory.
    :param max_attempts: HTTP attempts per output before giving up on a broken download.
    :param retry_backoff_seconds: first wait between attempts; doubles each time (capped at 30 s).
    :param request_timeout_seconds: network timeout for each read (not for the whole download).
    :param download_timeout_seconds: total time one output may take, retries included, so a server
        that drips bytes cannot hold the task forever; ``None`` (default) derives it from the size:
        300 s plus the size at 256 KiB/s (~8 minutes for 50 MB).
    :param verify_container: refuse a body whose first bytes are not a video container (MP4/MOV,
        WebM/Matroska; PNG/JPEG/WebP too when ``allowed_content_types`` holds an ``image/`` type),
        whatever its ``Content-Type``. On by default: an error page is not a video.
    :param progress_interval_seconds: how often a long copy logs MB copied and MB/s.
    :param media: what the outputs are: ``video`` or ``image`` (PNG, JPEG and WebP are accepted as
        well, and named ``{job_id}/{index}.{ext}`` unless ``object_name`` says otherwise); ``None``
        (default) reads it from a summary given as ``output_urls`` (the image operator's says
        ``image``), else ``video``.
    :param asset_alias: name of the AssetAlias the destination URIs are emitted through (added to
        ``outlets``, also by ``.partial()`` for mapped tasks, so the DAG processor creates the alias
        once instead of concurrent task completions racing to), so downstream DAGs can be scheduled
        on the videos; ``None`` to emit nothing. Failing to record an event never fails a copy whose
        video landed: it is logged as a warning.
    """

    template_fields: Sequence[str] = ("job_id", "output_urls", "destination", "object_name", "dest_conn_id")
    ui_color = "#e6f0ff"

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """
        Like ``BaseOperator.partial``, with the asset alias declared in ``outlets`` at parse time.

        ``__init__`` adds the alias to ``outlets``, but a mapped task's ``__init__`` runs only on
        the worker: the serialized DAG then declares no alias, the DAG processor never creates it,
        and concurrent mapped completions each try to create it on the first event (a unique
        violation on Postgres that failed task instances whose video had landed). Declaring it
        here makes the DAG processor create it once, before any task runs.
        """
        alias = kwargs.get("asset_alias", DEFAULT_ASSET_ALIAS)
        if isinstance(alias, str) or alias is None:  # a mapped asset_alias cannot be known here
            with_alias_outlet(kwargs, alias)
        return super().partial(**kwargs)

    def __init__(
        self,
        *,
        destination: str,
        dest_conn_id: str | None = None,
        job_id: str | None = None,
        output_urls: Sequence[str] | str | Mapping[str, Any] | None = None,
        object_name: str = DEFAULT_OBJECT_NAME,
        if_exists: IfExists = "skip_identical",
        empiriolabs_conn_id: str = "empiriolabs_default",
        max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES,
        allowed_content_types: Sequence[str] = DEFAULT_ALLOWED_CONTENT_TYPES,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        write_block_size: int = DEFAULT_WRITE_BLOCK_SIZE,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 1.0,
        request_timeout_seconds: float = 60.0,
        download_timeout_seconds: float | None = None,
        verify_container: bool = True,
        progress_interval_seconds: float = 15.0,
        asset_alias: str | None = DEFAULT_ASSET_ALIAS,
        media: Literal["video", "image"] | None = None,
        **kwargs: Any,
    ) -> None:
        with_alias_outlet(kwargs, asset_alias)
        super().__init__(**kwargs)
        with naming_the_task(self):
            if not job_id and not output_urls:
                raise ValueError("give job_id (the job is fetched for its output URLs) or output_urls")
            if not destination:
                raise ValueError("destination is required, e.g. 's3://bucket/videos/' or 'file:///data/videos/'")
            check_settings(if_exists, max_size_bytes, chunk_size, write_block_size, max_attempts)
            check_timeout(download_timeout_seconds)
        self.destination = destination
        self.dest_conn_id = dest_conn_id
        self.job_id = job_id
        self.output_urls = output_urls
        self.object_name = object_name
        self.if_exists = if_exists
        self.empiriolabs_conn_id = empiriolabs_conn_id
        self.max_size_bytes = max_size_bytes
        self.allowed_content_types = tuple(allowed_content_types)
        self.chunk_size = chunk_size
        self.write_block_size = write_block_size
        self.max_attempts = max_attempts
        self.retry_backoff_seconds = retry_backoff_seconds
        self.request_timeout_seconds = request_timeout_seconds
        self.download_timeout_seconds = download_timeout_seconds
        self.verify_container = verify_container
        self.progress_interval_seconds = progress_interval_seconds
        self.asset_alias = asset_alias
        if media not in (None, "video", "image"):
            raise ValueError(f"media: must be 'video', 'image' or None (got {media!r})")
        self.media = media
        #: What the last ``execute`` did for each output (size, sha256, skipped...), in order.
        self.results: list[CopyResult] = []

    # -- execution ------------------------------------------------------------------------------

    def execute(self, context: Context) -> list[str]:
        """Copy every output; return the destination URIs in output order (errors no retry can fix fail the task)."""
        from airflow_provider_empiriolabs._outcome import task_outcome

        with task_outcome():
            return self._copy_all(context)

    def _copy_all(self, context: Context) -> list[str]:
        import httpx

        from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook, user_agent
        from airflow_provider_empiriolabs.transfers._guarded_http import OutputGuard

        hook = EmpirioLabsHook(empiriolabs_conn_id=self.empiriolabs_conn_id)
        root = self._destination_root()
        check_destination(root, self.dest_conn_id)  # before anything is fetched: the video stays safe at its URL
        job_id, urls = self._resolve_sources(hook)
        self._take_media()
        targets = [root / self._object_name(job_id, index, url) for index, url in enumerate(urls)]
        if len({storage_uri(t) for t in targets}) != len(targets):
            raise ValueError(f"object_name {self.object_name!r} gives several outputs the same name; include {{index}}")

        guard = OutputGuard(self._trust_policy(hook))
        timeout = httpx.Timeout(self.request_timeout_seconds, connect=min(self.request_timeout_seconds, 15.0))
        self.results = []
        # One User-Agent for all the provider's traffic, the API's and the downloads'.
        with guard.client(timeout=timeout, headers={"User-Agent": user_agent()}) as client:
            copier = StreamingCopier(
                client,
                self._download_settings(),
                if_exists=self.if_exists,
                write_block_size=self.write_block_size,
                log=self.log,
                guard=guard,
            )
            for index, (url, target) in enumerate(zip(urls, targets, strict=True)):
                refresh = self._refresher(hook, job_id, index) if job_id else None
                result = copier.copy(url, target, refresh_url=refresh)
                self.results.append(result)
                emit_asset_event(self.outlets, context, result, job_id, index, self.log)

        uris = [r.uri for r in self.results]
        copied = sum(not r.skipped for r in self.results)
        self.log.info(
            "%d output(s) in place (%d copied, %d identical already there): %s",
            len(uris),
            copied,
            len(uris) - copied,
            ", ".join(uris),
        )
        return uris

    def _take_media(self) -> None:
        """For image outputs: image types accepted too, and named by their own extension unless told otherwise."""
        summary = self.output_urls if isinstance(self.output_urls, Mapping) else {}
        media = self.media or ("image" if summary.get("media") == "image" else "video")
        if media != "image":
            return
        self.allowed_content_types = tuple(dict.fromkeys([*self.allowed_content_types, *IMAGE_CONTENT_TYPES]))
        if self.object_name == DEFAULT_OBJECT_NAME:
            self.object_name = DEFAULT_IMAGE_OBJECT_NAME

    def _download_settings(self) -> DownloadSettings:
        """The limits of each output's download, as this operator was given them."""
        return DownloadSettings(
            max_size_bytes=self.max_size_bytes,
            allowed_content_types=self.allowed_content_types,
            chunk_size=self.chunk_size,
            max_attempts=self.max_attempts,
            retry_backoff_seconds=self.retry_backoff_seconds,
            progress_interval_seconds=self.progress_interval_seconds,
            download_timeout_seconds=self.download_timeout_seconds,
            verify_container=self.verify_container,
        )

    def _trust_policy(self, hook: Any) -> OutputTrustPolicy:
        """
        The output-URL rules of the EmpirioLabs connection (its host and extras).

        Without the connection (only ``output_urls`` given, no EmpirioLabs connection defined) the
        production defaults apply: public https hosts only.
        """
        from airflow.sdk.exceptions import AirflowNotFoundException

        from airflow_provider_empiriolabs.transfers._output_trust import OutputTrustPolicy

        try:
            conn = hook.get_connection(self.empiriolabs_conn_id)
        except AirflowNotFoundException:
            conn = None
        return OutputTrustPolicy.from_connection(conn)

    def _resolve_sources(self, hook: Any) -> tuple[str | None, list[str]]:
        job_id = str(self.job_id).strip() if self.job_id else None
        urls: list[str] = []
        sealed: str | None = None
        if self.output_urls:
            summary_job_id, urls, sealed = parse_output_urls(self.output_urls)
            job_id = job_id or summary_job_id
        if job_id:
            from airflow_provider_empiriolabs.models import check_job_id

            job_id = check_job_id(job_id)  # it names objects: no "..", separators or control characters
        if sealed:
            urls = self._unsealed(hook, sealed, job_id)
        if not urls:
            if not job_id:
                raise ValueError("output_urls is empty and no job_id was given: nothing to copy")
            job = self._fetch_job(hook, job_id)
            urls = list(job.output_urls)
            if not urls:
                raise EmpirioLabsTransferError(f"job {job_id} succeeded but lists no output URL")
        self.log.info("Job %s: %d output(s) to copy", job_id or "(unknown)", len(urls))
        return job_id, urls

    def _unsealed(self, hook: Any, sealed: str, job_id: str | None) -> list[str]:
        """A summary's sealed URLs; if another key sealed them, the job's fresh ones (empty: fetched)."""
        from airflow_provider_empiriolabs.redaction import mask_signed_url
        from airflow_provider_empiriolabs.sealing import unseal

        try:
            urls = unseal(sealed, hook.settings.api_key)
        except ValueError as error:
            if not job_id:
                raise
            self.log.warning("%s: reading fresh output URLs from job %s instead", error, job_id)
            return []
        for url in urls:
            mask_signed_url(url)
        return urls

    @staticmethod
    def _fetch_job(hook: Any, job_id: str) -> Any:
        from airflow_provider_empiriolabs.exceptions import EmpirioLabsNotFoundError

        try:
            job = hook.get_job(job_id)
        except EmpirioLabsNotFoundError as error:
            raise EmpirioLabsOutputExpiredError(
                f"job {job_id} is unknown or past the API's retention (1 hour after completion; the API "
                f"said: {error}): its output URLs can no longer be fetched from the job; pass output_urls "
                "from the generate task's XCom instead (they stay valid 7 days)",
                status_code=404,
            ) from None
        if not job.status.is_success():
            raise EmpirioLabsTransferError(
                f"job {job_id} is {job.raw_status!r}, not finished successfully: nothing to copy yet "
                "(run this after the generate operator or sensor)"
            )
        return job

    def _refresher(self, hook: Any, job_id: str, index: int) -> Callable[[], str]:
        def refresh() -> str:
            job = self._fetch_job(hook, job_id)
            if index >= len(job.output_urls):
                raise EmpirioLabsOutputExpiredError(
                    f"job {job_id} now lists {len(job.output_urls)} output(s); output {index} is gone"
                )
            return str(job.output_urls[index])

        return refresh

    def _destination_root(self) -> ObjectStoragePath:
        from airflow.sdk import ObjectStoragePath

        destination = str(self.destination).strip()
        if "://" not in destination:
            raise ValueError(
                f"destination must be a URL with a scheme (s3://, gs://, abfs://, file://), got {destination!r}"
            )
        if not destination.endswith("/"):
            destination += "/"
        try:
            return ObjectStoragePath(destination, conn_id=self.dest_conn_id or None)
        except ValueError as error:
            scheme = destination.split("://", 1)[0]
            raise ValueError(
                f"destination: no filesystem handles {scheme}:// ({error}); use s3:// (extra [amazon]), "
                "gs:// ([google]), abfs:// ([azure]) or file://"
            ) from None

    def _object_name(self, job_id: str | None, index: int, url: str) -> str:
        filename = urlsplit(url).path.rsplit("/", 1)[-1] or f"{index}"
        stem, dot, ext = filename.rpartition(".")
        if not dot:
            stem, ext = filename, ""
        fields = {"index": index, "filename": filename, "stem": stem, "ext": ext}
        if job_id:
            fields["job_id"] = job_id
        try:
            name = str(self.object_name).format(**fields)
        except KeyError as err:
            hint = " (no job_id is known: pass job_id)" if err.args[0] == "job_id" else ""
            raise ValueError(
                f"object_name {self.object_name!r} uses {{{err.args[0]}}}{hint}; available: {sorted(fields)}"
            ) from None
        name = name.strip().lstrip("/")
        if not name or name.endswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
            raise ValueError(f"object_name {self.object_name!r} gives an invalid object name {name!r}")
        return name

    # -- lineage --------------------------------------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """
        Report the output URLs as inputs and the written objects as outputs, for OpenLineage.

        Only meaningful when the ``openlineage`` provider is installed (it calls this); it is not a
        dependency, so without it this returns ``None``.
        """
        return openlineage_facets(self.results)
