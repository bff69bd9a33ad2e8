"""People an administrator may pick: users, groups and org units."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from rest_framework import generics
from rest_framework.permissions import BasePermission

from access.permissions import VIEW_CERTIFICATIONS
from access.policy import has_permission
from bulk.visibility import allowed_kinds
from people.models import Group, OrgUnit, User

from .serializers import (
    GroupSerializer,
    OrgUnitSerializer,
    UserSerializer,
)


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
