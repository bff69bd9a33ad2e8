"""Refuse control characters in what a request sends, before any of it reaches a query.

PostgreSQL will not store or compare a text value holding NUL: a search for ``%00`` or a job title
with a NUL in it fails inside the database, and the administrator sees a 500. The other C0 controls
(and DEL) are never typed by a person either; stored, they break exports and results files. So every
query parameter, every form field, every string in a JSON body and the path itself are checked
first, and a request holding one of them is answered 400, naming each offending parameter, in the
one error shape the API uses (or a page saying what to do). Tab, line feed and carriage return are
text like any other and stay allowed: they are what a comment box sends.

A multipart body is not read here: the upload views choose their upload handlers (the size cap of the
job kind) before the body is read, and reading it here would take that choice away. Its fields are
checked the moment a view, or DRF's parser, reads them instead, and the refusal is raised from there.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.request import RawPostDataException
from django.shortcuts import render
from django.utils.datastructures import MultiValueDict
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation

from base.problems import CONTROL_CHARACTERS, Problem, report

CODE = "invalid_characters"
# C0 controls and DEL, except tab (U+0009), line feed (U+000A) and carriage return (U+000D).
REFUSED = CONTROL_CHARACTERS
WHAT_TO_DO = "Remove the control character and try again."
API_PREFIX = "/api/"
JSON_TYPES = ("application/json",)
BODY_METHODS = ("POST", "PUT", "PATCH")
_FOUND = "_certdesk_refused_characters"  # the problems a lazy check found, kept on the request


class RefusedCharacters(BadRequest):
    """Raised when fields are checked as they are read (multipart bodies). The middleware answers it;
    being a BadRequest, anything that meets it without the middleware still answers 400, not 500."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(" ".join(p.message for p in problems))


def visible(text: str) -> str:
    """``text`` with each refused character written out as ``\\u0000``, so it can be shown."""
    return REFUSED.sub(lambda m: f"\\u{ord(m.group()):04X}", text)


def _problem(what: str, name: str, found: str, *, is_name: bool = False) -> Problem:
    """``what`` is Parameter (query string), Field (form or JSON) or Body (a JSON body that is one string)."""
    shown = visible(name)
    if is_name:
        subject = f"The name of {what.lower()} '{shown}'"
    elif what == "Body":
        subject = "The request body"
    elif name:
        subject = f"{what} '{shown}'"
    else:
        subject = f"A {what.lower()} with no name"
    message = f"{subject} contains a control character (U+{ord(found):04X}), which is not accepted."
    return Problem(CODE, message, column=shown or None)


def check_pairs(pairs: Iterable[tuple[str, list[Any]]], what: str) -> list[Problem]:
    """Each name and its string values, as ``QueryDict.lists()`` gives them."""
    problems = []
    for name, values in pairs:
        found = REFUSED.search(name)
        if found:
            problems.append(_problem(what, name, found.group(), is_name=True))
            continue
        for value in values:
            found = REFUSED.search(value) if isinstance(value, str) else None
            if found:
                problems.append(_problem(what, name, found.group()))
                break
    return problems


