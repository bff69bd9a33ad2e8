"""Writing a job's rows in bulk: one multi-row statement per few thousand rows, not one per row."""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.db import connection

from base.sql import execute, fetch, in_values, json_text, keyed_rows, table

from .kind import StagedRow
from .models import Job, JobRow

# On SQLite, rows per INSERT statement (each binds 9 values a row, well below SQLite's limit of 32,766
# parameters), and rows whose parameters are built at a time.
SQLITE_BATCH = 500
INSERT_BATCH = 10_000
COLUMNS = ("seq", "row_number", "cells", "key", "user_id", "target_id", "data", "outcome", "message")


def insert_rows(job_id: int, rows: Sequence[StagedRow]) -> None:
    """Insert the staged rows of a job: a few multi-row statements, never one per row.

    PostgreSQL takes them by COPY. SQLite runs one prepared INSERT … VALUES of 500 rows per batch:
    binding values is several times faster than extracting nine of them from each element of a JSON
    document.
    """
    if connection.vendor == "postgresql":
        _insert_rows_copy(job_id, rows)
    else:
        _insert_rows_values(job_id, rows)


def _data_encoder() -> Callable[[Any], str | None]:
    """A row's data as JSON text (None for none). A kind often stages one data object for many rows
    (the same terms, "send an email"): each object is encoded once, while the rows hold it."""
    data_json: dict[int, str] = {}

    def encoded(data: Any) -> str | None:
        if data is None:
            return None
        text = data_json.get(id(data))
        if text is None:
            text = data_json[id(data)] = json_text(data)
        return text

    return encoded


def _values(r: StagedRow, encoded: Callable[[Any], str | None]) -> tuple[Any, ...]:
    """A staged row's values, in the order of ``COLUMNS``."""
    return (
        r.seq,
        r.row_number,
        json_text(r.cells),
        r.key[:200],
        r.user_id,
        r.target_id,
        encoded(r.data),
        r.outcome,
        r.message,
    )


def _insert_rows_values(job_id: int, rows: Sequence[StagedRow]) -> None:
    q = connection.ops.quote_name
    target = f"{table(JobRow)} (job_id, {', '.join(q(c) for c in COLUMNS)})"
    # The job's id is an integer: written into the statement, it saves a parameter per row.
    one_row = f"({int(job_id)}, " + ", ".join(["%s"] * len(COLUMNS)) + ")"
    encoded = _data_encoder()

    def params(batch: Sequence[StagedRow]) -> list[Any]:
        return list(chain.from_iterable(_values(r, encoded) for r in batch))

    whole = len(rows) - len(rows) % SQLITE_BATCH
    full = f"INSERT INTO {target} VALUES " + ", ".join([one_row] * SQLITE_BATCH)
    with connection.cursor() as cursor:
        # One statement of SQLITE_BATCH rows, prepared once and run for each full batch; the
        # parameters of INSERT_BATCH rows at a time.
        for start in range(0, whole, INSERT_BATCH):
            stop = min(start + INSERT_BATCH, whole)
            cursor.executemany(
                full, [params(rows[at : at + SQLITE_BATCH]) for at in range(start, stop, SQLITE_BATCH)]
            )
        if whole < len(rows):
            cursor.execute(
                f"INSERT INTO {target} VALUES " + ", ".join([one_row] * (len(rows) - whole)),
                params(rows[whole:]),
            )


def _insert_rows_copy(job_id: int, rows: Sequence[StagedRow]) -> None:
    q = connection.ops.quote_name
    target = f"{table(JobRow)} (job_id, {', '.join(q(c) for c in COLUMNS)})"
    encoded = _data_encoder()
    with connection.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        write = copy.write_row
        for r in rows:
            write((job_id, *_values(r, encoded)))


def copy_succeeded_rows(from_job_id: int, to_job_id: int) -> int:
    """Stage, for a restore job, the rows another job succeeded on, in their order and numbered from 0:
    one INSERT … SELECT, so that a restore of 300,000 rows holds none of them in memory."""
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in ("row_number", "cells", "key", "user_id", "target_id", "data"))
    return execute(
        f"INSERT INTO {table(JobRow)} (job_id, {q('seq')}, {columns}, {q('outcome')}, {q('message')}) "
        f"SELECT %s, ROW_NUMBER() OVER (ORDER BY {q('seq')}) - 1, {columns}, 'pending', '' "
        f"FROM {table(JobRow)} WHERE job_id = %s AND {q('outcome')} = 'succeeded'",
        [to_job_id, from_job_id],
    )


def mark_rows(job: Job, lo: int, hi: int, user_ids: Sequence[int], outcome: str) -> int:
    """Give the pending rows of a chunk that name one of ``user_ids`` their outcome, in one UPDATE; a
    row keeps its message (a note, or none for the kind's default)."""
    if not user_ids:
        return 0
    named, users_param = in_values("user_id", user_ids)
    return execute(
        f"UPDATE {table(JobRow)} SET outcome = %s WHERE job_id = %s AND seq >= %s AND seq < %s "
        f"AND outcome = 'pending' AND {named}",
        [outcome, job.pk, lo, hi, users_param],
    )


