"""The audit log's filters, one FilterSet for its page, its API and its export."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from base.filters import DayFilter, FilterSet, IdFilter
from people.models import User

from .models import Event


class EventFilter(FilterSet):
    """Events by an actor (username or User ID, exactly), of an action (``award.removed``, or a
    family: ``award``), about an object type, of a job, within inclusive dates (server time zone)."""

    actor = django_filters.CharFilter(label="actor", method="by_actor", strip=False)
    action = django_filters.CharFilter(label="action", method="of_action", strip=False)
    object_type = django_filters.CharFilter(label="object_type", strip=False)
    object_id = django_filters.CharFilter(label="object_id", strip=False)
    job = IdFilter(field_name="job_id", label="job")
    created_after = DayFilter(field_name="created_at", lookup_expr="gte", label="created_after")
    created_before = DayFilter(field_name="created_at", lookup_expr="lte", label="created_before")

    class Meta:
        model = Event
        fields: list[str] = []

    def by_actor(self, events: QuerySet[Event], name: str, who: str) -> QuerySet[Event]:
        # The few users it names first: the events are then read by their actor ids alone.
        actors = list(User.objects.filter(Q(username=who) | Q(user_id=who)).values_list("pk", flat=True))
        return events.filter(actor_id__in=actors)

    def of_action(self, events: QuerySet[Event], name: str, action: str) -> QuerySet[Event]:
        if "." in action:
            return events.filter(action=action)
        return events.filter(action__startswith=f"{action}.")
