"""A learner, as the People page shows them: identity, org units and groups, certifications, licences
and enrolments (each within the requester's reach), and the history of every change to them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.reach import may_see_people, people_in_reach, sections_for
from audit.models import Event
from credentials.learners import HeldAward, Subjects, current_awards, current_licences, enrolments, history
from people.models import User

from .permissions import allowed
from .schema import RefusalSerializer

MaySeePeople = allowed(
    may_see_people, "You need a permission over learners' certifications, licences or enrolments."
)


ERRORS = {
    403: OpenApiResponse(RefusalSerializer, description="No permission over learners."),
    404: OpenApiResponse(RefusalSerializer, description="No such learner within the requester's reach."),
}


class HeldAwardSerializer(serializers.Serializer[HeldAward]):
    certification_code = serializers.CharField(source="award.certification.code")
    certification_title = serializers.CharField(source="award.certification.title")
    state = serializers.CharField()
    days_to_renew = serializers.IntegerField(allow_null=True)
    issue_date = serializers.DateField(source="award.issue_date")
    expiration_date = serializers.DateField(source="award.expiration_date", allow_null=True)
    always_valid = serializers.BooleanField(source="award.always_valid")


class LearnerLicenceSerializer(serializers.Serializer[Any]):
    license_code = serializers.CharField(source="license_type.code")
    number = serializers.CharField()
    expiration_date = serializers.DateField(allow_null=True)


class LearnerEnrolmentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    activity_id = serializers.IntegerField()
    activity_title = serializers.CharField(source="activity.title")
    status = serializers.CharField()
    completed_on = serializers.DateField(allow_null=True)


class LearnerSerializer(serializers.Serializer[Any]):
    user_id = serializers.CharField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()
    org_units = serializers.ListField(child=serializers.CharField())
    groups = serializers.ListField(child=serializers.CharField())
    certifications = HeldAwardSerializer(many=True, allow_null=True, help_text="null: outside your reach")
    licences = LearnerLicenceSerializer(many=True, allow_null=True, help_text="null: outside your reach")
    enrolments = LearnerEnrolmentSerializer(many=True, allow_null=True, help_text="null: outside your reach")


class EventSerializer(serializers.Serializer[Event]):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    subject = serializers.SerializerMethodField()
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    job_id = serializers.IntegerField(allow_null=True)
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)

    def get_subject(self, event: Event) -> str:
        """What the changed object is: a certification, an activity or a licence."""
        subjects: Subjects = self.context["subjects"]
        return subjects.of(event)


def learner_in_reach(request: Request, user_id: str) -> User:
    return get_object_or_404(people_in_reach(request.user), user_id=user_id)


class LearnerView(APIView):
    permission_classes = [MaySeePeople]

    @extend_schema(responses={200: LearnerSerializer, **ERRORS})
    def get(self, request: Request, user_id: str) -> Response:
        """A learner by User ID; each section is null when your permissions do not reach it."""
        person = learner_in_reach(request, user_id)
        sections = sections_for(request.user, person)
        data = {
            "user_id": person.user_id,
            "username": person.username,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "org_units": [u.code for u in person.org_units.order_by("code")],
            "groups": [g.name for g in person.member_of.order_by("name")],
            "certifications": current_awards(person) if sections.certifications else None,
            "licences": list(current_licences(person)) if sections.licences else None,
            "enrolments": list(enrolments(person)) if sections.enrolments else None,
        }
        return Response(LearnerSerializer(data).data)


class LearnerHistoryView(generics.ListAPIView[Event]):
    """Every change to a learner's awards, enrolments and licences you may see, newest first."""

    serializer_class = EventSerializer
    permission_classes = [MaySeePeople]

    @extend_schema(responses={200: EventSerializer(many=True), **ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def _history(self) -> tuple[QuerySet[Event], Subjects]:
        if not hasattr(self, "_found"):
            person = learner_in_reach(self.request, self.kwargs["user_id"])
            self._found = history(person, sections_for(self.request.user, person))
        return self._found

    def get_queryset(self) -> QuerySet[Event]:
        return self._history()[0]

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if "user_id" in self.kwargs:
            context["subjects"] = self._history()[1]
        return context
