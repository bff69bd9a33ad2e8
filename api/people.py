"""People an administrator may pick: users, groups and org units."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from rest_framework import generics

from people.models import Group, OrgUnit, User

from .permissions import MayPickPeople
from .serializers import (
    GroupSerializer,
    OrgUnitSerializer,
    UserSerializer,
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
