"""REST API for licences: the available licence types (and their CSV export), and learners' licences
— list, add, edit, delete — within the caller's reach."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from base.downloads import download
from base.problems import Problem
from credentials.filters import LicenseFilter
from credentials.licences import (
    LicenseDetails,
    LicenseInputError,
    available_licences_csv,
    delete_license,
    learners_in_reach,
    licences_in_reach,
    save_license,
)
from credentials.models import License, LicenseType
from people.lists import in_person_order

from .permissions import MayChangeLicences, MaySeeLicences
from .responses import problems_400
from .serializers import Input


class LicenseTypeSerializer(serializers.ModelSerializer[LicenseType]):
    class Meta:
        model = LicenseType
        fields = ["id", "code", "name", "issuing_authority", "number_required"]


class LicenseSerializer(serializers.ModelSerializer[License]):
    username = serializers.CharField(source="user.username", read_only=True)
    license_code = serializers.CharField(source="license_type.code", read_only=True)

    class Meta:
        model = License
        fields = [
            "id",
            "username",
            "license_code",
            "number",
            "issuing_authority",
            "issue_date",
            "expiration_date",
        ]


class LicenseWriteSerializer(Input):
    username = serializers.CharField(max_length=150, required=False)
    license_code = serializers.CharField(max_length=50, required=False)
    number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    issuing_authority = serializers.CharField(max_length=200, required=False, allow_blank=True)
    issue_date = serializers.DateField(required=False, allow_null=True)
    expiration_date = serializers.DateField(required=False, allow_null=True)


class LicenseEditSerializer(Input):
    """PATCH: a licence's details; whose it is and of which type stay as they are."""

    refused = {
        name: f"A licence's {name} cannot change: delete it and add another instead."
        for name in ("username", "license_code")
    }
    number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    issuing_authority = serializers.CharField(max_length=200, required=False, allow_blank=True)
    issue_date = serializers.DateField(required=False, allow_null=True)
    expiration_date = serializers.DateField(required=False, allow_null=True)


class LicenseTypeListView(generics.ListAPIView[LicenseType]):
    """The available licences: what an import's License code may be."""

    serializer_class = LicenseTypeSerializer
    permission_classes = [MaySeeLicences]
    queryset = LicenseType.objects.order_by("code")


class LicenseTypeExportView(APIView):
    permission_classes = [MaySeeLicences]

    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request: Request) -> HttpResponse:
        return download(available_licences_csv(), "available-licenses.csv", "text/csv; charset=utf-8")


LICENCE_ORDER = ["user__username", "license_type__code", "pk"]


class LicenseListView(generics.ListAPIView[License]):
    """GET: current licences within reach (filter by license_code or username), a page at a time.
    POST: add one."""

    serializer_class = LicenseSerializer
    permission_classes = [MaySeeLicences, MayChangeLicences]

    def get_queryset(self) -> QuerySet[License]:
        params = self.request.query_params
        # The API offers these two of the list's filters (the page offers the rest).
        return LicenseFilter(
            {"license_code": params.get("license_code"), "username": params.get("username")},
            licences_in_reach(self.request.user).select_related("user", "license_type"),
        ).qs.order_by(*LICENCE_ORDER)

    def paginate_queryset(self, queryset: Any) -> Any:
        rows: Any = in_person_order(queryset, LICENCE_ORDER)  # a list that pages itself
        return super().paginate_queryset(rows)

    @extend_schema(parameters=[OpenApiParameter("license_code", str), OpenApiParameter("username", str)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=LicenseWriteSerializer, responses={201: LicenseSerializer})
    def post(self, request: Request) -> Response:
        form = LicenseWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        user = learners_in_reach(request.user).filter(username=data.get("username", "")).first()
        license_type = LicenseType.objects.filter(code=data.get("license_code", "")).first()
        problems = []
        if user is None:
            problems.append(
                Problem(
                    "unknown_user",
                    f"No learner you manage has the username '{data.get('username', '')}'.",
                    column="username",
                    value=data.get("username"),
                )
            )
        if license_type is None:
            problems.append(
                Problem(
                    "unknown_license",
                    f"'{data.get('license_code', '')}' is not in the list of available licenses.",
                    column="license_code",
                    value=data.get("license_code"),
                )
            )
        if problems:
            return problems_400(problems)
        assert user is not None and license_type is not None
        try:
            licence = save_license(
                None,
                user_id=user.pk,
                license_type=license_type,
                number=data.get("number", ""),
                details=LicenseDetails(
                    data.get("issuing_authority", ""), data.get("issue_date"), data.get("expiration_date")
                ),
                actor=request.user,
            )
        except LicenseInputError as exc:
            return problems_400(exc.problems)
        return Response(LicenseSerializer(licence).data, status=status.HTTP_201_CREATED)


class LicenseDetailView(APIView):
    permission_classes = [MaySeeLicences, MayChangeLicences]

    @extend_schema(request=LicenseEditSerializer, responses={200: LicenseSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        licence = get_object_or_404(licences_in_reach(request.user), pk=pk)
        form = LicenseEditSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            edited = save_license(
                licence,
                user_id=licence.user_id,
                license_type=licence.license_type,
                number=data.get("number", licence.number),
                details=LicenseDetails(
                    data.get("issuing_authority", licence.issuing_authority),
                    data.get("issue_date", licence.issue_date),
                    data.get("expiration_date", licence.expiration_date),
                ),
                actor=request.user,
            )
        except LicenseInputError as exc:
            return problems_400(exc.problems)
        return Response(LicenseSerializer(edited).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        licence = get_object_or_404(licences_in_reach(request.user), pk=pk)
        delete_license(licence, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
