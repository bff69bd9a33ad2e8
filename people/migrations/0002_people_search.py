"""The index of trigrams behind people search (people.search): an FTS5 table kept by triggers on
SQLite, a GIN pg_trgm index on PostgreSQL (the extension is trusted: a database owner may create it)."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE people_search USING fts5(user_id, username, first_name, last_name, email, "
    "content='people_user', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER people_search_insert AFTER INSERT ON people_user BEGIN "
    "INSERT INTO people_search (rowid, user_id, username, first_name, last_name, email) "
    "VALUES (new.id, new.user_id, new.username, new.first_name, new.last_name, new.email); END",
    "CREATE TRIGGER people_search_delete AFTER DELETE ON people_user BEGIN "
    "INSERT INTO people_search (people_search, rowid, user_id, username, first_name, last_name, email) "
    "VALUES ('delete', old.id, old.user_id, old.username, old.first_name, old.last_name, old.email); END",
    "CREATE TRIGGER people_search_update AFTER UPDATE OF user_id, username, first_name, last_name, email "
    "ON people_user BEGIN "
    "INSERT INTO people_search (people_search, rowid, user_id, username, first_name, last_name, email) "
    "VALUES ('delete', old.id, old.user_id, old.username, old.first_name, old.last_name, old.email); "
    "INSERT INTO people_search (rowid, user_id, username, first_name, last_name, email) "
    "VALUES (new.id, new.user_id, new.username, new.first_name, new.last_name, new.email); END",
    "INSERT INTO people_search (people_search) VALUES ('rebuild')",
]
SQLITE_UNDO = [
    "DROP TRIGGER people_search_update",
    "DROP TRIGGER people_search_delete",
    "DROP TRIGGER people_search_insert",
    "DROP TABLE people_search",
]
POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX people_user_search ON people_user USING gin "
    "((user_id || chr(31) || username || chr(31) || first_name || chr(31) || last_name || chr(31) || email) "
    "gin_trgm_ops)",
]
POSTGRESQL_UNDO = ["DROP INDEX people_user_search"]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_UNDO, "postgresql": POSTGRESQL_UNDO}),
        )
    ]
