"""The audit log: ``GET /api/v1/audit-events/`` (filtered, newest first, by cursor) and its CSV export.
Read-only: no method writes to it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.filters import EventFilter
from audit.models import Event
from audit.trail import audit_csv, events_visible_to, may_view_audit_log
from base.downloads import as_download
from base.filters import BadFilter

from .permissions import allowed

MayViewAuditLog = allowed(may_view_audit_log, "You need the permission View audit log.")

FILTERS = [
    OpenApiParameter("actor", str, description="Username or User ID, exactly"),
    OpenApiParameter("action", str, description="An action (award.removed) or a family (award)"),
    OpenApiParameter("object_type", str, description="credentials.award, learning.enrollment, bulk.job, …"),
    OpenApiParameter("object_id", str),
    OpenApiParameter("job", int, description="The job whose events these are"),
    OpenApiParameter("created_after", OpenApiTypes.DATE, description="YYYY-MM-DD, inclusive"),
    OpenApiParameter("created_before", OpenApiTypes.DATE, description="YYYY-MM-DD, inclusive"),
]


class AuditEventSerializer(serializers.ModelSerializer[Event]):
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    actor_user_id = serializers.CharField(source="actor.user_id", allow_null=True, default=None)
    job_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_user_id",
            "action",
            "object_type",
            "object_id",
            "job_id",
            "before",
            "after",
        ]


class NewestFirst(CursorPagination):
    """Pages by cursor: the next page starts below the last event given, however many there are
    (no count of a million events), and no event is skipped or repeated as new ones arrive."""

    ordering = "-id"
    page_size = 50


def filtered_events(request: Request) -> QuerySet[Event]:
    try:
        return EventFilter(request.query_params, events_visible_to(request.user)).narrowed()
    except BadFilter as exc:
        raise ValidationError({exc.parameter: [str(exc)]}) from exc


class AuditEventListView(generics.ListAPIView[Event]):
    """Every change certdesk recorded that you may read, newest first."""

    serializer_class = AuditEventSerializer
    permission_classes = [MayViewAuditLog]
    pagination_class = NewestFirst

    @extend_schema(parameters=FILTERS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Event]:
        return filtered_events(self.request).select_related("actor")


class AuditEventExportView(APIView):
    permission_classes = [MayViewAuditLog]

    @extend_schema(parameters=FILTERS, responses={(200, "text/csv"): bytes})
    def get(self, request: Request) -> StreamingHttpResponse:
        """The filtered events as CSV, streamed (spreadsheet formulas neutralised)."""
        response = StreamingHttpResponse(
            audit_csv(filtered_events(request)), content_type="text/csv; charset=utf-8"
        )
        return as_download(response, f"audit-log-{timezone.localtime():%Y%m%d-%H%M}.csv")
