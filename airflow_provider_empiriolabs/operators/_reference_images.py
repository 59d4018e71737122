"""
Reference images from anywhere: object storage URLs and local files, uploaded before the job.

The API takes an image as an http(s) URL or as a path returned by ``POST /v1/files/upload``
(``bunny://...``). Users keep their reference images in buckets and on disks, so the generate
operator also accepts ``s3://``, ``gs://``, ``abfs://``, ``file://`` (any scheme an installed
provider registers with ``ObjectStoragePath``) and absolute local paths. Those are uploaded, and
the returned paths sent instead; an http(s) URL or a ``bunny://`` path is sent as it is.

The order of things matters because every accepted job is billed:

1. :func:`with_stand_ins` swaps each to-be-uploaded reference for a stand-in, so the whole request
   (image count per mode, ``characterN`` references, cost cap...) is validated before any upload;
2. :class:`ReferenceImageUploader` uploads, only when a job is about to be submitted (a retry that
   reattaches to its job uploads nothing), each file streamed from storage after a size check and a
   look at its first bytes (images only);
3. the request is sent with the returned paths.

Nothing heavier than the standard library is imported at DAG parse time: ``ObjectStoragePath`` and
the storage filesystems load when a task uploads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_empiriolabs._templating import is_template
from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import VideoRequest
from airflow_provider_empiriolabs.redaction import redact_url

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook

__all__ = [
    "IMAGE_SIGNATURES",
    "MAX_IMAGE_BYTES",
    "STAND_IN_PREFIX",
    "EmpirioLabsReferenceImageError",
    "ReferenceImageUploader",
    "content_digests",
    "is_sent_as_is",
    "needs_upload",
    "with_stand_ins",
    "with_uploaded_images",
]

#: The largest reference image uploaded (20 MiB). The API documents no limit; this is the one its
#: upload endpoint is modelled with, and far above what a reference still needs.
MAX_IMAGE_BYTES = 20 * 1024 * 1024

#: What a to-be-uploaded image is replaced by while the request is validated. Never sent.
STAND_IN_PREFIX = "bunny://pending-upload/"

#: Image formats by their first bytes. The upload is refused unless the file starts like one of
#: these: the generation endpoints take images only, and a wrong file costs a failed job.
IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_SNIFF_BYTES = 16
_SENT_AS_IS = re.compile(r"^(https?|bunny)://", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


class EmpirioLabsReferenceImageError(EmpirioLabsRequestError):
    """A reference image cannot be used (not an image, too large, not a usable location); nothing was sent."""


def is_sent_as_is(ref: str) -> bool:
    """Whether the API takes this reference directly: an http(s) URL or an uploaded ``bunny://`` path."""
    return bool(_SENT_AS_IS.match(ref.strip()))


def needs_upload(ref: Any) -> bool:
    """
    Whether this reference is a file to upload first: a storage URL or an absolute local path.

    Anything else (a relative path, a bare word, Jinja text) is left for the request's own
    validation to refuse, or for rendering to resolve.
    """
    if not isinstance(ref, str) or is_template(ref):
        return False
    text = ref.strip()
    return not is_sent_as_is(text) and (bool(_SCHEME.match(text)) or text.startswith(("/", "~")))


def with_stand_ins(images: Any) -> Any:
    """
    The images with each to-be-uploaded one replaced by a stand-in path, for validation.

    Anything only known at run time (Jinja text, an XComArg) is returned unchanged, so a templated
    field stays recognisable as one when the DAG is parsed.

    :param images: the operator's ``images`` argument: ``None``, one reference or a list of them.
    """
    if isinstance(images, str):
        return f"{STAND_IN_PREFIX}0" if needs_upload(images) else images
    if isinstance(images, (list, tuple)):
        return [f"{STAND_IN_PREFIX}{n}" if needs_upload(ref) else ref for n, ref in enumerate(images)]
    return images


def sniff_image_type(head: bytes) -> str | None:
    """The image media type the first bytes announce, or ``None`` when they are not an image's."""
    for signature, content_type in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _uri(ref: str) -> str:
    """A to-be-uploaded reference as a URL: local paths must be absolute (not the worker's working directory)."""
    text = ref.strip()
    if not _SCHEME.match(text):
        if not text.startswith(("/", "~")):
            raise EmpirioLabsReferenceImageError(
                f"images: {text!r} is neither a URL nor an absolute path; give an https URL, a storage "
                "URL (s3://, gs://, abfs://, file://) or an absolute local path"
            )
        from pathlib import Path

        text = Path(text).expanduser().as_uri()
    return text


def locate(ref: str, conn_id: str | None) -> ObjectStoragePath:
    """
    The ``ObjectStoragePath`` of a to-be-uploaded reference (its scheme not checked yet).

    A conn id in the URL wins over ``conn_id``.
    """
    from airflow.sdk import ObjectStoragePath

    text = _uri(ref)
    path = ObjectStoragePath(text)
    if path.conn_id is None and conn_id and path.protocol not in ("file", "local", ""):
        path = ObjectStoragePath(text, conn_id=conn_id)
    return path


