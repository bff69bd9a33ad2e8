"""Set-based lookups for validation: resolve every key of a file in a few queries, not one per row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

# Well under SQLite's 32,766 bound parameters, and few enough round trips for a 1 MB file.
LOOKUP_BATCH = 10_000


def rows_for_keys(sql: str, keys: Sequence[str], params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
    """Run ``sql`` once per batch of keys and yield its rows.

    ``sql`` contains ``{keys}`` where the placeholder list goes, e.g. ``… WHERE u.user_id IN ({keys})``;
    ``params`` are the parameters that come before it. Raw SQL on purpose: building a 10,000-value
    IN list through the ORM costs more than the query itself.
    """
    with connection.cursor() as cursor:
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[start : start + LOOKUP_BATCH]
            cursor.execute(sql.format(keys=", ".join(["%s"] * len(batch))), [*params, *batch])
            yield from cursor.fetchall()


def table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)
