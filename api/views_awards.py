"""REST API for awarding: Award Users (POST /certifications/{id}/awards/), editing and unassigning an
award, and the completions that award certifications automatically."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import AWARD_CERTIFICATIONS, COMPLETE_ENROLMENTS, RECORD_EXTERNAL_TRAINING
from access.policy import has_permission
from base.problems import Problem
from bulk.kinds.certification_award import award_users
from credentials.awarding import AwardInputError, AwardTerms, association_type_named, default_terms
from credentials.edits import awards_in_reach, edit_award, unassign_award
from credentials.models import Award, Certification
from credentials.picks import Picks
from learning.models import Enrollment, ExternalActivity
from learning.services import complete_enrollment, record_external_training
from people.models import User

from .serializers import AwardSerializer, JobSerializer


def problems_400(problems: list[Problem]) -> Response:
    return Response({"errors": [p.as_dict() for p in problems]}, status=status.HTTP_400_BAD_REQUEST)


def require_award_permission(request: Request) -> None:
    if not has_permission(request.user, AWARD_CERTIFICATIONS):
        raise PermissionDenied("You do not have permission to award and edit certifications.")


class AwardUsersSerializer(serializers.Serializer[Any]):
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
    association_type = serializers.CharField(required=False, default="manual")
    external_activity = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


def terms_from(
    data: dict[str, Any], certification: Certification, current: Award | None = None
) -> AwardTerms:
    """The award terms a request gives, the rest from the award being edited or the certification."""
    association = association_type_named(str(data.get("association_type", "")))
    if association is None:
        raise AwardInputError(
            [
                Problem(
                    "unknown_association_type",
                    f"'{data.get('association_type')}' is not an association type: use manual, "
                    "activity_completion or external_training.",
                    column="association_type",
                    value=str(data.get("association_type")),
                )
            ]
        )
    if current is not None:
        issue = data.get("issue_date", current.issue_date)
        always = data.get("always_valid", current.always_valid if "expiration_date" not in data else False)
        expiration = data.get("expiration_date", None if always else current.expiration_date)
    else:
        issue = data.get("issue_date") or timezone.localdate()
        always = bool(data.get("always_valid", False))
        expiration = data.get("expiration_date")
        if expiration is None and not always:
            return default_terms(certification, issue, association, data.get("external_activity", ""))
    return AwardTerms(
        issue, None if always else expiration, bool(always), association, data.get("external_activity", "")
    )


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
        require_award_permission(request)
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
            terms = terms_from(data, certification)
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


class AwardEditSerializer(serializers.Serializer[Any]):
    issue_date = serializers.DateField(required=False)
    expiration_date = serializers.DateField(required=False, allow_null=True)
    always_valid = serializers.BooleanField(required=False)
    association_type = serializers.CharField(required=False)
    external_activity = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AwardDetailView(APIView):
    """Edit an award (PATCH) or unassign it (DELETE: removed, recorded, and can be reinstated)."""

    def get_award(self, request: Request, pk: int) -> Award:
        require_award_permission(request)
        return get_object_or_404(awards_in_reach(request.user), pk=pk)

    @extend_schema(request=AwardEditSerializer, responses={200: AwardSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        award = self.get_award(request, pk)
        form = AwardEditSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        data.setdefault("association_type", award.association_type)
        data.setdefault("external_activity", award.external_activity)
        try:
            edited = edit_award(
                award, terms_from(data, award.certification, current=award), actor=request.user
            )
        except AwardInputError as exc:
            return problems_400(exc.problems)
        return Response(AwardSerializer(edited).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        award = self.get_award(request, pk)
        if award.status != Award.Status.ACTIVE:
            return problems_400([Problem("not_active", "This award has already been unassigned.")])
        unassign_award(award, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CompletionSerializer(serializers.Serializer[Any]):
    completed_on = serializers.DateField(required=False)


COMPLETION_ANSWER = inline_serializer(
    "CompletionAnswer",
    {"recorded": serializers.BooleanField(), "awarded": serializers.ListField(child=serializers.CharField())},
)


class CompleteEnrollmentView(APIView):
    """Mark an enrolment completed; certifications assigned to its activity are awarded, once."""

    @extend_schema(request=CompletionSerializer, responses={200: COMPLETION_ANSWER})
    def post(self, request: Request, pk: int) -> Response:
        if not has_permission(request.user, COMPLETE_ENROLMENTS):
            raise PermissionDenied("You do not have permission to record completions.")
        enrollment = get_object_or_404(Enrollment, pk=pk)
        form = CompletionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if enrollment.status == Enrollment.Status.UNENROLLED:
            return problems_400([Problem("unenrolled", "This enrolment has ended; it cannot be completed.")])
        done = complete_enrollment(
            enrollment.pk, form.validated_data.get("completed_on") or timezone.localdate(), actor=request.user
        )
        return Response({"recorded": done.recorded, "awarded": [c.code for c in done.awarded]})


class ExternalTrainingSerializer(serializers.Serializer[Any]):
    user_id = serializers.CharField(max_length=100)
    external_activity = serializers.CharField(max_length=200, help_text="Its title")
    completed_on = serializers.DateField()


class ExternalTrainingView(APIView):
    """Record a completed external training activity; certifications assigned to it are awarded, once."""

    @extend_schema(
        request=ExternalTrainingSerializer, responses={201: COMPLETION_ANSWER, 200: COMPLETION_ANSWER}
    )
    def post(self, request: Request) -> Response:
        if not has_permission(request.user, RECORD_EXTERNAL_TRAINING):
            raise PermissionDenied("You do not have permission to record external training.")
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
