"""Jobs: list, submit, show, start, restore; their rows, results and original files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.db.models import QuerySet
from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from access.policy import NotAllowed, has_permission
from base.downloads import as_download, csv_stream
from base.filters import BadFilter
from base.problems import EMPTY_FILE, FileRejected, Problem, report
from bulk import files, services
from bulk.files import ORIGINAL_CONTENT_TYPES, OTHER_CONTENT_TYPE, RESULTS_CONTENT_TYPE
from bulk.filters import JobFilter
from bulk.intake import too_large
from bulk.models import Job, JobRow
from bulk.preview import PREVIEWABLE, changes_csv_rows, changes_header, preview_job
from bulk.registry import get_kind
from bulk.uploads import FORM_OVERHEAD, CappedUploadHandler, largest_limit
from bulk.visibility import jobs_visible_to

from .permissions import MayManageJobs
from .responses import problems_response
from .schema import ProblemsSerializer, RefusalSerializer
from .serializers import (
    VALIDATE_ONLY_WITH_START,
    JobCreateSerializer,
    JobRowSerializer,
    JobSerializer,
    PreviewSerializer,
    RejectionSerializer,
)

# With CERTDESK_S3_PRESIGNED_DOWNLOADS, a permitted download is a redirect to the file in the bucket.
PRESIGNED_REDIRECT = OpenApiResponse(
    description="The file, at a signed address of the storage that lasts CERTDESK_S3_PRESIGNED_SECONDS "
    "(only when the server has CERTDESK_S3_PRESIGNED_DOWNLOADS on)."
)


def form_value(request: Request, name: str) -> str:
    """A field of the multipart form, as sent."""
    return str(cast(Mapping[str, Any], request.data).get(name) or "")


# What approving or rejecting answers: the job, or why this administrator or this job's state forbids it.
DECISION_RESPONSES = {
    200: JobSerializer,
    403: OpenApiResponse(RefusalSerializer, description="Not allowed, or your own job."),
    409: OpenApiResponse(ProblemsSerializer, description="The job is not awaiting approval."),
}


class JobViewSet(viewsets.ReadOnlyModelViewSet[Job]):
    """Bulk jobs of every kind the caller may manage."""

    serializer_class = JobSerializer
    # A file is sent as a multipart form; start and restore take no body.
    parser_classes = [MultiPartParser]
    # Asked before anything else: someone who may not submit jobs gets 403 whatever the form holds.
    permission_classes = [MayManageJobs]

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        # Files are capped while they stream in, before the body is read to its end.
        request.upload_handlers = [CappedUploadHandler(request, largest_limit())]
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Job]:
        jobs = jobs_visible_to(self.request.user)
        if self.action != "list":
            return jobs
        try:
            return JobFilter(self.request.query_params, jobs).narrowed().select_related("created_by")
        except BadFilter as exc:
            raise ValidationError({exc.parameter: [str(exc)]}) from exc

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str),
            OpenApiParameter("status", str, enum=Job.Status.values),
            OpenApiParameter("search", str),
            OpenApiParameter("created_after", OpenApiTypes.DATE, description="YYYY-MM-DD, inclusive"),
            OpenApiParameter("created_before", OpenApiTypes.DATE, description="YYYY-MM-DD, inclusive"),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request={"multipart/form-data": JobCreateSerializer}, responses={201: JobSerializer})
    def create(self, request: Request) -> Response:
        if int(request.META.get("CONTENT_LENGTH") or 0) > largest_limit() + FORM_OVERHEAD:
            rejected = too_large(largest_limit())
            return problems_response(rejected.problems, rejected.headlines)
        form = JobCreateSerializer(data=request.data)
        if not form.is_valid():
            problems = [
                self._problem(field, message)
                for field, messages in form.errors.items()
                for message in messages
            ]
            return problems_response(problems, [p.message for p in problems])
        kind = get_kind(form.validated_data["kind"])
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

    def _problem(self, field: str, message: Any) -> Problem:
        if field == "title":
            # The title's rule is the service's, told in its words whichever surface submits.
            try:
                services.check_title(form_value(self.request, "title"))
            except services.JobInputError as exc:
                return exc.problems[0]
        if field == "kind" and getattr(message, "code", "") == "invalid_choice":
            return Problem(
                "unknown_kind", str(message), column="kind", value=form_value(self.request, "kind")
            )
        code = getattr(message, "code", "")
        return Problem(
            code if code == VALIDATE_ONLY_WITH_START else "invalid_request",
            f"{field}: {message}",
            column=field,
        )

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

    @extend_schema(
        request=None,
        responses=DECISION_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a job awaiting approval (another administrator's): it is queued."""
        return self._queue(request, services.approve_job, status.HTTP_200_OK)

    @extend_schema(
        request=RejectionSerializer,
        responses=DECISION_RESPONSES,
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject a job awaiting approval, with the reason: it goes back to Draft or Verified."""
        form = RejectionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._queue(
            request,
            lambda job, user: services.reject_job(job, user, form.validated_data["reason"]),
            status.HTTP_200_OK,
        )

    @extend_schema(
        request=None,
        responses={
            204: None,
            409: OpenApiResponse(
                ProblemsSerializer, description="Only a Draft or Verified job can be discarded."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def discard(self, request: Request, pk: str | None = None) -> Response:
        """Delete a draft or verified job, which changed nothing, with its files."""
        try:
            services.discard_job(self.get_object(), request.user)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.JobInputError as exc:
            return Response(
                report(exc.problems, [exc.problems[0].message], 100), status=status.HTTP_409_CONFLICT
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

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
        responses={
            200: PreviewSerializer,
            409: OpenApiResponse(
                ProblemsSerializer, description="The job has started: its rows say what it did."
            ),
        }
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """What starting this Draft, Verified or Awaiting-approval job now would do: counts per outcome,
        per target and per org unit, the rows the world has overtaken since validation, and the first
        rows it would change, before and after. Checked now, by the validation that made the job."""
        job = self.get_object()
        refused = self._not_previewable(job)
        if refused:
            return refused
        return Response(PreviewSerializer(preview_job(job).as_dict()).data)

    @extend_schema(
        responses={
            (200, RESULTS_CONTENT_TYPE): bytes,
            409: OpenApiResponse(
                ProblemsSerializer, description="The job has started: its rows say what it did."
            ),
        }
    )
    @action(detail=True, methods=["get"], url_path="preview/changes")
    def preview_changes(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        """Every row the job would change, before and after, as CSV (streamed); formulas neutralised."""
        job = self.get_object()
        refused = self._not_previewable(job)
        if refused:
            return refused
        response = StreamingHttpResponse(
            csv_stream(changes_header(get_kind(job.kind)), changes_csv_rows(job)),
            content_type=RESULTS_CONTENT_TYPE,
        )
        return as_download(response, f"job-{job.pk}-changes.csv")

    def _not_previewable(self, job: Job) -> Response | None:
        if job.status in PREVIEWABLE:
            return None
        problem = Problem(
            "not_previewable",
            f"Job {job.pk} is {job.get_status_display()}: a preview is of a job that has not started; "
            "its rows say what it did.",
        )
        return Response(report([problem], [problem.message], 100), status=status.HTTP_409_CONFLICT)

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

    @extend_schema(responses={(200, RESULTS_CONTENT_TYPE): bytes, 302: PRESIGNED_REDIRECT})
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        job = self.get_object()
        if not job.results_file:
            raise NotFound(
                "This job has no results file yet: it is written when the job ends or is verified."
            )
        return files.results_download(job)

    @extend_schema(
        responses={
            **{(200, content_type): bytes for content_type in ORIGINAL_CONTENT_TYPES.values()},
            (200, OTHER_CONTENT_TYPE): bytes,
            302: PRESIGNED_REDIRECT,
        }
    )
    @action(detail=True, methods=["get"])
    def original(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        job = self.get_object()
        if not job.original_file:
            raise NotFound("This job has no original file.")
        return files.original_download(job)
