"""Job kinds: what each takes (columns, limits), with templates and examples to download."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from base.downloads import download
from bulk.registry import get_kind, registry
from bulk.samples import SAMPLE_FORMATS, sample_file, sample_formats
from bulk.visibility import allowed_kinds

# What JobKind.describe() gives, for the schema ("required" and "help" are not names a serializer's
# attributes may have).
JOB_KIND = inline_serializer(
    "JobKind",
    {
        "kind": serializers.CharField(),
        "label": serializers.CharField(),
        "tool_name": serializers.CharField(),
        "permission": serializers.CharField(),
        "max_bytes": serializers.IntegerField(),
        "max_rows": serializers.IntegerField(),
        "extensions": serializers.ListField(child=serializers.CharField()),
        "validation": serializers.ChoiceField(choices=["strict", "per_row"]),
        "columns": inline_serializer(
            "JobKindColumn",
            {
                "name": serializers.CharField(),
                "required": serializers.BooleanField(),
                "blank_ok": serializers.BooleanField(),
                "help": serializers.CharField(),
            },
            many=True,
        ),
    },
    many=True,
)


class JobKindListView(APIView):
    @extend_schema(responses=JOB_KIND)
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
        return download(content, filename, content_type)


# Each format in its own content type: CSV by default, the others as ?file_format= asks.
SAMPLE_RESPONSES: dict[Any, Any] = {
    (200, content_type.split(";")[0]): bytes for _, content_type in SAMPLE_FORMATS.values()
}
SAMPLE_PARAMETERS = [
    OpenApiParameter("file_format", str, enum=list(SAMPLE_FORMATS), description="csv (default)")
]


class JobKindTemplateView(_KindFileView):
    @extend_schema(parameters=SAMPLE_PARAMETERS, responses=SAMPLE_RESPONSES)
    def get(self, request: Request, kind: str) -> HttpResponse:
        return self.sample(request, kind, example=False)


class JobKindExampleView(_KindFileView):
    @extend_schema(parameters=SAMPLE_PARAMETERS, responses=SAMPLE_RESPONSES)
    def get(self, request: Request, kind: str) -> HttpResponse:
        return self.sample(request, kind, example=True)
