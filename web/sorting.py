"""Sortable table headers: each column's link sorts by it, and sorts the other way when it already does."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    href: str
    direction: str  # "ascending", "descending" or "" (aria-sort)


def sortable_columns(request: HttpRequest, sort: str, labels: dict[str, str]) -> dict[str, Column]:
    """The columns of a table sorted by ``sort`` (a key, or a key with a minus in front), each with the
    link that keeps the page's other parameters and starts again at its first page."""
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("sort", None)
    kept = params.urlencode()
    columns = {}
    for key, label in labels.items():
        following = "-" + key if sort == key else key
        href = f"?{kept}&sort={following}" if kept else f"?sort={following}"
        direction = {key: "ascending", "-" + key: "descending"}.get(sort, "")
        columns[key] = Column(key, label, href, direction)
    return columns


def sort_order(given: str | None, sorts: dict[str, list[str]], default: str) -> tuple[str, list[str]]:
    """The sort asked for (a key of ``sorts``, with a minus to reverse it; anything else is the
    default) and the fields to order by."""
    sort = given if given and given.lstrip("-") in sorts else default
    sign = "-" if sort.startswith("-") else ""
    return sort, [sign + field for field in sorts[sort.lstrip("-")]]
