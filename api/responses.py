"""The shape of the problems (400) every resource answers with, built on ``base.problems``."""

from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.response import Response

from base.problems import Problem, report


def problems_response(problems: list[Problem], headlines: list[str], total: int | None = None) -> Response:
    """A rejected file or request: the headlines, and the problems up to the configured cap."""
    return Response(
        report(problems, headlines, settings.CERTDESK_MAX_LISTED_PROBLEMS, total),
        status=status.HTTP_400_BAD_REQUEST,
    )


def problems_400(problems: list[Problem]) -> Response:
    """Input that cannot stand (an award's terms, a licence): every problem, in the one error shape."""
    return Response({"errors": [p.as_dict() for p in problems]}, status=status.HTTP_400_BAD_REQUEST)
