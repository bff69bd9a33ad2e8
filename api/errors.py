"""The API's answers when it refuses: one JSON shape per kind of refusal, whoever raises it.

A 400 or 409 is a list of problems (``base.problems.report``: each with code, message, row, column
and value), whether it comes from a view, a serializer, DRF's parsers or Django itself. Every other
refusal (401, 403, 404, 405, 415, 429, 500) is ``{"detail": "…"}``. Addresses under /api/ that match
no route, and server errors there, answer in JSON too instead of a web page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from base.problems import Problem, report

API_PREFIX = "/api/"


def problems_from(detail: Any, field: str | None = None) -> list[Problem]:
    """DRF's error detail (a string, a list, or a dict by field, nested) as a flat list of problems."""
    if isinstance(detail, dict):
        return [p for name, inner in detail.items() for p in problems_from(inner, _column(field, name))]
    if isinstance(detail, list):
        return [p for inner in detail for p in problems_from(inner, field)]
    code = getattr(detail, "code", None) or "invalid"
    message = str(detail)
    # A message that already names its parameter ("page must be …") is not prefixed with it again.
    named = not field or message.startswith((field, f"'{field}'"))
    return [Problem(str(code), message if named else f"{field}: {message}", column=field)]


def _column(parent: str | None, name: Any) -> str | None:
    if name in ("non_field_errors", "detail"):
        return parent
    return f"{parent}.{name}" if parent else str(name)


def problems_body(problems: list[Problem]) -> dict[str, Any]:
    return report(problems, [p.message for p in problems], settings.CERTDESK_MAX_LISTED_PROBLEMS)


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with every 400 in the problems shape."""
    response = exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_400_BAD_REQUEST:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        response.data = problems_body(problems_from(detail))
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        problem = Problem(
            "bad_request", "The request cannot be read: " + (str(exception) or "it is malformed.")
        )
        return JsonResponse(problems_body([problem]), status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Nothing is at this address: see /api/docs/ for the API."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "certdesk met an error; it has been logged."}, status=500)
    return defaults.server_error(request)
