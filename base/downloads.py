"""Answers that are downloads: one way to name the file, for every page and endpoint."""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpResponse, HttpResponseBase
from django.utils.http import content_disposition_header

Response = TypeVar("Response", bound=HttpResponseBase)


def attachment(filename: str) -> str:
    """The Content-Disposition of a file to save as ``filename`` (RFC 6266; a name that is not plain
    ASCII is sent in the RFC 5987 form, which every browser reads)."""
    return str(content_disposition_header(as_attachment=True, filename=filename))


def as_download(response: Response, filename: str) -> Response:
    """Mark ``response`` as a file to save as ``filename``."""
    response["Content-Disposition"] = attachment(filename)
    return response


def download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    """A file built in memory (a template, an example, an export), to save as ``filename``."""
    return as_download(HttpResponse(content, content_type=content_type), filename)
