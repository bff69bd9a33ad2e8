"""Answers that are downloads: one way to name the file, for every page and endpoint."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

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


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]], every: int = 1000) -> Iterator[str]:
    """CSV text for a streamed download: the header, then ``every`` rows at a time, so that a file
    of a million rows is never held in memory at once. The caller neutralises formulas in its cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header)
    yield flush()
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % every == 0:
            yield flush()
    yield flush()
