"""Writing a job's rows in bulk: one multi-row statement per few thousand rows, not one per row."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from django.db import connection

from .kinds.base import StagedRow
from .models import JobRow

INSERT_BATCH = 2000
_NEEDS_ESCAPING = re.compile(r'["\\\x00-\x1f\u2028\u2029]')


def _json_list(cells: list[str]) -> str:
    """json.dumps for a list of plain strings, with a fast path for the usual cells (no escaping)."""
    if not cells or _NEEDS_ESCAPING.search("".join(cells)):
        return json.dumps(cells, ensure_ascii=False)
    return '["' + '","'.join(cells) + '"]'


def insert_rows(job_id: int, rows: Sequence[StagedRow]) -> None:
    """Insert the staged rows of a job (set-based: ``executemany`` in batches)."""
    q = connection.ops.quote_name
    columns = (
        "job_id",
        "seq",
        "row_number",
        "cells",
        "key",
        "user_id",
        "target_id",
        "data",
        "outcome",
        "message",
    )
    json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    placeholders = ", ".join(json_param if c in ("cells", "data") else "%s" for c in columns)
    sql = (
        f"INSERT INTO {q(JobRow._meta.db_table)} ({', '.join(q(c) for c in columns)}) VALUES ({placeholders})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            cursor.executemany(
                sql,
                [
                    (
                        job_id,
                        r.seq,
                        r.row_number,
                        _json_list(r.cells),
                        r.key[:200],
                        r.user_id,
                        r.target_id,
                        None if r.data is None else json.dumps(r.data, ensure_ascii=False),
                        r.outcome,
                        r.message,
                    )
                    for r in rows[start : start + INSERT_BATCH]
                ],
            )
