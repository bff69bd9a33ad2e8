"""People an administrator may pick: users, groups and org units."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from access.policy import Pickable, pickable
from bulk.registry import all_kinds
from bulk.visibility import picker_scope
from people.models import Group, OrgUnit, User

from .permissions import MayPickPeople
from .serializers import (
    GroupSerializer,
    OrgUnitSerializer,
    UserSerializer,
)


def requested_kind(request: Request) -> str | None:
    """The ``kind`` parameter: list the reach of that job kind's permission, as its web picker does."""
    kind = request.query_params.get("kind") or None
    if kind is not None and kind not in {k.slug for k in all_kinds()}:
        choices = ", ".join(sorted(k.slug for k in all_kinds()))
        raise ValidationError({"kind": [f"'{kind}' is not a job kind: choose one of {choices}."]})
    return kind


def picker_lists(request: Request) -> Pickable:
    search = request.query_params.get("search") or ""
    return pickable(picker_scope(request.user, requested_kind(request)), search)


KIND_PARAMETER = OpenApiParameter(
    "kind",
    str,
    description="A job kind's slug: list only the reach of that kind's permission (as its web picker "
    "does), instead of the reach of every permission that lets the requester pick people.",
    enum=sorted(k.slug for k in all_kinds()),
)
SEARCH_PARAMETER = OpenApiParameter("search", str, description="Part of a name, ID, code or email.")


@extend_schema_view(get=extend_schema(parameters=[KIND_PARAMETER, SEARCH_PARAMETER]))
class UserListView(generics.ListAPIView[User]):
    """People within the requester's reach, as the web pickers list them (inactive accounts included,
    with ``is_active``)."""

    serializer_class = UserSerializer
    permission_classes = [MayPickPeople]

    def get_queryset(self) -> QuerySet[User]:
        return picker_lists(self.request).users.order_by("user_id")


@extend_schema_view(get=extend_schema(parameters=[KIND_PARAMETER, SEARCH_PARAMETER]))
class GroupListView(generics.ListAPIView[Group]):
    """Groups within the requester's reach (all of them for an unconstrained administrator)."""

    serializer_class = GroupSerializer
    permission_classes = [MayPickPeople]

    def get_queryset(self) -> QuerySet[Group]:
        return picker_lists(self.request).groups.order_by("name")


@extend_schema_view(get=extend_schema(parameters=[KIND_PARAMETER, SEARCH_PARAMETER]))
class OrgUnitListView(generics.ListAPIView[OrgUnit]):
    """Org units within the requester's reach, sub-units included."""

    serializer_class = OrgUnitSerializer
    permission_classes = [MayPickPeople]

    def get_queryset(self) -> QuerySet[OrgUnit]:
        return picker_lists(self.request).org_units.order_by("code")
