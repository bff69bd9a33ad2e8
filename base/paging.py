"""Pages of long lists that count only as far as anyone can page.

An exact COUNT of a million licences reads a million index entries on every page view, to print a
number nobody pages to the end of. ``Paginator`` counts exactly up to
``CERTDESK_EXACT_COUNT_ROWS`` rows, the size of nearly every list; beyond that it counts to a few
pages past the one asked for, so that Next and any page number anyone links to still work, and the
page says "more than 10,000" instead of a number it did not read.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import QuerySet
from django.utils.functional import cached_property


class Paginator(DjangoPaginator):
    """Django's paginator whose ``count`` stops at a bound; ``exact`` says whether it did."""

    def __init__(self, object_list: Any, per_page: int, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.asked = 1

    def get_page(self, number: Any) -> Page:
        self.asked = _page_number(number)
        return super().get_page(number)

    def page(self, number: Any) -> Page:
        self.asked = max(self.asked, _page_number(number))
        return super().page(number)

    @cached_property
    def bound(self) -> int:
        return max(
            settings.CERTDESK_EXACT_COUNT_ROWS,
            (self.asked + settings.CERTDESK_COUNT_PAGES_AHEAD) * self.per_page,
        )

    @cached_property
    def _found(self) -> int:
        """The rows there are, counted up to one more than the bound."""
        rows: Any = self.object_list
        if isinstance(rows, list):
            return len(rows)
        if hasattr(rows, "bounded_count"):  # a list that pages itself (people.lists.InPersonOrder)
            return int(rows.bounded_count(self.bound + 1))
        if isinstance(rows, QuerySet) and not rows.query.combinator:
            # Counting needs neither the order nor the page's computed columns (holder counts, say);
            # kept, they would be computed for every row counted.
            rows = rows.order_by().values("pk")
        return int(rows[: self.bound + 1].count())

    @cached_property
    def count(self) -> int:
        return min(self._found, self.bound) if not self.exact else self._found

    @cached_property
    def exact(self) -> bool:
        return isinstance(self.object_list, list) or self._found <= self.bound

    @property
    def count_text(self) -> str:
        """The count as a page says it: "1234", or "more than 10,000"."""
        return str(self.count) if self.exact else f"more than {self.count:,}"


def _page_number(number: Any) -> int:
    try:
        return max(1, min(int(number), 2**62 // 1000))
    except (TypeError, ValueError):
        return 1
