"""People an administrator may pick: users, groups and org units."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from rest_framework import generics

from access.policy import people_in
from bulk.visibility import picker_scope
from people.models import Group, OrgUnit, User

from .permissions import MayPickPeople
from .serializers import (
    GroupSerializer,
    OrgUnitSerializer,
    UserSerializer,
)


class UserListView(generics.ListAPIView[User]):
    """People within the requester's reach, as the web pickers list them."""

    serializer_class = UserSerializer
    permission_classes = [MayPickPeople]

    def get_queryset(self) -> QuerySet[User]:
        users = User.objects.order_by("user_id")
        reach = people_in(picker_scope(self.request.user))
        if reach is not None:
            users = users.filter(reach)
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
    """Groups within the requester's reach (all of them for an unconstrained administrator)."""

    serializer_class = GroupSerializer
    permission_classes = [MayPickPeople]

    def get_queryset(self) -> QuerySet[Group]:
        scope = picker_scope(self.request.user)
        groups = Group.objects.order_by("name")
        return groups if scope.everywhere else groups.filter(pk__in=scope.groups)


class OrgUnitListView(generics.ListAPIView[OrgUnit]):
    """Org units within the requester's reach, sub-units included."""

    serializer_class = OrgUnitSerializer
    permission_classes = [MayPickPeople]

    def get_queryset(self) -> QuerySet[OrgUnit]:
        scope = picker_scope(self.request.user)
        units = OrgUnit.objects.order_by("code")
        return units if scope.everywhere else units.filter(pk__in=scope.units)
