"""Writing a job's rows in bulk: one multi-row statement per few thousand rows, not one per row."""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection

from .kinds.base import StagedRow
from .lookups import execute, in_values, table
from .models import Job, JobRow

# Rows per INSERT statement: the whole batch travels as one parameter.
INSERT_BATCH = 10_000
COLUMNS = ("seq", "row_number", "cells", "key", "user_id", "target_id", "data", "outcome", "message")


def insert_rows(job_id: int, rows: Sequence[StagedRow]) -> None:
    """Insert the staged rows of a job: one INSERT … SELECT per 10,000 rows.

    The rows travel as arrays (PostgreSQL, ``unnest``) or as one JSON document (SQLite,
    ``json_each``): far cheaper than a statement per row, even batched with executemany.
    """
    q = connection.ops.quote_name
    target = f"{table(JobRow)} (job_id, {', '.join(q(c) for c in COLUMNS)})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            batch = rows[start : start + INSERT_BATCH]
            # One JSON document per batch: psycopg would adapt nine arrays element by element.
            document = json.dumps(
                [
                    [
                        r.seq,
                        r.row_number,
                        r.cells,
                        r.key[:200],
                        r.user_id,
                        r.target_id,
                        r.data,
                        r.outcome,
                        r.message,
                    ]
                    for r in batch
                ],
                ensure_ascii=False,
            )
            if connection.vendor == "postgresql":
                picks = (
                    "(e->>0)::int, (e->>1)::int, e->2, e->>3, (e->>4)::bigint, (e->>5)::bigint, "
                    "NULLIF(e->6, 'null'::jsonb), e->>7, e->>8"
                )
                source = "jsonb_array_elements(%s::jsonb) e"
            else:
                picks = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(COLUMNS)))
                source = "json_each(%s)"
            cursor.execute(f"INSERT INTO {target} SELECT %s, {picks} FROM {source}", [job_id, document])


def mark_rows(job: Job, lo: int, hi: int, user_ids: Sequence[int], outcome: str, message: str = "") -> int:
    """Give the pending rows of a chunk that name one of ``user_ids`` their outcome, in one UPDATE."""
    if not user_ids:
        return 0
    named, users_param = in_values("user_id", user_ids)
    return execute(
        f"UPDATE {table(JobRow)} SET outcome = %s, message = %s WHERE job_id = %s AND seq >= %s AND seq < %s "
        f"AND outcome = 'pending' AND {named}",
        [outcome, message, job.pk, lo, hi, users_param],
    )


def mark_seqs(job: Job, seqs: Sequence[int], outcome: str) -> int:
    """Give the pending rows ``seqs`` of a job their outcome, in one UPDATE; a row keeps its message."""
    if not seqs:
        return 0
    named, seqs_param = in_values("seq", seqs, "integer")
    return execute(
        f"UPDATE {table(JobRow)} SET outcome = %s WHERE job_id = %s AND outcome = 'pending' AND {named}",
        [outcome, job.pk, seqs_param],
    )