def mark_chunk(
    job: Job,
    lo: int,
    hi: int,
    outcome: str,
    message: str | None = None,
    *,
    named_only: bool = False,
    except_seqs: Sequence[int] = (),
) -> int:
    """Give every pending row of a chunk its outcome, in one UPDATE: with ``named_only`` only the rows
    that name a user, and none of ``except_seqs``. A row keeps its message unless one is given."""
    conditions = ["job_id = %s", "seq >= %s", "seq < %s", "outcome = 'pending'"]
    params: list[Any] = [job.pk, lo, hi]
    if named_only:
        conditions.append("user_id IS NOT NULL")
    if except_seqs:
        named, seqs_param = in_values("seq", except_seqs, "integer")
        conditions.append(f"NOT ({named})")
        params.append(seqs_param)
    assignments = "outcome = %s" if message is None else "outcome = %s, message = %s"
    return execute(
        f"UPDATE {table(JobRow)} SET {assignments} WHERE {' AND '.join(conditions)}",
        [outcome, *([] if message is None else [message]), *params],
    )


def mark_seqs(job: Job, seqs: Sequence[int], outcome: str, message: str | None = None) -> int:
    """Give the pending rows ``seqs`` of a job their outcome, in one UPDATE; a row keeps its message
    unless one is given."""
    if not seqs:
        return 0
    named, seqs_param = in_values("seq", seqs, "integer")
    if message is None:
        return execute(
            f"UPDATE {table(JobRow)} SET outcome = %s WHERE job_id = %s AND outcome = 'pending' AND {named}",
            [outcome, job.pk, seqs_param],
        )
    return execute(
        f"UPDATE {table(JobRow)} SET outcome = %s, message = %s WHERE job_id = %s AND outcome = 'pending' "
        f"AND {named}",
        [outcome, message, job.pk, seqs_param],
    )


def mark_succeeded(job: Job, lo: int, hi: int, seqs: Sequence[int], pending: int) -> int:
    """Mark the rows ``seqs`` of a chunk succeeded, of its ``pending`` rows that name a user. When they
    are all of them, as they usually are, the UPDATE takes the chunk's range and names no row."""
    if len(seqs) == pending:
        return mark_chunk(job, lo, hi, JobRow.Outcome.SUCCEEDED, named_only=True)
    return mark_seqs(job, seqs, JobRow.Outcome.SUCCEEDED)


def set_data(job: Job, data: Sequence[tuple[int, Any]]) -> int:
    """Replace the data of the job's rows ``(seq, data)`` (what a run learnt that its undoing needs, such
    as a licence's values before an edit), in one UPDATE."""
    if not data:
        return 0
    value = "CAST(r.c1 AS jsonb)" if connection.vendor == "postgresql" else "r.c1"
    q = connection.ops.quote_name
    with keyed_rows([(seq, json_text(value)) for seq, value in data], ("bigint", "text")) as (rows, params):
        return execute(
            f"UPDATE {table(JobRow)} SET {q('data')} = {value} FROM {rows} r "
            f"WHERE job_id = %s AND {q('seq')} = r.c0",
            [*params, job.pk],
        )


@dataclass(frozen=True, slots=True)
class Keys:
    """What the rows of a job that name a user say about one key of theirs (a user, a (user,
    certification) pair …): how many rows name one, how many distinct keys, and how many distinct
    values of each part asked for."""

    rows: int
    keys: int
    distinct: tuple[int, ...] = ()

    @property
    def repeats(self) -> int:
        return self.rows - self.keys


def count_keys(job: Job, key: Sequence[str], distinct: Sequence[int] = ()) -> Keys:
    """Count the rows of a job that name a user by ``key``, SQL expressions over the row's columns
    (``user_id``, ``target_id`` …), and the distinct values of the parts ``distinct``: one query, in
    the database, however long the file; memory does not grow with it."""
    parts = ", ".join(f"{expression} AS k{n}" for n, expression in enumerate(key))
    grouped = ", ".join(f"k{n}" for n in range(len(key)))
    counted = "".join(f", COUNT(DISTINCT k{int(n)})" for n in distinct)
    found = fetch(
        f"SELECT COALESCE(SUM(n), 0), COUNT(*){counted} FROM (SELECT {parts}, COUNT(*) AS n "
        f"FROM {table(JobRow)} WHERE job_id = %s AND user_id IS NOT NULL GROUP BY {grouped}) keyed",
        [job.pk],
    )[0]
    return Keys(rows=int(found[0]), keys=int(found[1]), distinct=tuple(int(n) for n in found[2:]))


def mark_repeats(job: Job, key: Sequence[str], outcome: str, message: str) -> int:
    """Give every row of a job that names the same ``key`` as an earlier row (see ``count_keys``) the
    outcome and message given, and no data: one UPDATE. In ``message``, ``{first}`` is the row number
    of the first row with that key and ``{key}`` the repeating row's own key (its User ID, say)."""
    q = connection.ops.quote_name
    keyed = ", ".join(key)
    first = (
        f"SELECT id, {q('key')} AS typed, row_number, MIN(row_number) OVER (PARTITION BY {keyed}) AS first "
        f"FROM {table(JobRow)} WHERE job_id = %s AND user_id IS NOT NULL"
    )
    return execute(
        f"UPDATE {table(JobRow)} SET outcome = %s, message = {_text(message)}, {q('data')} = NULL "
        f"FROM (SELECT id, typed, first FROM ({first}) ranked WHERE row_number > first) r "
        f"WHERE {table(JobRow)}.id = r.id",
        [outcome, job.pk],
    )


def _text(template: str) -> str:
    """An SQL expression for ``template``, its ``{first}`` and ``{key}`` taken from the row ``r``."""
    columns = {"first": "CAST(r.first AS TEXT)", "key": "r.typed"}
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            # Quotes doubled for SQL, percent signs for the driver's parameter style.
            parts.append("'" + literal.replace("'", "''").replace("%", "%%") + "'")
        if name is not None:
            parts.append(columns[name])
    return " || ".join(parts) or "''"
