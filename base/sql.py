"""Set-based SQL helpers: a whole file's keys in one query, whatever their number.

A list of values travels as ONE parameter (a JSON array read by ``json_each`` on SQLite, an array
read by ``unnest`` on PostgreSQL), so there is no bound-parameter limit to batch around, and the
query plan does not depend on table statistics that a fresh job's rows do not have yet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import re
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from django.db import connection
from django.db.models import CharField, Expression


def json_text(value: Any) -> str:
    """``value`` as compact JSON text, non-ASCII kept as it is; sets and other iterables as arrays.
    orjson: a job's documents of 10,000 rows are encoded several times faster than by ``json``."""
    return orjson.dumps(value, default=list).decode()


def value_set(values: Sequence[Any], sql_type: str = "bigint") -> tuple[str, Any]:
    """A subquery yielding ``values`` as a column named ``value``, and the one parameter it takes.

    ``sql_type`` is "bigint" or "text". Use as ``… IN ({sql})`` or ``… FROM ({sql}) v``.
    """
    if sql_type not in ("bigint", "text"):
        raise ValueError(f"unsupported value set type {sql_type!r}")
    if connection.vendor == "postgresql":
        return f"SELECT unnest(%s::{sql_type}[]) AS value", pg_array(values)
    return "SELECT value FROM json_each(%s)", json_text(values)


def pg_array(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal ('{1,2}', '{"a","b"}'), built in one pass.

    psycopg adapts a Python list element by element through regular expressions: over a second
    for the arrays of one 1 MB file. A literal of ints or quoted strings costs a join.
    """
    if all(isinstance(v, int) for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    quoted = (
        "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values
    )
    return "{" + ",".join(quoted) + "}"


def in_values(column: str, values: Sequence[Any], sql_type: str = "bigint") -> tuple[str, Any]:
    """A condition "``column`` is one of ``values``" and its one parameter.

    On PostgreSQL this is ``= ANY(array)``, which it evaluates with a hash table; an IN over a
    subquery would be planned from the statistics of the other table, and a job's freshly written
    rows have none yet (a nested loop over 20,000 by 20,000 rows). ``sql_type`` must be the column's
    own type ("integer" for an IntegerField): PostgreSQL cannot hash an integer column against a
    bigint array, and checks the array element by element instead.
    """
    if connection.vendor == "postgresql":
        if sql_type not in ("bigint", "integer", "text"):
            raise ValueError(f"unsupported value set type {sql_type!r}")
        return f"{column} = ANY(%s::{sql_type}[])", pg_array(values)
    sql, param = value_set(values, "bigint" if sql_type == "integer" else sql_type)
    return f"{column} IN ({sql})", param


def as_date(value: Any) -> dt.date | None:
    """A date column's value as a raw query returns it: a date on PostgreSQL, ISO text on SQLite."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run a statement; returns the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file's rows are built.

    Tens of thousands of small lists and dicts, none of them in a cycle, make the collector run
    again and again over a growing heap: half the time of parsing a 1 MB file. Reference counting
    still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                # Whatever the block allocated and still holds would all be in the youngest generation,
                # and the first allocation after enable() would walk it (30 ms for a 50,000-row file's
                # rows). Moving it to the oldest generation unscanned is what surviving would do.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def json_item(column: str, index: int) -> str:
    """SQL for the element ``index`` of the JSON array in ``column``, as text (NULL where there is none)."""
    if connection.vendor == "postgresql":
        return f"({column} ->> {int(index)})"
    return f"json_extract({column}, '$[{int(index)}]')"


def tuple_set(rows: Sequence[Sequence[Any]], types: Sequence[str]) -> tuple[str, Any]:
    """A subquery yielding ``rows`` as columns ``c0``, ``c1`` …, and the one parameter it takes.

    ``types`` gives each column's SQL type ("bigint", "text", "date" as ISO text, or "boolean"). The
    rows travel as one JSON document, read by ``json_each`` (SQLite) or ``jsonb_array_elements``
    (PostgreSQL).
    """
    for sql_type in types:
        if sql_type not in ("bigint", "text", "date", "boolean"):
            raise ValueError(f"unsupported value set type {sql_type!r}")
    document = json_text(rows)
    if connection.vendor == "postgresql":
        picks = ", ".join(
            f"(e->>{n})::{sql_type} AS c{n}" if sql_type != "text" else f"e->>{n} AS c{n}"
            for n, sql_type in enumerate(types)
        )
        return f"SELECT {picks} FROM jsonb_array_elements(%s::jsonb) e", document
    picks = ", ".join(f"json_extract(value, '$[{n}]') AS c{n}" for n in range(len(types)))
    return f"SELECT {picks} FROM json_each(%s)", document


@contextlib.contextmanager
def keyed_rows(
    rows: Sequence[Sequence[Any]], types: Sequence[str], key: int = 1
) -> Iterator[tuple[str, list[Any]]]:
    """``rows`` (as ``tuple_set`` gives them, columns c0, c1, …) to join by their first ``key`` columns,
    unique together, in an UPDATE … FROM: the FROM item and its parameters. On PostgreSQL the subquery itself, which it
    hash-joins. On SQLite a temporary table keyed by those columns: its planner runs the target table's own
    condition (``job_id = %s``) in the outer loop and would read the whole JSON document again for each
    of its rows, 50,000 times 20,000 for the edits of one licence import (ten minutes)."""
    sql, param = tuple_set(rows, types)
    if connection.vendor != "sqlite":
        yield f"({sql})", [param]
        return
    columns = ", ".join(f"c{n}" for n in range(len(types)))
    # Typed as the columns they are compared with: SQLite uses an index only when affinities agree.
    declared = ", ".join(
        f"c{n} {'INTEGER' if sql_type in ('bigint', 'boolean') else 'TEXT'}"
        for n, sql_type in enumerate(types)
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS temp.certdesk_keyed_rows")
        primary = ", ".join(f"c{n}" for n in range(key))
        cursor.execute(f"CREATE TEMP TABLE certdesk_keyed_rows ({declared}, PRIMARY KEY ({primary}))")
        cursor.execute(f"INSERT INTO temp.certdesk_keyed_rows ({columns}) {sql}", [param])
    try:
        yield "temp.certdesk_keyed_rows", []
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS temp.certdesk_keyed_rows")


def limit_session(db: Any, *, idle_in_transaction_seconds: float, statement_seconds: float) -> None:
    """On PostgreSQL, end this connection's transaction when it sits idle that long, and any statement
    that runs longer; SQLite has neither, and is left alone."""
    if db.vendor != "postgresql":
        return
    with db.cursor() as cursor:
        cursor.execute(f"SET idle_in_transaction_session_timeout = {int(idle_in_transaction_seconds * 1000)}")
        cursor.execute(f"SET statement_timeout = {int(statement_seconds * 1000)}")


class Constant(Expression):
    """One of the code's own string constants (a status, never input), written into the SQL instead
    of bound as a parameter: ``filter(status=Constant("active"))``.

    A planner can use a partial index only when the query's condition implies the index's, and SQLite
    matches them by their text: ``status = 'active'`` implies ``WHERE status = 'active'``, while
    ``status = ?`` implies nothing, so the query reads the whole table instead of the index.
    """

    def __init__(self, value: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise ValueError(f"not a plain constant: {value!r}")
        super().__init__(output_field=CharField())
        self.value = value

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        return f"'{self.value}'", ()
