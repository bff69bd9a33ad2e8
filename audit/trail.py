"""Reading the audit trail: whose events an administrator may see, what each object type is called,
and the trail as a CSV file, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from access.permissions import VIEW_AUDIT_LOG
from access.policy import has_permission, people_in, scope_of
from base.cells import neutralise
from base.downloads import csv_stream
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
    people = people_in(scope_of(user, VIEW_AUDIT_LOG))
    if people is None:
        return Event.objects.all()
    return Event.objects.filter(Q(actor=user) | Q(actor__in=User.objects.filter(people).values("pk")))


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
