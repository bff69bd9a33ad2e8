"""Finding people by a piece of their User ID, username, name or email, among a million of them.

People, the pickers, Awarded Users, Licences and an activity's learners all search through
``people_matching``. The five fields have a trigram index (``base.search``), created by the
migration ``people.0002_people_search``; a text shorter than three letters is matched field by
field.
"""

from __future__ import annotations

from django.db.models import Q

from base.search import SHORTEST_INDEXED, TrigramIndex, printable

FIELDS = ("user_id", "username", "first_name", "last_name", "email")
PEOPLE_SEARCH = TrigramIndex(
    name="people_search", pg_index="people_user_search", table="people_user", columns=FIELDS
)


def rebuild_search_index() -> None:
    """Index every user again, after a load that went around the index's triggers."""
    PEOPLE_SEARCH.rebuild()


def people_matching(text: str, person: str = "pk") -> Q:
    """A condition on the user-valued field ``person`` (``"pk"`` on users themselves): its User ID,
    username, first or last name or email contains ``text``, in any case."""
    text = printable(text)
    if len(text) < SHORTEST_INDEXED:
        prefix = "" if person == "pk" else f"{person}__"
        condition = Q()
        for field in FIELDS:
            condition |= Q(**{f"{prefix}{field}__icontains": text})
        return condition
    return Q(**{f"{person}__in": PEOPLE_SEARCH.ids_matching(text)})
