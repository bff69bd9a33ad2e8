"""Finding rows by a piece of their text, among millions: an index of three-letter pieces (trigrams).

``LIKE '%text%'`` reads every row of a table: half a second at a million rows. A ``TrigramIndex``
keeps an index of the trigrams of some text columns of one table instead, which both databases
look up:

- SQLite: an FTS5 table with the trigram tokenizer over the table, kept up to date by triggers on
  every insert, update and delete, whatever writes it;
- PostgreSQL: a GIN ``pg_trgm`` index on the columns joined by a separator, which ``ILIKE
  '%text%'`` on the same expression uses.

A text shorter than three letters has no trigram to look up: callers match it column by column.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models.expressions import RawSQL

SHORTEST_INDEXED = 3


@dataclass(frozen=True)
class TrigramIndex:
    """A trigram index over the text ``columns`` of ``table`` (its key is ``id``): the FTS5 table
    ``name`` on SQLite, the index ``pg_index`` on PostgreSQL."""

    name: str
    pg_index: str
    table: str
    columns: tuple[str, ...]

    @property
    def pg_text(self) -> str:
        """The columns joined by the ASCII unit separator, so that a text cannot match across two of
        them; the PostgreSQL index is built on exactly this expression."""
        return "(" + " || chr(31) || ".join(self.columns) + ")"

    def create_statements(self, vendor: str) -> list[str]:
        """What a migration runs to create the index on ``vendor``'s database."""
        if vendor == "postgresql":
            return [
                "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                f"CREATE INDEX {self.pg_index} ON {self.table} USING gin ({self.pg_text} gin_trgm_ops)",
            ]
        if vendor != "sqlite":
            return []
        columns = ", ".join(self.columns)
        new = ", ".join(f"new.{c}" for c in self.columns)
        old = ", ".join(f"old.{c}" for c in self.columns)
        add = f"INSERT INTO {self.name} (rowid, {columns}) VALUES (new.id, {new});"
        remove = f"INSERT INTO {self.name} ({self.name}, rowid, {columns}) VALUES ('delete', old.id, {old});"
        return [
            f"CREATE VIRTUAL TABLE {self.name} USING fts5({columns}, content='{self.table}', "
            "content_rowid='id', tokenize='trigram')",
            f"CREATE TRIGGER {self.name}_insert AFTER INSERT ON {self.table} BEGIN {add} END",
            f"CREATE TRIGGER {self.name}_delete AFTER DELETE ON {self.table} BEGIN {remove} END",
            f"CREATE TRIGGER {self.name}_update AFTER UPDATE OF {columns} ON {self.table} "
            f"BEGIN {remove} {add} END",
            f"INSERT INTO {self.name} ({self.name}) VALUES ('rebuild')",
        ]

    def drop_statements(self, vendor: str) -> list[str]:
        if vendor == "postgresql":
            return [f"DROP INDEX {self.pg_index}"]
        if vendor != "sqlite":
            return []
        triggers = [f"DROP TRIGGER {self.name}_{event}" for event in ("update", "delete", "insert")]
        return [*triggers, f"DROP TABLE {self.name}"]

    def rebuild(self) -> None:
        """Index every row again: after a load that went around the triggers (dropped for speed, as a
        benchmark's seeder does). PostgreSQL's index is an ordinary one, built with the rest."""
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {self.name} ({self.name}) VALUES ('rebuild')")

    def ids_matching(self, text: str) -> RawSQL:
        """A subquery of the ids of the rows one of whose columns contains ``text`` (at least
        ``SHORTEST_INDEXED`` letters long), in any case."""
        if len(text) < SHORTEST_INDEXED:
            raise ValueError(f"a trigram search needs {SHORTEST_INDEXED} letters or more, not {text!r}")
        if connection.vendor == "sqlite":
            # a quoted phrase: the trigram tokenizer matches it anywhere in any column, in any case
            phrase = '"' + text.replace('"', '""') + '"'
            # the statement is the index's own; the text is a parameter
            return RawSQL(f"SELECT rowid FROM {self.name} WHERE {self.name} MATCH %s", [phrase])  # noqa: S611
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # the statement is the index's own; the text is a parameter
        return RawSQL(f"SELECT id FROM {self.table} WHERE {self.pg_text} ILIKE %s", [pattern])  # noqa: S611


def printable(text: str) -> str:
    """``text`` without the characters a search box can send but no field holds."""
    return "".join(c for c in text if c.isprintable())
