"""Long lists of people's rows (awards, licences) paged in the order of their people.

A page of the licences of a million learners sorted by username would otherwise join and sort every
licence on each page view: seconds. Sorted by a person's unique field, though, the page at offset o
lies among the rows of the first o + n people, in that order, who have a row at all (each has one at
least). So the page walks the people's unique index in order, testing each for a row and counting
theirs, up to the o + n-th row, then reads and sorts the rows of the few people the page shows: a
few hundred index probes for the first pages, and the same rows, in the same order, as the sorted
list would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import Exists, Func, IntegerField, OuterRef, QuerySet, Subquery

from .models import User

# The person's fields a walk can follow: unique, so that the first o + n people are well defined.
WALKABLE = {"username", "user_id"}


class InPersonOrder:
    """``rows`` (of a model with a ``user``) in ``ordering``, which starts with a unique field of the
    user (``user__username``, ``-user__user_id``): sorted as a whole when there are at most
    CERTDESK_SORTED_ROWS_AT_MOST of them (cheaper then, and for a short list in a large table the only
    fast way), else sliced by walking the people in that order. One bounded count, the one the
    paginator asks for, decides which."""

    ordered = True

    def __init__(self, rows: QuerySet[Any], ordering: Sequence[str], person_ordering: Sequence[str]) -> None:
        self.rows = rows
        self.ordering = list(ordering)
        self.person_ordering = list(person_ordering)
        self.walk: bool | None = None

    def bounded_count(self, limit: int) -> int:
        """How many rows there are, counted up to ``limit`` (base.paging.Paginator asks)."""
        most = settings.CERTDESK_SORTED_ROWS_AT_MOST
        found = int(self.rows.order_by().values("pk")[: max(limit, most + 1)].count())
        self.walk = found > most
        return min(found, limit)

    def count(self) -> int:
        return int(self.rows.order_by().count())

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[Any]:
        if not isinstance(window, slice) or window.stop is None:
            raise TypeError("InPersonOrder is read a page at a time: rows[start:stop]")
        if self.walk is None:
            self.bounded_count(1)
        if not self.walk:
            return list(self.rows.order_by(*self.ordering)[window])
        start, stop = window.start or 0, window.stop
        theirs = self.rows.order_by().filter(user=OuterRef("pk"))
        # COUNT(*) as a plain function of the correlated rows: an aggregate would add a GROUP BY
        how_many = theirs.annotate(n=Func(template="COUNT(*)", output_field=IntegerField())).values("n")
        walked = (
            User.objects.filter(Exists(theirs.values("pk")))
            .annotate(rows=Subquery(how_many))
            .order_by(*self.person_ordering)
            .values_list("pk", "rows")[:stop]
        )
        # Only the people whose rows overlap the window are read again, with their rows in order.
        before, first_skipped, wanted = 0, 0, list[int]()
        for person, rows in walked:
            if before + rows > start:
                if not wanted:
                    first_skipped = start - before
                wanted.append(person)
            before += rows
            if before >= stop:
                break
        if not wanted:
            return []
        page = self.rows.filter(user__in=wanted).order_by(*self.ordering)
        return list(page[first_skipped : first_skipped + stop - start])


def in_person_order(rows: QuerySet[Any], ordering: Sequence[str]) -> QuerySet[Any] | InPersonOrder:
    """``rows`` in ``ordering`` for a page: an InPersonOrder when the ordering starts with a person's
    unique field, the sorted queryset otherwise. The walk counts each person's rows, so rows that a
    join repeats (and DISTINCT folds) are never walked: filter them with EXISTS instead."""
    first = ordering[0].removeprefix("-")
    field = first.removeprefix("user__")
    if first == field or field not in WALKABLE or rows.query.distinct:
        return rows.order_by(*ordering)
    return InPersonOrder(rows, ordering, [ordering[0].replace("user__", "", 1)])
