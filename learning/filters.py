"""The catalogue's filters, one FilterSet per list, shared by the Catalogue page and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from base.filters import ExactFilter, FilterSet, IdFilter, OneOfFilter

from .models import Activity, Enrollment


class ActivityFilter(FilterSet):
    """Activities whose title or external reference contains a text, of a type.

    Values are taken as given, not trimmed: the page trims its search box and offers only the types
    there are; the API matches what it is sent."""

    search = django_filters.CharFilter(label="search", method="matching", strip=False)
    type = OneOfFilter(label="type", choices=Activity.Type.values)

    class Meta:
        model = Activity
        fields: list[str] = []

    def matching(self, activities: QuerySet[Activity], name: str, text: str) -> QuerySet[Activity]:
        return activities.filter(Q(title__icontains=text) | Q(external_reference__icontains=text))


class EnrollmentFilter(FilterSet):
    """Enrolments of an activity (by id or external reference), of a user, in a status, or ended by a
    job. Each parameter matches exactly what it is given, even empty; an id must be one."""

    activity = IdFilter(field_name="activity_id", label="activity")
    activity_reference = ExactFilter(field_name="activity__external_reference", label="activity_reference")
    username = ExactFilter(field_name="user__username", label="username")
    status = OneOfFilter(label="status", choices=Enrollment.Status.values)
    unenrolled_by_job = IdFilter(field_name="unenrolled_by_job_id", label="unenrolled_by_job")

    class Meta:
        model = Enrollment
        fields: list[str] = []
