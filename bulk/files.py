"""A job's stored files, its original and its results file: where they go, their downloads, their
deletion.

Files are reached only through ``default_storage`` and by name, never by a local path, so that every
web node and worker sees the same files whether the storage is a local disk or an S3-compatible
bucket (CERTDESK_STORAGE). Templates and examples are not stored: ``bulk.samples`` makes them on
the fly.
"""

from __future__ import annotations

import logging
from pathlib import PurePath
from typing import Protocol, cast

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseBase, HttpResponseRedirect

from base.downloads import attachment

from .models import Job

log = logging.getLogger(__name__)

RESULTS_CONTENT_TYPE = "text/csv"
# An original file is served as the format it was read as (the intake accepts no other extension);
# the same file is given the same type on every server, whatever its mime.types says.
ORIGINAL_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
OTHER_CONTENT_TYPE = "application/octet-stream"


def original_content_type(filename: str) -> str:
    return ORIGINAL_CONTENT_TYPES.get(PurePath(filename).suffix.lower(), OTHER_CONTENT_TYPE)


class _Presigning(Protocol):
    """What an S3 storage's ``url`` takes beyond Django's (django-storages' ``S3Storage.url``)."""

    def url(self, name: str, parameters: dict[str, str] | None = None, expire: int | None = None) -> str: ...


def job_folder(job: Job) -> str:
    """The folder (or key prefix) that holds every file of a job: ``jobs/<id>/``."""
    return f"jobs/{job.pk}/"


def results_filename(job: Job) -> str:
    """The name a results file is saved as on the user's side."""
    return f"job-{job.pk}-results.csv"


def results_download(job: Job) -> HttpResponseBase:
    """The job's results file as a download; the caller has checked that the user may see the job."""
    return _download(str(job.results_file.name), results_filename(job), RESULTS_CONTENT_TYPE)


def original_download(job: Job) -> HttpResponseBase:
    """The job's original file as uploaded, under its uploaded name; the caller has checked access."""
    return _download(
        str(job.original_file.name), job.original_filename, original_content_type(job.original_filename)
    )


def _download(name: str, filename: str, content_type: str) -> HttpResponseBase:
    """A stored file, streamed through certdesk; or, with CERTDESK_S3_PRESIGNED_DOWNLOADS, a redirect
    to a signed URL of the storage that lasts CERTDESK_S3_PRESIGNED_SECONDS and names the file."""
    if not name or not default_storage.exists(name):
        log.warning("A download asked for %r, which the storage no longer holds", name)
        raise Http404("This file is no longer kept.")
    if settings.CERTDESK_S3_PRESIGNED_DOWNLOADS:
        parameters = {
            "ResponseContentDisposition": attachment(filename),
            "ResponseContentType": content_type,
        }
        storage = cast(_Presigning, default_storage)
        url = storage.url(name, parameters=parameters, expire=settings.CERTDESK_S3_PRESIGNED_SECONDS)
        response = HttpResponseRedirect(url)
        # The URL lets anyone holding it read the file until it expires: no cache may keep it.
        response["Cache-Control"] = "no-store"
        return response
    return FileResponse(
        default_storage.open(name, "rb"), as_attachment=True, filename=filename, content_type=content_type
    )


def delete_job_files(job: Job) -> list[str]:
    """Delete a job's original and results file from the storage, with anything else left in its
    folder; a file already gone is no error. The job's row is not changed. Returns the names deleted.

    Call it once the job's deletion has committed (``transaction.on_commit``): a file cannot be put
    back when a transaction rolls back."""
    names = {str(name) for name in (job.original_file.name, job.results_file.name) if name}
    # The files the job names go first, so that a storage that refuses listing still loses them.
    for name in sorted(names):
        default_storage.delete(name)
    folder = job_folder(job)
    try:
        _, found = default_storage.listdir(folder)
    except FileNotFoundError:  # local disk: the folder is gone (a bucket answers with no keys)
        found = []
    left = sorted({folder + name for name in found} - names)
    for name in left:
        default_storage.delete(name)
    return sorted(names | set(left))


def delete_files_of(jobs: list[Job]) -> None:
    """After the jobs' deletion has committed: their files, job by job; a storage outage leaves a
    job's files behind (logged), never the others'."""
    for job in jobs:
        try:
            delete_job_files(job)
        except Exception:
            log.exception("Job %s: could not delete its files", job.pk)
