"""Sign-in protection: the client's address, the lockout answer, and the audit trail of failures.

django-axes counts failed sign-ins per (username, address) on every form that authenticates: the
product's /login/, the admin's, the API's browsable login and token login. After
``CERTDESK_LOGIN_FAILURE_LIMIT`` failures within ``CERTDESK_LOGIN_LOCKOUT_MINUTES`` the pair is locked
for that long, even for the right password; an administrator unlocks it (the admin's "Access
attempts", or ``certdesk unlock``).
"""

from __future__ import annotations

import math
from typing import Any

from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from audit.services import record


def client_address(request: HttpRequest) -> str:
    """The address a request came from: REMOTE_ADDR, or, behind ``CERTDESK_TRUSTED_PROXIES`` proxies
    that each append to X-Forwarded-For, the address the outermost of them saw. Never a value the
    client could have written itself."""
    proxies = settings.CERTDESK_TRUSTED_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= proxies and forwarded[-proxies]:
            return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message() -> str:
    minutes = lockout_minutes()
    return (
        "Too many failed sign-in attempts for this username from your address. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an administrator to unlock it."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """429 with Retry-After: JSON for the API, the sign-in page with the message for people."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    response: HttpResponse
    if request.path.startswith("/api/v1/"):
        response = JsonResponse({"detail": lockout_message(), "code": "locked_out"}, status=429)
    else:
        response = render(request, "certdesk/locked_out.html", {"message": lockout_message()}, status=429)
    response["Retry-After"] = retry_after
    return response


@receiver(user_login_failed)
def record_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    username = str(credentials.get("username", ""))[:64]
    address = client_address(request) if request is not None else ""
    record("signin.failed", object_type="signin", object_id=username, after={"address": address})


@receiver(user_locked_out)
def record_lockout(sender: Any, request: HttpRequest, username: str, ip_address: str, **_: Any) -> None:
    record(
        "signin.locked_out",
        object_type="signin",
        object_id=str(username or "")[:64],
        after={"address": ip_address, "minutes": lockout_minutes()},
    )


@receiver(post_delete, sender=AccessAttempt)
def record_unlock(sender: Any, instance: AccessAttempt, **_: Any) -> None:
    """Deleting the attempts (the admin's "Access attempts", ``certdesk unlock``) unlocks the pair."""
    if instance.failures_since_start >= settings.AXES_FAILURE_LIMIT:
        record(
            "signin.unlocked",
            object_type="signin",
            object_id=str(instance.username or "")[:64],
            before={"address": instance.ip_address, "failures": instance.failures_since_start},
        )