def _strings(data: Any) -> Iterator[tuple[str, str, bool]]:
    """Every string in parsed JSON, as (where, string, is it a key), walked without recursion."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item, False
        elif isinstance(item, dict):
            for key, value in item.items():
                inner = f"{where}.{key}" if where else str(key)
                if isinstance(key, str):
                    yield inner, key, True
                stack.append((inner, value))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", value) for i, value in enumerate(item))


def check_json(data: Any) -> list[Problem]:
    """Every string (and key) in a parsed JSON document, named by its path (``details.number``)."""
    problems = []
    for where, text, is_key in _strings(data):
        found = REFUSED.search(text)
        if found:
            problems.append(_problem("Field" if where else "Body", where, found.group(), is_name=is_key))
    return sorted(problems, key=lambda p: p.column or "")


def check_form(post: QueryDict | None, files: MultiValueDict[str, Any] | None) -> list[Problem]:
    """A parsed form: every field's name and value, and the names of its file fields (not their
    contents, and not their file names, which Django has already stripped of such characters)."""
    problems = check_pairs(post.lists(), "Field") if post is not None else []
    if files is not None:
        problems += check_pairs(((name, []) for name in files), "Field")
    return problems


class RefuseControlCharacters:
    """Middleware: a request holding a control character is answered 400, never passed on.

    Put it after AuthenticationMiddleware, so that the page it answers with shows the signed-in
    administrator's navigation. It changes no data and answers before any view, so CSRF protection
    is not weakened: a refused request does nothing at all.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problems = self.check(request)
        if problems:
            return refusal(request, problems)
        if request.method == "POST" and request.content_type == "multipart/form-data":
            self.check_when_read(request)
        response = self.get_response(request)
        # A lazy check that fired outside a view (in a middleware's process_view, say) was answered
        # by Django's plain 400; answer it as every other refusal is answered.
        found = getattr(request, _FOUND, None)
        if found and response.status_code >= 400 and not getattr(response, _FOUND, False):
            return refusal(request, found)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RefusedCharacters):
            return refusal(request, exception.problems)
        return None

    def check(self, request: HttpRequest) -> list[Problem]:
        """What can be checked before the view: the path, the query string, and a form-encoded or
        JSON body (read here, and kept for the view to read again)."""
        problems = []
        found = REFUSED.search(request.path)
        if found:
            character = f"U+{ord(found.group()):04X}"
            problems.append(
                Problem(
                    CODE, f"The address contains a control character ({character}), which is not accepted."
                )
            )
        # Too many fields: the view meets the same error and answers it.
        with contextlib.suppress(SuspiciousOperation):
            problems += check_pairs(request.GET.lists(), "Parameter")
        if request.method in BODY_METHODS:
            problems += self.check_body(request)
        return problems

    def check_body(self, request: HttpRequest) -> list[Problem]:
        content_type = request.content_type or ""
        is_form = content_type == "application/x-www-form-urlencoded"
        is_json = content_type in JSON_TYPES or content_type.endswith("+json")
        if not (is_form or is_json):
            return []
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            if limit is not None and int(request.META.get("CONTENT_LENGTH") or 0) > limit:
                return []  # too large to read here; the view refuses it as it would have anyway
            body = request.body
        except (ValueError, OSError, RequestDataTooBig, RawPostDataException):
            return []  # the view meets the same error and answers it
        if is_form:
            # Parsed apart from request.POST: once that is loaded, a view can no longer choose its
            # upload handlers, and the upload views choose theirs whatever the content type.
            try:
                form = QueryDict(body, encoding=request.encoding)
            except SuspiciousOperation:
                return []
            return check_pairs(form.lists(), "Field")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return []  # not JSON: the view says so
        return check_json(data)

    @staticmethod
    def check_when_read(request: HttpRequest) -> None:
        """Check a multipart form's fields when they are parsed, with whatever upload handlers the view
        chose; a refusal is raised from the view that read them and answered by process_exception."""
        load = request._load_post_and_files

        def load_and_check() -> None:
            load()
            problems = check_form(getattr(request, "_post", None), getattr(request, "_files", None))
            if problems:
                setattr(request, _FOUND, problems)
                raise RefusedCharacters(problems)

        setattr(request, "_load_post_and_files", load_and_check)  # noqa: B010  (a method, per request)


class _CheckedParser:
    """A DRF parser whose result is checked before any view sees it."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.media_type = parser.media_type

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parser, name)

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            parsed = self.parser.parse(stream, media_type, parser_context)
        except RecursionError as exc:  # JSON nested thousands deep: DRF catches only ValueError
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        data = getattr(parsed, "data", parsed)
        if isinstance(data, QueryDict):
            problems = check_form(data, getattr(parsed, "files", None))
        else:
            problems = check_json(data)
        if problems:
            request = (parser_context or {}).get("request")
            if request is not None:
                setattr(request._request, _FOUND, problems)
            raise RefusedCharacters(problems)
        return parsed


class CheckedContentNegotiation(DefaultContentNegotiation):
    """DRF parses API bodies itself (multipart ones too, with the view's upload handlers): every parser
    it picks has its result checked for control characters, as the middleware checks the rest."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        parser = super().select_parser(request, parsers)
        return _CheckedParser(parser) if parser is not None else None


def refusal(request: HttpRequest, problems: list[Problem]) -> HttpResponse:
    """The 400: the API's error shape under /api/, a page everywhere else."""
    if len(problems) == 1:
        headline = problems[0].message
    else:
        headline = f"{len(problems)} parameters or fields contain a control character, which is not accepted."
    response: HttpResponse
    if request.path.startswith(API_PREFIX):
        body = report(problems, [f"{headline} {WHAT_TO_DO}"], settings.CERTDESK_MAX_LISTED_PROBLEMS)
        response = JsonResponse(body, status=400)
    else:
        path_is_clean = not REFUSED.search(request.path)
        response = render(
            request,
            "certdesk/control_characters.html",
            {
                "headline": headline,
                "problems": problems[: settings.CERTDESK_MAX_LISTED_PROBLEMS],
                "more": max(0, len(problems) - settings.CERTDESK_MAX_LISTED_PROBLEMS),
                "what_to_do": WHAT_TO_DO,
                "back": request.path if path_is_clean and request.method == "GET" else "",
            },
            status=400,
        )
    setattr(response, _FOUND, True)
    return response
