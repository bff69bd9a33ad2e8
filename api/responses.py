"""The shape of the problems (400) every resource answers with, built on ``base.problems``."""

from __future__ import annotations

from django.conf import settings
from rest_framework import status as http
from rest_framework.response import Response

from base.problems import Problem, report


def problems_response(
    problems: list[Problem],
    headlines: list[str],
    total: int | None = None,
    status: int = http.HTTP_400_BAD_REQUEST,
) -> Response:
    """A rejected file or request: the headlines, and the problems up to the configured cap."""
    return Response(report(problems, headlines, settings.CERTDESK_MAX_LISTED_PROBLEMS, total), status=status)


def problems_400(problems: list[Problem]) -> Response:
    """Input that cannot stand (an award's terms, a licence): every problem, in the one error shape."""
    return problems_response(problems, [p.message for p in problems])
