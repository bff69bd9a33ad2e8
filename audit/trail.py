"""Reading the audit trail: whose events an administrator may see, what each object type is called,
and the trail as a CSV file, streamed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from access.permissions import VIEW_AUDIT_LOG
from access.policy import has_permission, scope_of, within
from base.cells import neutralise
from base.downloads import csv_stream
from base.sql import fetch, in_values, table
from people.models import User

from .models import Event

# What an administrator calls each object an event is about (the model's label, or the name an
# event gives it when it is about something that is not a row: a sign-in).
OBJECT_TYPES = {
    "credentials.award": "Award",
    "credentials.license": "Licence",
    "credentials.certification": "Certification",
    "learning.enrollment": "Enrolment",
    "learning.activity": "Activity",
    "bulk.job": "Job",
    "people.user": "User",
    "access.role": "Role",
    "access.grant": "Grant",
    "signin": "Sign-in",
}

EXPORT_COLUMNS = [
    "Event ID",
    "Time",
    "Actor",
    "Actor User ID",
    "Action",
    "Object type",
    "Object ID",
    "Job ID",
    "Before",
    "After",
]


def may_view_audit_log(user: Any) -> bool:
    return has_permission(user, VIEW_AUDIT_LOG)


def events_visible_to(user: Any) -> QuerySet[Event]:
    """The events this user may read: every event with an unconstrained grant of "View audit log";
    with a constrained one, their own and those of the people inside its units and groups (as the
    jobs they may see are theirs and those of the creators in scope)."""
    if not may_view_audit_log(user):
        return Event.objects.none()
    actors = within(scope_of(user, VIEW_AUDIT_LOG), "actor")
    if actors is None:
        return Event.objects.all()
    return Event.objects.filter(Q(actor=user) | actors)


def object_label(object_type: str) -> str:
    return OBJECT_TYPES.get(object_type, object_type)


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def audit_csv(events: QuerySet[Event], chunk: int = 2000) -> Iterator[str]:
    """The events as CSV lines, newest first, a chunk at a time (a million events are never all in
    memory). Every text a person or a file could have written is neutralised against formulas."""
    rows = events.order_by("-id").values_list(
        "id",
        "created_at",
        "actor__username",
        "actor__user_id",
        "action",
        "object_type",
        "object_id",
        "job_id",
        "before",
        "after",
    )
    zone = timezone.get_current_timezone()
    return csv_stream(
        EXPORT_COLUMNS,
        (
            [
                pk,
                timezone.localtime(at, zone).isoformat(timespec="seconds"),
                neutralise(username or ""),
                neutralise(user_id or ""),
                neutralise(action),
                neutralise(kind),
                neutralise(object_id),
                job_id or "",
                neutralise(_json(before)),
                neutralise(_json(after)),
            ]
            for pk, at, username, user_id, action, kind, object_id, job_id, before, after in rows.iterator(
                chunk_size=chunk
            )
        ),
    )


def changed_since(
    object_type: str, object_ids: Sequence[int], since: dt.datetime, *, except_jobs: Sequence[int]
) -> dict[int, tuple[str, dt.datetime]]:
    """Object id -> (who, when) of the latest change the trail records for it after ``since``, other
    than by the jobs ``except_jobs``: the objects someone changed after a job, which undoing that job
    must leave alone. One query, whatever the number of objects (the event_object index)."""
    if not object_ids:
        return {}
    ids, ids_param = in_values("e.object_id", [str(pk) for pk in object_ids], "text")
    jobs, jobs_param = in_values("e.job_id", list(except_jobs))
    latest: dict[int, tuple[str, dt.datetime]] = {}
    for object_id, at, first, last, username in fetch(
        f"SELECT e.object_id, e.created_at, u.first_name, u.last_name, u.username FROM {table(Event)} e "
        f"LEFT JOIN {table(User)} u ON u.id = e.actor_id WHERE e.object_type = %s AND {ids} "
        f"AND e.created_at > %s AND (e.job_id IS NULL OR NOT ({jobs})) ORDER BY e.created_at, e.id",
        [object_type, ids_param, connection.ops.adapt_datetimefield_value(since), jobs_param],
    ):
        when = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))
        if timezone.is_naive(when):
            when = timezone.make_aware(when, dt.UTC)
        name = f"{first} {last}".strip() or username or "certdesk"
        latest[int(object_id)] = (name, when)
    return latest
