"""Where jobs' files are kept: the ``STORAGES["default"]`` entry for each value of CERTDESK_STORAGE.

The settings read the environment and call these; the tests call ``s3_storage`` with their own
server's address, so the fixed options below are the ones they test.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

STORAGE_CHOICES = ("local", "s3")
ADDRESSING_STYLES = ("auto", "path", "virtual")
LOCAL_STORAGE: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "",
    access_key: str = "",
    secret_key: str = "",
    prefix: str = "",
    addressing_style: str = "",
    max_memory_bytes: int,
) -> dict[str, Any]:
    """django-storages' S3 backend on ``bucket``, private: every download passes certdesk first.

    Empty values are left to boto3's own defaults (its credential chain: an instance or task role,
    ``~/.aws``; the region of the profile; AWS itself as the endpoint)."""
    if not bucket:
        raise ImproperlyConfigured(
            "CERTDESK_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME: the bucket that keeps jobs' originals "
            "and results files."
        )
    if addressing_style and addressing_style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(
            f"AWS_S3_ADDRESSING_STYLE must be one of {', '.join(ADDRESSING_STYLES)}, not {addressing_style!r}"
        )
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url or None,
        "region_name": region or None,
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        # Keys under this prefix, so that one bucket can hold more than certdesk ("certdesk/jobs/1/…").
        "location": prefix.strip("/"),
        # No public URL ever: an object's URL is signed and short-lived, made only after certdesk's
        # permission check (CERTDESK_S3_PRESIGNED_DOWNLOADS).
        "querystring_auth": True,
        # No ACL header: objects are as private as the bucket (AWS's default), and a bucket whose
        # object ownership is "bucket owner enforced" refuses every upload that names an ACL.
        "default_acl": None,
        # A name already taken gets a suffix rather than replacing another job's file.
        "file_overwrite": False,
        # Signature version 4: the only one every region and S3-compatible server accepts, and the
        # one whose presigned URLs say how long they last (X-Amz-Expires).
        "signature_version": "s3v4",
        "addressing_style": addressing_style or None,
        # A file read through certdesk is held in memory up to this size, then on disk (0 would mean
        # in memory whatever its size).
        "max_memory_size": max(1, max_memory_bytes),
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


def storage_choice(value: str) -> str:
    """CERTDESK_STORAGE, checked."""
    if value not in STORAGE_CHOICES:
        raise ImproperlyConfigured(
            f"CERTDESK_STORAGE must be one of {', '.join(repr(c) for c in STORAGE_CHOICES)}, not {value!r}"
        )
    return value
