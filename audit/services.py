"""Writing audit events: one at a time for single actions, set-based for bulk changes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

from base.sql import execute, table, value_set

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
    model: type[Model],
    object_ids: Sequence[Any],
    *,
    actor_id: int | None,
    job_id: int | None,
    before: Any,
    after: Any,
    now: dt.datetime,
) -> None:
    """Record one event per object in a single INSERT … SELECT over the list of ids."""
    ids_sql, ids_param = value_set(list(object_ids))
    json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    q = connection.ops.quote_name
    columns = ", ".join(
        q(c)
        for c in ("actor_id", "job_id", "action", "object_type", "object_id", "before", "after", "created_at")
    )
    execute(
        f"INSERT INTO {table(Event)} ({columns}) "
        f"SELECT %s, %s, %s, %s, CAST(ids.value AS VARCHAR(64)), {json_param}, {json_param}, %s "
        f"FROM ({ids_sql}) ids",
        [
            actor_id,
            job_id,
            action,
            model._meta.label_lower,
            json.dumps(before),
            json.dumps(after),
            connection.ops.adapt_datetimefield_value(now),
            ids_param,
        ],
    )
