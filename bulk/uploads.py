"""Receiving uploads over HTTP without holding more than a kind's limit in memory."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from .registry import all_kinds

# Room for the multipart envelope and the other form fields around the file.
FORM_OVERHEAD = 64 * 1024


def largest_limit() -> int:
    return max(kind.max_bytes for kind in all_kinds())


class CappedUploadHandler(FileUploadHandler):
    """Keeps an uploaded file in memory up to ``limit`` bytes; a larger file is skipped, not stored.

    The skipped field's name is remembered so the view can answer "The file size must be …".
    """

    def __init__(self, request: Any = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = limit or largest_limit()
        self.too_large: set[str] = set()
        self._buffer = io.BytesIO()
        self._size = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._buffer = io.BytesIO()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._size += len(raw_data)
        if self._size > self.limit:
            self.too_large.add(self.field_name)
            raise SkipFile()
        self._buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self._buffer.seek(0)
        return InMemoryUploadedFile(
            file=self._buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
