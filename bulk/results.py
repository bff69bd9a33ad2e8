"""The results file: the uploaded rows in order, with Result and Message added."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Iterator
from typing import IO

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import connection

from base.cells import FORMULA_STARTS, neutralise
from base.sql import gc_paused

from .files import job_folder
from .models import Job, JobRow
from .registry import get_kind

# A results file up to this size is kept in memory while it is written; a larger one goes to disk.
SPOOL_BYTES = 4 * 1024 * 1024


def results_name(job: Job) -> str:
    """Where the results file is stored (a name in the storage, not a local path)."""
    return f"{job_folder(job)}results-{job.pk}.csv"


def render_results(job: Job) -> bytes:
    """The results CSV of a job as bytes: for tests and small jobs (``write_results`` streams)."""
    buffer = io.BytesIO()
    for block in results_blocks(job):
        buffer.write(block)
    return buffer.getvalue()


def results_blocks(job: Job) -> Iterator[bytes]:
    """The results CSV, a few thousand rows at a time (UTF-8 with BOM so spreadsheets read accents
    right): a job of 300,000 rows is never one string in memory."""
    kind = get_kind(job.kind)
    labels = kind.labels_for(job)
    default_messages = kind.messages_for(job)
    header = list(job.params.get("header") or [c.name for c in kind.columns])
    width = len(header)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([neutralise(h) for h in header] + ["Result", "Message"])
    q = connection.ops.quote_name
    sql = (
        f"SELECT {q('cells')}, {q('outcome')}, {q('message')} FROM {q(JobRow._meta.db_table)} "
        f"WHERE {q('job_id')} = %s ORDER BY {q('seq')}"
    )
    padding = [""] * width
    # (outcome, message) -> the Result and Message cells: a few distinct pairs cover most rows.
    tails: dict[tuple[str, str], list[str]] = {}
    # A server-side cursor on PostgreSQL: an ordinary one receives all of a 500,000-row job's rows at
    # once (60 MB), before the first batch is read.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [job.pk])
        while batch := cursor.fetchmany(5000):
            cells_of = [cells for cells, _, _ in batch]
            if isinstance(cells_of[0], str):
                # SQLite returns JSON as text: decode the batch in one call, not 5,000.
                cells_of = json.loads("[" + ",".join(cells_of) + "]")
            if any(len(cells) != width for cells in cells_of):
                cells_of = [(cells + padding)[:width] for cells in cells_of]
            # Cells are neutralised one by one only in a batch where some cell starts like a formula.
            if not FORMULA_STARTS.isdisjoint({c[:1] for cells in cells_of for c in cells}):
                cells_of = [[neutralise(c) for c in cells] for cells in cells_of]
            lines = []
            for cells, (_, outcome, message) in zip(cells_of, batch, strict=True):
                tail = tails.get((outcome, message))
                if tail is None:
                    tail = tails[(outcome, message)] = [
                        labels.get(outcome, outcome),
                        neutralise(message or default_messages.get(outcome, "")),
                    ]
                lines.append(cells + tail)
            writer.writerows(lines)
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_results(job: Job) -> None:
    """Render and store the results file, replacing an earlier one (a resumed job writes it again).

    It is written to a temporary file first (in memory while small), then saved through the storage."""
    digest = hashlib.sha256()
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        with gc_paused():
            for block in results_blocks(job):
                digest.update(block)
                size += len(block)
                spool.write(block)
        spool.seek(0)
        name = results_name(job)
        if default_storage.exists(name):
            default_storage.delete(name)
        job.results_file.name = default_storage.save(name, File(spool, name=name))
    job.results_size = size
    job.results_sha256 = digest.hexdigest()


def open_results(job: Job) -> IO[bytes]:
    """The stored results file, open for reading: wherever the storage keeps it."""
    return default_storage.open(str(job.results_file.name), "rb")
