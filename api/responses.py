"""The shapes of answers every resource gives: problems (400) and CSV downloads."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from rest_framework import status
from rest_framework.response import Response

from base.problems import Problem, report


def problems_response(problems: list[Problem], headlines: list[str], total: int | None = None) -> Response:
    return Response(
        report(problems, headlines, settings.CERTDESK_MAX_LISTED_PROBLEMS, total),
        status=status.HTTP_400_BAD_REQUEST,
    )


def csv_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def problems_400(problems: list[Problem]) -> Response:
    return Response({"errors": [p.as_dict() for p in problems]}, status=status.HTTP_400_BAD_REQUEST)
