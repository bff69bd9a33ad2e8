"""What the dashboard counts about certifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth

from .models import Award


def expiring_soon(today: dt.date, horizons: Sequence[int] = (30, 60, 90)) -> list[dict[str, Any]]:
    """Per certification, the active awards expiring within each horizon (days from today, the ones
    already expired left out): one grouped query over the partial index of expiring awards."""
    last = today + dt.timedelta(days=max(horizons))
    counts = {
        f"within_{days}": Count("pk", filter=Q(expiration_date__lte=today + dt.timedelta(days=days)))
        for days in horizons
    }
    return [
        dict(row)
        for row in Award.objects.filter(
            status=Award.Status.ACTIVE, expiration_date__gte=today, expiration_date__lte=last
        )
        .values("certification_id", "certification__code", "certification__title")
        .annotate(**counts)
        .order_by(f"-within_{min(horizons)}", f"-within_{max(horizons)}", "certification__code")
    ]


def expirations_by_month(today: dt.date, months: int = 12) -> list[tuple[dt.date, int]]:
    """Active awards expiring in each of the next ``months`` calendar months, this one first (from
    today: the days already past are expired, not expiring); every month listed, empty ones as 0."""
    starts = [_month(today, n) for n in range(months + 1)]
    found = dict(
        Award.objects.filter(
            status=Award.Status.ACTIVE, expiration_date__gte=today, expiration_date__lt=starts[-1]
        )
        .annotate(month=TruncMonth("expiration_date"))
        .values_list("month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counted = {(m.year, m.month) if isinstance(m, dt.date) else m: n for m, n in found.items()}
    return [(start, counted.get((start.year, start.month), 0)) for start in starts[:-1]]


def _month(today: dt.date, ahead: int) -> dt.date:
    index = today.year * 12 + today.month - 1 + ahead
    return dt.date(index // 12, index % 12 + 1, 1)
