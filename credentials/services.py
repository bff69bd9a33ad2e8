"""Every change to awards goes through these functions, whether a page, the API or a job asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import record_bulk
from base.sql import as_date, fetch, in_values, table, tuple_set

from .models import Award


def remove_awards(
    certification_id: int,
    user_ids: Sequence[int],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Remove the active awards of a certification held by ``user_ids``; returns whose were removed.

    Set-based: one UPDATE … RETURNING and one audit INSERT whatever the number of users. Awards are
    never deleted; they become "removed" with who, when and which job, so they can be restored.
    """
    now = now or timezone.now()
    named, users_param = in_values("user_id", user_ids)
    # 'active' is written into the SQL, not bound: SQLite uses a partial index only for a literal.
    removed = fetch(
        f"UPDATE {table(Award)} SET status = 'removed', removed_at = %s, removed_by_id = %s, "
        f"removed_by_job_id = %s, updated_at = %s "
        f"WHERE certification_id = %s AND status = 'active' AND {named} "
        f"RETURNING id, user_id",
        [_db_time(now), actor_id, job_id, _db_time(now), certification_id, users_param],
    )
    if removed:
        record_bulk(
            "award.removed",
            Award,
            [award_id for award_id, _ in removed],
            actor_id=actor_id,
            job_id=job_id,
            before={"status": "active"},
            after={"status": "removed"},
            now=now,
        )
    return [user_id for _, user_id in removed]


def active_awards(
    certification_id: int, user_ids: Sequence[int]
) -> dict[int, tuple[dt.date | None, dt.date | None, bool]]:
    """User -> (issue date, expiration date, always valid) of the active award of a certification they
    hold, for those of ``user_ids`` who hold it: one query."""
    if not user_ids:
        return {}
    named, users_param = in_values("user_id", user_ids)
    return {
        user_id: (as_date(issue), as_date(expiration), bool(always))
        for user_id, issue, expiration, always in fetch(
            f"SELECT user_id, issue_date, expiration_date, always_valid FROM {table(Award)} "
            f"WHERE certification_id = %s AND status = 'active' AND {named}",
            [certification_id, users_param],
        )
    }


def restore_awards(
    certification_id: int,
    user_ids: Sequence[int],
    *,
    removed_by_job_id: int,
    actor_id: int | None,
    job_id: int | None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Make active again the awards of ``user_ids`` that job ``removed_by_job_id`` removed.

    An award is left alone when its user holds the certification again by now (a newer award is
    active). Set-based like ``remove_awards``; returns the users whose award came back.
    """
    now = now or timezone.now()
    named, users_param = in_values("user_id", user_ids)
    awards = table(Award)
    restored = fetch(
        f"UPDATE {awards} SET status = 'active', removed_at = NULL, removed_by_id = NULL, "
        f"removed_by_job_id = NULL, updated_at = %s "
        f"WHERE certification_id = %s AND status = 'removed' AND removed_by_job_id = %s AND {named} "
        f"AND NOT EXISTS (SELECT 1 FROM {awards} newer WHERE newer.user_id = {awards}.user_id "
        f"AND newer.certification_id = %s AND newer.status = 'active') "
        f"RETURNING id, user_id",
        [_db_time(now), certification_id, removed_by_job_id, users_param, certification_id],
    )
    if restored:
        record_bulk(
            "award.restored",
            Award,
            [award_id for award_id, _ in restored],
            actor_id=actor_id,
            job_id=job_id,
            before={"status": "removed", "removed_by_job": removed_by_job_id},
            after={"status": "active"},
            now=now,
        )
    return [user_id for _, user_id in restored]


def _db_time(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def awarded_users(certification_id: int) -> QuerySet[Award]:
    """The active awards of a certification with their users, in User ID order."""
    return (
        Award.objects.active()
        .filter(certification_id=certification_id)
        .select_related("user")
        .order_by("user__user_id")
    )


def withdraw_awards(
    pairs: Sequence[tuple[int, int]],
    *,
    awarded_by_job_id: int,
    actor_id: int | None,
    job_id: int | None,
    now: dt.datetime | None = None,
) -> list[tuple[int, int]]:
    """Undo an award job: remove the (user, certification) awards job ``awarded_by_job_id`` made that
    are still active. Set-based like ``remove_awards``; returns the pairs removed."""
    if not pairs:
        return []
    now = now or timezone.now()
    wanted, wanted_param = tuple_set(pairs, ("bigint", "bigint"))
    awards = table(Award)
    removed = fetch(
        f"UPDATE {awards} SET status = 'removed', removed_at = %s, removed_by_id = %s, removed_by_job_id = %s, "
        f"updated_at = %s FROM ({wanted}) w WHERE {awards}.user_id = w.c0 AND {awards}.certification_id = w.c1 "
        f"AND {awards}.status = 'active' AND {awards}.awarded_by_job_id = %s "
        f"RETURNING {awards}.id, {awards}.user_id, {awards}.certification_id",
        [_db_time(now), actor_id, job_id, _db_time(now), wanted_param, awarded_by_job_id],
    )
    if removed:
        record_bulk(
            "award.removed",
            Award,
            [pk for pk, _, _ in removed],
            actor_id=actor_id,
            job_id=job_id,
            before={"status": "active", "awarded_by_job": awarded_by_job_id},
            after={"status": "removed"},
            now=now,
        )
    return [(user_id, certification_id) for _, user_id, certification_id in removed]
