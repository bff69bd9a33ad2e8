"""The index of trigrams behind the Licences search by number (base.search): an FTS5 table kept by
triggers on SQLite, a GIN pg_trgm index on PostgreSQL."""

from django.db import migrations

from base.search import TrigramIndex

INDEX = TrigramIndex(
    name="credentials_license_search",
    pg_index="credentials_license_number_search",
    table="credentials_license",
    columns=("number",),
)


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    for statement in INDEX.create_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    for statement in INDEX.drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("credentials", "0007_provenance_unconstrained"), ("people", "0002_people_search")]

    operations = [migrations.RunPython(create, drop)]
