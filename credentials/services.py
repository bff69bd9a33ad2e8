"""Every change to awards goes through these functions, whether a page, the API or a job asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from audit.services import record_bulk

from .models import Award


def remove_awards(
    certification_id: int,
    users: QuerySet[Any] | Iterable[int],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Remove the active awards of a certification held by ``users`` (ids, or a queryset of ids).

    Set-based: one UPDATE and one audit INSERT whatever the number of users. Awards are never
    deleted; they become "removed" with who, when and which job, so they can be restored.
    Returns the number of awards removed.
    """
    now = now or timezone.now()
    removed = Award.objects.filter(
        certification_id=certification_id, status=Award.Status.ACTIVE, user_id__in=users
    )
    count = removed.update(
        status=Award.Status.REMOVED,
        removed_at=now,
        removed_by_id=actor_id,
        removed_by_job_id=job_id,
        updated_at=now,
    )
    if count:
        just_removed = Award.objects.filter(
            certification_id=certification_id,
            status=Award.Status.REMOVED,
            removed_at=now,
            removed_by_job_id=job_id,
            user_id__in=users,
        )
        record_bulk(
            "award.removed",
            just_removed,
            actor_id=actor_id,
            job_id=job_id,
            before={"status": "active"},
            after={"status": "removed"},
            now=now,
        )
    return count


def awarded_users(certification_id: int) -> QuerySet[Award]:
    """The active awards of a certification with their users, in User ID order."""
    return (
        Award.objects.active()
        .filter(certification_id=certification_id)
        .select_related("user")
        .order_by("user__user_id")
    )
