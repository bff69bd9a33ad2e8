"""The one decorator that guards a page: signed in, and allowed by a rule of ``access.rules`` (or the
engine's) or by a permission."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from access.rules import Rule, as_rule

View = TypeVar("View", bound=Callable[..., Any])


def allowed(rule: Rule | str, message: str = "") -> Callable[[View], View]:
    """Signed in (else the sign-in page) and passing ``rule`` (else 403, the page saying ``message``,
    or that a permission is missing when there is none).

    Which object the user then sees is the view's business: one outside their reach is a 404, so
    that it does not leak.
    """
    check = as_rule(rule)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied(message) if message else PermissionDenied()
            response: HttpResponse = view(request, *args, **kwargs)
            return response

        wrapped: View = login_required(checked)  # type: ignore[assignment]
        return wrapped

    return decorate
