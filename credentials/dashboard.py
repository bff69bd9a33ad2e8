"""What the dashboard counts about certifications.

Both counts read the partial index of active awards with an expiration date, one range per band:
a range count only walks the index, while a count filtered per row (``COUNT … FILTER``) or grouped
by a computed month evaluates an expression for each of the million awards a large organisation
renews in a year, which on SQLite is ten times slower.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, IntegerField, QuerySet, Value

from base.sql import Constant

from .models import Award, Certification


def expiring_soon(today: dt.date, horizons: Sequence[int] = (30, 60, 90)) -> list[dict[str, Any]]:
    """Per certification, the active awards expiring within each horizon (days from today, the ones
    already expired left out): a grouped count per band between two horizons, then their names."""
    horizons = sorted(horizons)
    bands = list(zip([-1, *horizons], horizons, strict=False))
    in_bands: dict[int, list[int]] = {}
    for certification_id, band, n in _union(
        _expiring(today + dt.timedelta(days=after + 1), today + dt.timedelta(days=upto))
        .values("certification_id")
        .annotate(band=Value(n, output_field=IntegerField()), n=Count("*"))
        .values_list("certification_id", "band", "n")
        for n, (after, upto) in enumerate(bands)
    ):
        in_bands.setdefault(certification_id, [0] * len(bands))[band] = n
    # Named in a query of their own: joined above, the certification is looked up once per award.
    rows = [
        {
            "certification_id": pk,
            "certification__code": code,
            "certification__title": title,
            **{f"within_{days}": sum(in_bands[pk][: n + 1]) for n, days in enumerate(horizons)},
        }
        for pk, code, title in Certification.objects.filter(pk__in=in_bands).values_list(
            "pk", "code", "title"
        )
    ]
    first, last = f"within_{horizons[0]}", f"within_{horizons[-1]}"
    return sorted(rows, key=lambda row: (-row[first], -row[last], row["certification__code"]))


def expirations_by_month(today: dt.date, months: int = 12) -> list[tuple[dt.date, int]]:
    """Active awards expiring in each of the next ``months`` calendar months, this one first (from
    today: the days already past are expired, not expiring); every month listed, empty ones as 0."""
    starts = [_month(today, n) for n in range(months + 1)]
    counted = dict(
        _union(
            _expiring(max(start, today), starts[n + 1] - dt.timedelta(days=1))
            .annotate(month=Value(n, output_field=IntegerField()))
            .values("month")
            .annotate(n=Count("*"))
            .values_list("month", "n")
            for n, start in enumerate(starts[:-1])
        )
    )
    return [(start, counted.get(n, 0)) for n, start in enumerate(starts[:-1])]


def _expiring(first: dt.date, last: dt.date) -> QuerySet[Award]:
    """Active awards expiring between two days, both included, as the partial index reads them."""
    return Award.objects.filter(
        status=Constant(Award.Status.ACTIVE), expiration_date__gte=first, expiration_date__lte=last
    ).order_by()


def _union(parts: Any) -> list[tuple[Any, ...]]:
    first, *rest = list(parts)
    return list(first.union(*rest, all=True)) if rest else list(first)


def _month(today: dt.date, ahead: int) -> dt.date:
    index = today.year * 12 + today.month - 1 + ahead
    return dt.date(index // 12, index % 12 + 1, 1)
