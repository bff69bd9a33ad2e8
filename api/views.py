"""REST API v1. Views are thin: they check access, call the engine and shape the answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import IMPORT_UNENROLMENTS, VIEW_CATALOGUE, VIEW_CERTIFICATIONS
from access.policy import NotAllowed, has_permission
from base.problems import EMPTY_FILE, FileRejected, Problem, report
from bulk import results, services
from bulk.intake import too_large
from bulk.models import Job, JobRow
from bulk.queries import BadFilter, filter_jobs, parse_date
from bulk.registry import UnknownKind, get_kind, registry
from bulk.samples import SAMPLE_FORMATS, sample_file, sample_formats
from bulk.uploads import FORM_OVERHEAD, CappedUploadHandler, largest_limit
from bulk.visibility import allowed_kinds, jobs_visible_to
from credentials.exports import awarded_users_csv, awarded_users_filename
from credentials.models import Certification
from credentials.services import awarded_users, search_awards
from learning.models import Activity, Enrollment
from people.models import Group, OrgUnit, User

from .serializers import (
    ActivitySerializer,
    AwardSerializer,
    CertificationSerializer,
    EnrollmentSerializer,
    GroupSerializer,
    JobCreateSerializer,
    JobRowSerializer,
    JobSerializer,
    OrgUnitSerializer,
    UserSerializer,
)
from .views_awards import AwardUsersMixin


def problems_response(problems: list[Problem], headlines: list[str], total: int | None = None) -> Response:
    return Response(
        report(problems, headlines, settings.CERTDESK_MAX_LISTED_PROBLEMS, total),
        status=status.HTTP_400_BAD_REQUEST,
    )


def csv_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class JobViewSet(viewsets.ReadOnlyModelViewSet[Job]):
    """Bulk jobs of every kind the caller may manage."""

    serializer_class = JobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        # Files are capped while they stream in, before the body is read to its end.
        request.upload_handlers = [CappedUploadHandler(request, largest_limit())]
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Job]:
        if not allowed_kinds(self.request.user):
            raise PermissionDenied("You do not have permission to manage any kind of bulk job.")
        jobs = jobs_visible_to(self.request.user)
        if self.action != "list":
            return jobs
        params = self.request.query_params
        try:
            return filter_jobs(
                jobs,
                kind=params.get("kind"),
                status=params.get("status"),
                search=params.get("search"),
                since=parse_date(params.get("created_after"), "created_after"),
                until=parse_date(params.get("created_before"), "created_before"),
            )
        except BadFilter as exc:
            raise ValidationError({"detail": str(exc)}) from exc

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str),
            OpenApiParameter("status", str),
            OpenApiParameter("search", str),
            OpenApiParameter("created_after", str, description="YYYY-MM-DD, inclusive"),
            OpenApiParameter("created_before", str, description="YYYY-MM-DD, inclusive"),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def create(self, request: Request) -> Response:
        # Permission first: someone who may not submit jobs gets 403 whatever the form holds.
        if not allowed_kinds(request.user):
            raise PermissionDenied("You do not have permission to manage any kind of bulk job.")
        if int(request.META.get("CONTENT_LENGTH") or 0) > largest_limit() + FORM_OVERHEAD:
            rejected = too_large(largest_limit())
            return problems_response(rejected.problems, rejected.headlines)
        form = JobCreateSerializer(data=request.data)
        if not form.is_valid():
            problems = [
                Problem("invalid_request", f"{field}: {message}", column=field)
                for field, messages in form.errors.items()
                for message in messages
            ]
            return problems_response(problems, [p.message for p in problems])
        try:
            kind = get_kind(form.validated_data["kind"])
        except UnknownKind as exc:
            problem = Problem("unknown_kind", str(exc), column="kind", value=form.validated_data["kind"])
            return problems_response([problem], [problem.message])
        if not has_permission(request.user, kind.permission):
            raise PermissionDenied(f"You do not have permission to use {kind.tool_name}.")
        upload = form.validated_data.get("file")
        handler = request._request.upload_handlers[0]
        try:
            if "file" in getattr(handler, "too_large", ()):
                raise too_large(kind.max_bytes)
            if upload is None:
                raise FileRejected(
                    [Problem(EMPTY_FILE, "The file is empty: no file was uploaded.", column="file")]
                )
            submission = services.submit(
                kind.slug,
                upload.file,
                upload.name,
                actor=request.user,
                title=form.validated_data["title"],
                comment=form.validated_data["comment"],
                validate_only=form.validated_data["validate_only"],
                start=form.validated_data["start"],
            )
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.JobInputError as exc:
            return problems_response(exc.problems, [p.message for p in exc.problems])
        except FileRejected as exc:
            return problems_response(exc.problems, exc.headlines, exc.total)
        data = JobSerializer(submission.job, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: JobSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Queue a draft or verified job."""
        return self._queue(request, services.start_job, status.HTTP_200_OK)

    @extend_schema(request=None, responses={201: JobSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Queue a new job that undoes exactly what this processed job changed."""
        return self._queue(request, services.restore_job, status.HTTP_201_CREATED)

    def _queue(self, request: Request, queue: Any, success: int) -> Response:
        """Call ``queue(job, user)`` on the job of the URL; 409 with the reason when its state forbids it."""
        try:
            job = queue(self.get_object(), request.user)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.JobInputError as exc:
            return Response(
                report(exc.problems, [exc.problems[0].message], 100), status=status.HTTP_409_CONFLICT
            )
        return Response(JobSerializer(job, context=self.get_serializer_context()).data, status=success)

    @extend_schema(
        parameters=[OpenApiParameter("outcome", str, enum=JobRow.Outcome.values)],
        responses={200: JobRowSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def rows(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        rows = job.rows.order_by("seq")
        outcome = request.query_params.get("outcome")
        if outcome:
            rows = rows.filter(outcome=outcome)
        kind = get_kind(job.kind)
        page = self.paginate_queryset(rows)  # type: ignore[arg-type]  # rows of the job, not jobs
        serializer = JobRowSerializer(
            page,  # type: ignore[arg-type]
            many=True,
            context={
                "labels": kind.labels_for(job),
                "messages": kind.messages_for(job),
            },
        )
        return self.get_paginated_response(serializer.data)

    @extend_schema(responses={(200, "text/csv"): bytes})
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None) -> FileResponse:
        job = self.get_object()
        if not job.results_file:
            raise NotFound(
                "This job has no results file yet: it is written when the job ends or is verified."
            )
        return FileResponse(
            results.open_results(job),
            as_attachment=True,
            filename=f"job-{job.pk}-results.csv",
            content_type="text/csv",
        )

    @extend_schema(responses={(200, "text/csv"): bytes})
    @action(detail=True, methods=["get"])
    def original(self, request: Request, pk: str | None = None) -> FileResponse:
        job = self.get_object()
        if not job.original_file:
            raise NotFound("This job has no original file.")
        return FileResponse(job.original_file.open("rb"), as_attachment=True, filename=job.original_filename)


class JobKindListView(APIView):
    def get(self, request: Request) -> Response:
        return Response([get_kind(slug).describe() for slug in allowed_kinds(request.user)])


class _KindFileView(APIView):
    def kind_or_404(self, request: Request, kind: str) -> Any:
        if kind not in registry():
            raise NotFound(f"Unknown job kind '{kind}'.")
        if kind not in allowed_kinds(request.user):
            raise PermissionDenied(f"You do not have permission to use {get_kind(kind).tool_name}.")
        return get_kind(kind)

    def sample(self, request: Request, kind: str, *, example: bool) -> HttpResponse:
        """The kind's template or example, as CSV or in ``?file_format=`` txt, xml, xml-2003 or xlsx."""
        job_kind = self.kind_or_404(request, kind)
        fmt = request.query_params.get("file_format", "csv")
        offered = sample_formats(job_kind)
        if fmt not in offered:
            raise ValidationError(
                {"file_format": [f"'{fmt}' is not offered for {kind}: use one of {', '.join(offered)}."]}
            )
        content, filename, content_type = sample_file(job_kind, fmt, example=example)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


SAMPLE_PARAMETERS = [
    OpenApiParameter("file_format", str, enum=list(SAMPLE_FORMATS), description="csv (default)")
]


class JobKindTemplateView(_KindFileView):
    @extend_schema(parameters=SAMPLE_PARAMETERS, responses={(200, "text/csv"): bytes})
    def get(self, request: Request, kind: str) -> HttpResponse:
        return self.sample(request, kind, example=False)


class JobKindExampleView(_KindFileView):
    @extend_schema(parameters=SAMPLE_PARAMETERS, responses={(200, "text/csv"): bytes})
    def get(self, request: Request, kind: str) -> HttpResponse:
        return self.sample(request, kind, example=True)


class _ViewCertificationsMixin:
    def check_view_certifications(self, request: Request) -> None:
        if not has_permission(request.user, VIEW_CERTIFICATIONS):
            raise PermissionDenied("You do not have permission to view certifications.")


class CertificationListView(_ViewCertificationsMixin, generics.ListAPIView[Certification]):
    serializer_class = CertificationSerializer

    def get_queryset(self) -> QuerySet[Certification]:
        self.check_view_certifications(self.request)
        certifications = Certification.objects.annotate(
            holders=Count("awards", filter=Q(awards__status="active"))
        )
        search = self.request.query_params.get("search")
        if search:
            certifications = certifications.filter(Q(code__icontains=search) | Q(title__icontains=search))
        return certifications.order_by("code")


class AwardedUsersView(AwardUsersMixin, _ViewCertificationsMixin, generics.ListAPIView[Any]):
    """GET: the awarded users of a certification. POST: Award Users."""

    serializer_class = AwardSerializer

    def get_queryset(self) -> Any:
        self.check_view_certifications(self.request)
        certification = get_object_or_404(Certification, pk=self.kwargs["pk"])
        return search_awards(awarded_users(certification.pk), self.request.query_params.get("search", ""))


class AwardedUsersExportView(_ViewCertificationsMixin, APIView):
    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        self.check_view_certifications(request)
        certification = get_object_or_404(Certification, pk=pk)
        response = StreamingHttpResponse(
            awarded_users_csv(certification), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{awarded_users_filename(certification)}"'
        return response


class MayPickPeople(BasePermission):
    """People, groups and org units are listed for the pickers of those who run jobs or view certifications."""

    message = (
        "You do not have permission to look up people: a bulk job or certification permission is needed."
    )

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated) and (
            bool(allowed_kinds(user)) or has_permission(user, VIEW_CERTIFICATIONS)
        )


class UserListView(generics.ListAPIView[User]):
    serializer_class = UserSerializer
    permission_classes = [MayPickPeople]

    def get_queryset(self) -> QuerySet[User]:
        users = User.objects.order_by("user_id")
        search = self.request.query_params.get("search")
        if search:
            users = users.filter(
                Q(user_id__icontains=search)
                | Q(username__icontains=search)
                | Q(first_name__icontains=search)
                | Q(last_name__icontains=search)
                | Q(email__icontains=search)
            )
        return users


class GroupListView(generics.ListAPIView[Group]):
    serializer_class = GroupSerializer
    permission_classes = [MayPickPeople]
    queryset = Group.objects.order_by("name")


class OrgUnitListView(generics.ListAPIView[OrgUnit]):
    serializer_class = OrgUnitSerializer
    permission_classes = [MayPickPeople]
    queryset = OrgUnit.objects.order_by("code")


class MayViewCatalogue(BasePermission):
    """The catalogue is listed for those who view it or import unenrolments."""

    message = "You do not have permission to view the catalogue."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated) and (
            has_permission(user, VIEW_CATALOGUE) or has_permission(user, IMPORT_UNENROLMENTS)
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
        activities = Activity.objects.all()
        search = self.request.query_params.get("search")
        if search:
            activities = activities.filter(
                Q(title__icontains=search) | Q(external_reference__icontains=search)
            )
        activity_type = self.request.query_params.get("type")
        if activity_type:
            activities = activities.filter(type=activity_type)
        return activities.order_by("title", "pk")

    def paginate_queryset(self, queryset: Any) -> Any:
        """Count enrolments for the page's activities only: one grouped query, however many there are."""
        page = super().paginate_queryset(queryset)
        activities = list(page if page is not None else queryset)
        counts: dict[int, Any] = {
            row["activity_id"]: row
            for row in Enrollment.objects.filter(activity__in=[a.pk for a in activities])
            .values("activity_id")
            .annotate(
                enrolled=Count("pk", filter=~Q(status=Enrollment.Status.UNENROLLED)),
                completed=Count("pk", filter=Q(completed_on__isnull=False)),
            )
            .order_by()
        }
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
            OpenApiParameter("activity", int),
            OpenApiParameter("activity_reference", str),
            OpenApiParameter("username", str),
            OpenApiParameter("status", str, enum=Enrollment.Status.values),
            OpenApiParameter("unenrolled_by_job", int),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Enrollment]:
        params = self.request.query_params
        enrollments = Enrollment.objects.select_related("user", "activity").order_by("pk")
        filters = {
            "activity": "activity_id",
            "activity_reference": "activity__external_reference",
            "username": "user__username",
            "status": "status",
            "unenrolled_by_job": "unenrolled_by_job_id",
        }
        for param, field in filters.items():
            value = params.get(param)
            if value is None:
                continue
            wanted: str | int = _positive_id(param, value) if field.endswith("_id") else value
            enrollments = enrollments.filter(**{field: wanted})
        return enrollments


def _positive_id(param: str, value: str) -> int:
    """A query parameter naming a row by its id; anything else is answered 400, never 500."""
    number = int(value) if value.isascii() and value.isdigit() else 0
    if not 0 < number < 2**63:
        raise ValidationError({param: [f"'{value}' is not an id (a whole number from 1)."]})
    return number
