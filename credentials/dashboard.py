"""What the dashboard counts about certifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q

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