def content_digests(rendered: Any, conn_id: str | None, max_bytes: int = MAX_IMAGE_BYTES) -> list[str | None]:
    """
    The sha256 of each reference image read from storage (``None`` for one sent as it is).

    Changed bytes under an unchanged path are another request. A file that cannot be read (gone,
    too large, no filesystem) gets a marker instead of a digest, never the same one twice by
    accident: its request then matches no earlier one, and the upload reports the error.

    :param rendered: the operator's ``images`` as rendered: a list, or one reference.
    :param conn_id: the connection for storage URLs that name none themselves.
    :param max_bytes: read no more than this (the upload refuses larger files anyway).
    """
    import hashlib
    import secrets

    images = [rendered] if isinstance(rendered, str) else list(rendered) if isinstance(rendered, (list, tuple)) else []
    digests: list[str | None] = []
    for ref in images:
        if not needs_upload(ref):
            digests.append(None)
            continue
        digest, size = hashlib.sha256(), 0
        try:
            with locate(ref, conn_id).open("rb") as handle:
                while size <= max_bytes and (chunk := handle.read(1024 * 1024)):
                    digest.update(chunk)
                    size += len(chunk)
        except Exception as error:
            digests.append(f"unreadable:{type(error).__name__}:{secrets.token_hex(8)}")
            continue
        digests.append(digest.hexdigest() if size <= max_bytes else f"too-large:{secrets.token_hex(8)}")
    return digests


class ReferenceImageUploader:
    """
    Upload the reference images that are files, return the list the API accepts.

    :param hook: the EmpirioLabs hook whose ``upload_file`` sends each file (``POST /v1/files/upload``).
    :param conn_id: Airflow connection for storage URLs that name none themselves
        (``s3://conn@bucket/key`` names ``conn``); ``None`` for local files or the filesystem's defaults.
    :param max_bytes: refuse, before uploading anything, a file larger than this.
    :param log: where each upload is reported (sources redacted).
    """

    def __init__(
        self, hook: EmpirioLabsHook, *, conn_id: str | None, max_bytes: int = MAX_IMAGE_BYTES, log: Any
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes: must be positive (got {max_bytes!r})")
        self.hook = hook
        self.conn_id = conn_id or None
        self.max_bytes = max_bytes
        self.log = log

    def path_of(self, ref: str) -> ObjectStoragePath:
        """
        The ``ObjectStoragePath`` of a to-be-uploaded reference.

        A conn id in the URL wins over ``conn_id``; a local path must be absolute (a relative one
        would depend on the worker's working directory).
        """
        path = locate(ref, self.conn_id)
        self._check_scheme(path, shown=redact_url(_uri(ref), keep_user=True))
        return path

    @staticmethod
    def _check_scheme(path: ObjectStoragePath, shown: str) -> None:
        """Refuse a scheme no installed provider (or ``attach``) gives a filesystem for, naming it."""
        from airflow.sdk.io import attach

        scheme = path.protocol or "file"
        try:
            _ = attach(scheme, path.conn_id).fs  # the lookup ObjectStoragePath itself makes
        except ValueError as error:
            raise EmpirioLabsReferenceImageError(
                f"images: {shown} cannot be read: {error} (install the Airflow provider "
                f"for {scheme}:// or give an https URL)"
            ) from None

    def check(self, ref: str) -> tuple[ObjectStoragePath, int, str]:
        """Locate one file and check it (exists, size, image bytes) without uploading it."""
        path = self.path_of(ref)
        shown = redact_url(str(path), keep_user=True)
        if not path.is_file():
            raise FileNotFoundError(f"images: reference image {shown} does not exist (or is not a file)")
        size = int(path.stat().st_size)
        if size == 0:
            raise EmpirioLabsReferenceImageError(f"images: reference image {shown} is empty")
        if size > self.max_bytes:
            raise EmpirioLabsReferenceImageError(
                f"images: reference image {shown} is {size:,} bytes; the limit is {self.max_bytes:,}"
            )
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        content_type = sniff_image_type(head)
        if content_type is None:
            raise EmpirioLabsReferenceImageError(
                f"images: {shown} is not a PNG, JPEG, WebP, GIF or BMP image (by its first bytes); "
                "only images can be references"
            )
        return path, size, content_type

    def resolve(self, images: Sequence[str]) -> list[str]:
        """
        The references to send: URLs unchanged, every file uploaded and replaced by its path.

        Every file is checked before the first one is uploaded, so a bad third image does not
        leave two uploads behind. Call it once per submission: each call uploads again.

        :param images: the rendered references, in order (the order is kept).
        """
        checked = {n: self.check(ref) for n, ref in enumerate(images) if needs_upload(ref)}
        resolved = list(images)
        for n, (path, size, content_type) in checked.items():
            shown = redact_url(str(path), keep_user=True)
            with path.open("rb") as handle:
                stored = self.hook.upload_file(handle, path.name or f"image-{n}", content_type)
            self.log.info(
                "Uploaded reference image %d of %d (%s, %s bytes, %s) as %s",
                n + 1,
                len(images),
                shown,
                f"{size:,}",
                content_type,
                stored.path,
            )
            resolved[n] = stored.path
        return resolved


def with_uploaded_images(
    request: VideoRequest, rendered: Any, hook: EmpirioLabsHook, conn_id: str | None, log: Any
) -> VideoRequest:
    """
    The request with its file images uploaded: only on submission, never on a reattaching retry.

    :param request: the validated request, its file images still stand-ins.
    :param rendered: the operator's ``images`` as rendered: a list, or one reference.
    :param hook: the account's hook, which uploads.
    :param conn_id: the connection for storage URLs that name none themselves.
    :param log: the task's logger.
    """
    images = [rendered] if isinstance(rendered, str) else list(rendered or [])
    if not any(needs_upload(ref) for ref in images):
        return request
    uploader = ReferenceImageUploader(hook, conn_id=conn_id, log=log)
    # Validated again: the paths the API gave back are answers from the network.
    return type(request).model_validate({**request.model_dump(), "images": uploader.resolve(images)})
