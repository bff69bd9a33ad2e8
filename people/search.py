"""Finding people by a piece of their User ID, username, name or email, among a million of them.

``LIKE '%text%'`` over five columns reads every user: half a second at a million learners, on every
search of People, Awarded Users, Licences and the pickers. Both databases keep an index of the
three-letter pieces (trigrams) of those five fields instead, created by the migration
``people.0002_people_search``:

- SQLite: an FTS5 table with the trigram tokenizer (``people_search``) over ``people_user``, kept up
  to date by triggers on every insert, update and delete whatever writes it;
- PostgreSQL: a GIN ``pg_trgm`` index on the fields joined by a separator (``PG_SEARCH_TEXT``),
  which ``ILIKE '%text%'`` uses.

A text shorter than three letters has no trigram to look up: it is matched field by field, as before.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

# The fields searched, joined by the ASCII unit separator so that a text cannot match across two
# fields; the PostgreSQL index is built on exactly this expression (see the migration).
PG_SEARCH_TEXT = (
    "(user_id || chr(31) || username || chr(31) || first_name || chr(31) || last_name || chr(31) || email)"
)
FIELDS = ("user_id", "username", "first_name", "last_name", "email")
SHORTEST_INDEXED = 3


def rebuild_search_index() -> None:
    """Index every user again: after a load that went around the triggers (they were dropped for
    speed, as a benchmark's seeder does). PostgreSQL's index is an ordinary one, built with the rest."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO people_search (people_search) VALUES ('rebuild')")


def people_matching(text: str, person: str = "pk") -> Q:
    """A condition on the user-valued field ``person`` (``"pk"`` on users themselves): its User ID,
    username, first or last name or email contains ``text``, in any case."""
    text = "".join(c for c in text if c.isprintable())
    if len(text) < SHORTEST_INDEXED:
        prefix = "" if person == "pk" else f"{person}__"
        condition = Q()
        for field in FIELDS:
            condition |= Q(**{f"{prefix}{field}__icontains": text})
        return condition
    if connection.vendor == "sqlite":
        # a quoted phrase: the trigram tokenizer matches it anywhere in any field, in any case
        phrase = '"' + text.replace('"', '""') + '"'
        found = RawSQL("SELECT rowid FROM people_search WHERE people_search MATCH %s", [phrase])
    else:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # the statement is constant; the text is a parameter
        found = RawSQL(f"SELECT id FROM people_user WHERE {PG_SEARCH_TEXT} ILIKE %s", [pattern])  # noqa: S611
    return Q(**{f"{person}__in": found})
