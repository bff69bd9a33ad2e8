"""Writing audit events: one at a time for single actions, set-based for bulk changes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet

from .models import Event


def record(
    action: str,
    *,
    actor: Model | None = None,
    job: Model | None = None,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str = "",
    before: Any = None,
    after: Any = None,
) -> Event:
    """Record one event. ``obj`` fills the object type and id when given."""
    if obj is not None:
        object_type = obj._meta.label_lower
        object_id = str(obj.pk)
    return Event.objects.create(
        action=action,
        actor=actor,  # type: ignore[misc]
        job=job,  # type: ignore[misc]
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )


def record_bulk(
    action: str,
    objects: QuerySet[Any],
    *,
    actor_id: int | None,
    job_id: int | None,
    before: Any,
    after: Any,
    now: dt.datetime,
) -> None:
    """Record one event per object of ``objects`` in a single INSERT … SELECT."""
    model = objects.model
    events = Event._meta.db_table
    q = connection.ops.quote_name
    inner_sql, inner_params = objects.values("pk").query.sql_with_params()
    json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    columns = ", ".join(
        q(c)
        for c in ("actor_id", "job_id", "action", "object_type", "object_id", "before", "after", "created_at")
    )
    pk_column = q(model._meta.pk.column)  # type: ignore[union-attr]
    sql = (
        f"INSERT INTO {q(events)} ({columns}) "
        f"SELECT %s, %s, %s, %s, CAST(t.{pk_column} AS VARCHAR(64)), {json_param}, {json_param}, %s "
        f"FROM {q(model._meta.db_table)} t WHERE t.{pk_column} IN ({inner_sql})"
    )
    params = [
        actor_id,
        job_id,
        action,
        model._meta.label_lower,
        json.dumps(before),
        json.dumps(after),
        connection.ops.adapt_datetimefield_value(now),
        *inner_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
