"""Finding jobs: the filters the job list offers in the API, the CLI and the pages."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from .models import Job


class BadFilter(ValueError):
    pass


def parse_date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name} must be a date as YYYY-MM-DD, not '{value}'.") from None


def filter_jobs(
    jobs: QuerySet[Job],
    *,
    kind: str | None = None,
    status: str | None = None,
    search: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[Job]:
    """Narrow a job queryset; ``since`` and ``until`` are inclusive dates in the server's time zone."""
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        if status not in Job.Status.values:
            raise BadFilter(f"status must be one of {', '.join(Job.Status.values)}, not '{status}'.")
        jobs = jobs.filter(status=status)
    if search:
        jobs = jobs.filter(title__icontains=search.strip())
    tz = timezone.get_current_timezone()
    if since:
        jobs = jobs.filter(created_at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=tz))
    if until:
        jobs = jobs.filter(
            created_at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        )
    return jobs.select_related("created_by")
