"""The People list's filters, shared by the page and any other surface that lists people."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from base.filters import FilterSet, IdFilter

from .models import OrgUnit, User
from .search import people_matching

# Column name -> the order it sorts by (a minus in front of the parameter reverses it).
SORTS = {
    "user_id": "user_id",
    "username": "username",
    "name": "last_name",
    "email": "email",
}


def subunits(unit_id: int) -> set[int]:
    ids, frontier = {unit_id}, {unit_id}
    while frontier:
        frontier = set(OrgUnit.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
        ids |= frontier
    return ids


class PersonFilter(FilterSet):
    """People whose User ID, username, name or email contains a text, in an org unit (sub-units
    included) or a group, sorted by a column."""

    search = django_filters.CharFilter(label="search", method="matching")
    unit = IdFilter(label="unit", method="in_unit")
    group = IdFilter(label="group", method="in_group")
    sort = django_filters.ChoiceFilter(
        label="sort",
        choices=[(k, k) for k in SORTS] + [(f"-{k}", f"-{k}") for k in SORTS],
        method="sorted_by",
    )

    class Meta:
        model = User
        fields: list[str] = []

    def matching(self, users: QuerySet[User], name: str, text: str) -> QuerySet[User]:
        return users.filter(people_matching(text))

    def in_unit(self, users: QuerySet[User], name: str, unit_id: int) -> QuerySet[User]:
        return users.filter(pk__in=User.objects.filter(org_units__in=subunits(unit_id)).values("pk"))

    def in_group(self, users: QuerySet[User], name: str, group_id: int) -> QuerySet[User]:
        return users.filter(pk__in=User.objects.filter(member_of=group_id).values("pk"))

    def sorted_by(self, users: QuerySet[User], name: str, sort: str) -> QuerySet[User]:
        column = SORTS[sort.lstrip("-")]
        prefix = "-" if sort.startswith("-") else ""
        return users.order_by(f"{prefix}{column}", f"{prefix}user_id")
