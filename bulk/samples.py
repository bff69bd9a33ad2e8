"""The template (header only) and example files offered for each job kind."""

from __future__ import annotations

import csv
import io

from .kinds.base import JobKind


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def template_csv(kind: JobKind) -> bytes:
    return _csv([[c.name for c in kind.columns]])


def example_csv(kind: JobKind) -> bytes:
    return _csv([[c.name for c in kind.columns], *kind.example_rows()])


def template_filename(kind: JobKind) -> str:
    return f"{kind.slug}-template.csv"


def example_filename(kind: JobKind) -> str:
    return f"{kind.slug}-example.csv"
