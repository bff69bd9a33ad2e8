"""Certifications and their awards: list, awarded users (with Award Users), export; edit and unassign an award."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from base.downloads import as_download
from base.problems import Problem
from bulk.kinds.certification_award import award_users
from credentials.awarding import AwardInputError, terms_from_input
from credentials.edits import awards_in_reach, edit_award, unassign_award
from credentials.exports import awarded_users_csv, awarded_users_filename
from credentials.filters import AwardFilter
from credentials.models import Award, Certification
from credentials.picks import Picks
from credentials.services import awarded_users
from people.lists import in_person_order
from people.models import User

from .permissions import MayAwardCertifications, MaySeeCertifications
from .responses import problems_400, problems_response
from .schema import ProblemsSerializer
from .serializers import (
    AwardSerializer,
    CertificationSerializer,
    Input,
    JobSerializer,
)


class CertificationListView(generics.ListAPIView[Certification]):
    serializer_class = CertificationSerializer
    permission_classes = [MaySeeCertifications]

    def get_queryset(self) -> QuerySet[Certification]:
        certifications = Certification.objects.with_holders()
        search = self.request.query_params.get("search")
        if search:
            certifications = certifications.filter(Q(code__icontains=search) | Q(title__icontains=search))
        return certifications.order_by("code")


ASSOCIATION_TYPE_REFUSED = (
    "'{input}' is not an association type: use manual, activity_completion or external_training."
)


class AwardUsersSerializer(Input):
    users = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
    groups = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, default=list
    )
    org_units = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, default=list
    )
    include_sub_units = serializers.BooleanField(required=False, default=True)
    issue_date = serializers.DateField(required=False)
    expiration_date = serializers.DateField(required=False, allow_null=True)
    always_valid = serializers.BooleanField(required=False)
    association_type = serializers.ChoiceField(
        choices=Award.AssociationType.choices,
        required=False,
        default="manual",
        allow_blank=True,
        error_messages={"invalid_choice": ASSOCIATION_TYPE_REFUSED},
    )
    external_activity = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class AwardUsersMixin:
    """POST on a certification's awards: Award Users — up to 100 users at once (201), more as a
    background job (202)."""

    @extend_schema(
        request=AwardUsersSerializer,
        responses={
            201: inline_serializer(
                "AwardedNow",
                {
                    "awarded": serializers.IntegerField(),
                    "skipped": serializers.IntegerField(),
                    "outside_scope": serializers.IntegerField(),
                },
            ),
            202: JobSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        certification = get_object_or_404(Certification, pk=pk)
        form = AwardUsersSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        if data.get("association_type") in (None, ""):
            data["association_type"] = "manual"
        keys = list(dict.fromkeys(data["users"]))
        found = dict(User.objects.filter(user_id__in=keys).values_list("user_id", "pk"))
        unknown = [k for k in keys if k not in found]
        if unknown:
            return problems_400(
                [
                    Problem("unknown_user", f"No user has the User ID '{k}'.", column="users", value=k)
                    for k in unknown
                ]
            )
        if not (keys or data["groups"] or data["org_units"]):
            return problems_400(
                [Problem("nobody_picked", "Pick at least one user, group or org unit.", column="users")]
            )
        try:
            terms = terms_from_input(data, certification)
            outcome = award_users(
                certification,
                Picks(
                    tuple(found[k] for k in keys),
                    tuple(data["groups"]),
                    tuple(data["org_units"]),
                    data["include_sub_units"],
                ),
                terms,
                actor=request.user,
            )
        except AwardInputError as exc:
            return problems_400(exc.problems)
        if outcome.job is not None:
            return Response(
                JobSerializer(outcome.job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
            )
        return Response(
            {"awarded": outcome.awarded, "skipped": outcome.skipped, "outside_scope": outcome.outside_scope},
            status=status.HTTP_201_CREATED,
        )


class AwardedUsersView(AwardUsersMixin, generics.ListAPIView[Any]):
    """GET: the awarded users of a certification. POST: Award Users."""

    serializer_class = AwardSerializer
    # Reading needs "view certifications", awarding "award and edit certifications" (not both).
    permission_classes = [MaySeeCertifications, MayAwardCertifications]

    def get_queryset(self) -> Any:
        certification = get_object_or_404(Certification, pk=self.kwargs["pk"])
        return AwardFilter(
            {"search": self.request.query_params.get("search")}, awarded_users(certification.pk)
        ).qs

    def paginate_queryset(self, queryset: Any) -> Any:
        rows: Any = in_person_order(queryset, ["user__user_id", "pk"])  # a list that pages itself
        return super().paginate_queryset(rows)


class AwardedUsersExportView(APIView):
    permission_classes = [MaySeeCertifications]

    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        certification = get_object_or_404(Certification, pk=pk)
        response = StreamingHttpResponse(
            awarded_users_csv(certification), content_type="text/csv; charset=utf-8"
        )
        return as_download(response, awarded_users_filename(certification))


class AwardEditSerializer(Input):
    issue_date = serializers.DateField(required=False)
    expiration_date = serializers.DateField(required=False, allow_null=True)
    always_valid = serializers.BooleanField(required=False)
    association_type = serializers.ChoiceField(
        choices=Award.AssociationType.choices,
        required=False,
        error_messages={"invalid_choice": ASSOCIATION_TYPE_REFUSED},
    )
    external_activity = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AwardDetailView(APIView):
    """Edit an award (PATCH) or unassign it (DELETE: removed, recorded, and can be reinstated)."""

    permission_classes = [MayAwardCertifications]

    def get_award(self, request: Request, pk: int) -> Award:
        return get_object_or_404(awards_in_reach(request.user), pk=pk)

    @extend_schema(request=AwardEditSerializer, responses={200: AwardSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        award = self.get_award(request, pk)
        form = AwardEditSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            edited = edit_award(
                award,
                terms_from_input(form.validated_data, award.certification, current=award),
                actor=request.user,
            )
        except AwardInputError as exc:
            return problems_400(exc.problems)
        return Response(AwardSerializer(edited).data)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(ProblemsSerializer, description="The award has already been unassigned."),
        }
    )
    def delete(self, request: Request, pk: int) -> Response:
        award = self.get_award(request, pk)
        try:
            unassign_award(award, actor=request.user)
        except AwardInputError as exc:
            # The award is in a state that forbids it (already unassigned): a conflict, not bad input.
            return problems_response(
                exc.problems, [p.message for p in exc.problems], status=status.HTTP_409_CONFLICT
            )
        return Response(status=status.HTTP_204_NO_CONTENT)
