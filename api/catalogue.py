"""The catalogue: activities and enrolments, completions and external training."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from base.filters import BadFilter
from base.problems import Problem
from learning.filters import ActivityFilter, EnrollmentFilter
from learning.models import Activity, Enrollment, ExternalActivity
from learning.services import complete_enrollment, record_external_training
from people.models import User

from .permissions import MayCompleteEnrolments, MayRecordExternalTraining, MayViewCatalogue
from .responses import problems_400
from .serializers import (
    ActivitySerializer,
    EnrollmentSerializer,
    Input,
)


class ActivityListView(generics.ListAPIView[Activity]):
    """Courses, sessions and learning plans with their external references and enrolment counts."""

    serializer_class = ActivitySerializer
    permission_classes = [MayViewCatalogue]

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Title or external reference contains"),
            OpenApiParameter("type", str, enum=Activity.Type.values),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Activity]:
        try:
            activities = ActivityFilter(self.request.query_params, Activity.objects.all()).narrowed()
        except BadFilter as exc:
            raise ValidationError({exc.parameter: [str(exc)]}) from exc
        return activities.order_by("title", "pk")

    def paginate_queryset(self, queryset: Any) -> Any:
        """Count enrolments for the page's activities only: one grouped query, however many there are."""
        page = super().paginate_queryset(queryset)
        activities = list(page if page is not None else queryset)
        counts = Enrollment.objects.filter(activity__in=[a.pk for a in activities]).counts_by_activity()
        for activity in activities:
            found = counts.get(activity.pk, {})
            activity.enrolled = found.get("enrolled", 0)  # type: ignore[attr-defined]
            activity.completed = found.get("completed", 0)  # type: ignore[attr-defined]
        return activities


class EnrollmentListView(generics.ListAPIView[Enrollment]):
    """Enrolments, filtered by activity, user, status or the job that unenrolled them."""

    serializer_class = EnrollmentSerializer
    permission_classes = [MayViewCatalogue]

    @extend_schema(
        parameters=[
            OpenApiParameter("activity", int, description="An activity's id (from 1)"),
            OpenApiParameter("activity_reference", str),
            OpenApiParameter("username", str),
            OpenApiParameter("status", str, enum=Enrollment.Status.values),
            OpenApiParameter("unenrolled_by_job", int),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Enrollment]:
        enrollments = Enrollment.objects.select_related("user", "activity").order_by("pk")
        try:
            return EnrollmentFilter(self.request.query_params, enrollments).narrowed()
        except BadFilter as exc:
            raise ValidationError({exc.parameter: [str(exc)]}) from exc


class CompletionSerializer(Input):
    completed_on = serializers.DateField(required=False)


COMPLETION_ANSWER = inline_serializer(
    "CompletionAnswer",
    {"recorded": serializers.BooleanField(), "awarded": serializers.ListField(child=serializers.CharField())},
)


class CompleteEnrollmentView(APIView):
    """Mark an enrolment completed; certifications assigned to its activity are awarded, once."""

    permission_classes = [MayCompleteEnrolments]

    @extend_schema(request=CompletionSerializer, responses={200: COMPLETION_ANSWER})
    def post(self, request: Request, pk: int) -> Response:
        enrollment = get_object_or_404(Enrollment, pk=pk)
        form = CompletionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if enrollment.status == Enrollment.Status.UNENROLLED:
            return problems_400([Problem("unenrolled", "This enrolment has ended; it cannot be completed.")])
        done = complete_enrollment(
            enrollment.pk, form.validated_data.get("completed_on") or timezone.localdate(), actor=request.user
        )
        return Response({"recorded": done.recorded, "awarded": [c.code for c in done.awarded]})


class ExternalTrainingSerializer(Input):
    user_id = serializers.CharField(max_length=100)
    external_activity = serializers.CharField(max_length=200, help_text="Its title")
    completed_on = serializers.DateField()


class ExternalTrainingView(APIView):
    """Record a completed external training activity; certifications assigned to it are awarded, once."""

    permission_classes = [MayRecordExternalTraining]

    @extend_schema(
        request=ExternalTrainingSerializer, responses={201: COMPLETION_ANSWER, 200: COMPLETION_ANSWER}
    )
    def post(self, request: Request) -> Response:
        form = ExternalTrainingSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        user = User.objects.filter(user_id=data["user_id"]).first()
        activity = ExternalActivity.objects.filter(title=data["external_activity"]).first()
        problems = []
        if user is None:
            problems.append(
                Problem(
                    "unknown_user",
                    f"No user has the User ID '{data['user_id']}'.",
                    column="user_id",
                    value=data["user_id"],
                )
            )
        if activity is None:
            problems.append(
                Problem(
                    "unknown_external_activity",
                    f"No external activity is called '{data['external_activity']}'.",
                    column="external_activity",
                    value=data["external_activity"],
                )
            )
        if problems:
            return problems_400(problems)
        assert user is not None and activity is not None
        done = record_external_training(user.pk, activity.pk, data["completed_on"], actor=request.user)
        return Response(
            {"recorded": done.recorded, "awarded": [c.code for c in done.awarded]},
            status=status.HTTP_201_CREATED if done.recorded else status.HTTP_200_OK,
        )
