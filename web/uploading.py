"""Receiving a job's file from a page: the size cap while the body arrives, then the engine's submit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from access.policy import NotAllowed
from base.problems import EMPTY_FILE, FileRejected, Problem
from bulk import services
from bulk.intake import too_large
from bulk.models import Job
from bulk.registry import get_kind
from bulk.uploads import CappedUploadHandler

FILE_FIELD = "file"


def cap_upload(request: HttpRequest, kind_slug: str) -> None:
    """Before anything reads the body: keep the file in memory up to the kind's limit only."""
    request.upload_handlers = [CappedUploadHandler(request, get_kind(kind_slug).max_bytes)]


@dataclass
class Upload:
    """What became of an upload: a job, or why not (the file's problems, the title's)."""

    job: Job | None = None
    rejected: FileRejected | None = None
    title_error: str = ""
    file_was_chosen: bool = False


def submit_upload(request: HttpRequest, kind_slug: str, *, title: str, **options: Any) -> Upload:
    """Validate the uploaded file as a job of ``kind_slug``; every problem is reported at once."""
    kind = get_kind(kind_slug)
    upload = request.FILES.get(FILE_FIELD)
    skipped = FILE_FIELD in getattr(request.upload_handlers[0], "too_large", ())
    result = Upload(file_was_chosen=bool(upload) or skipped)
    try:
        services.check_title(title)
    except services.JobInputError as exc:
        result.title_error = " ".join(p.message for p in exc.problems)
    if skipped:
        result.rejected = too_large(kind.max_bytes)
    elif upload is None or upload.file is None:
        result.rejected = FileRejected([Problem(EMPTY_FILE, "The file is empty: no file was chosen.")])
    if result.title_error or result.rejected or upload is None or upload.file is None:
        return result
    try:
        result.job = services.submit(
            kind.slug, upload.file, upload.name or "", actor=request.user, title=title, **options
        ).job
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.JobInputError as exc:
        result.title_error = " ".join(p.message for p in exc.problems)
    except FileRejected as exc:
        result.rejected = exc
    return result
