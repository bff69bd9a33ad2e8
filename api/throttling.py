"""API throttles: per user, per address, a lower rate for uploads, and one for bad credentials.

Rates are ``settings.CERTDESK_API_RATES`` (from the environment), read at each request, so a changed
setting applies at once. An answer over a rate is 429 with Retry-After (DRF's ``Throttled``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class RateFromSettings(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rates: dict[str, str] = settings.CERTDESK_API_RATES
        return rates.get(self.scope or "")


class PerUserThrottle(RateFromSettings, UserRateThrottle):
    """Each signed-in user (token or session): CERTDESK_API_RATE_USER."""

    scope = "user"


class PerAddressThrottle(RateFromSettings, AnonRateThrottle):
    """Requests without a user, per address: CERTDESK_API_RATE_ANON."""

    scope = "anon"


class UploadThrottle(RateFromSettings):
    """File uploads (multipart POSTs: a new job's file), per user: CERTDESK_API_RATE_UPLOADS."""

    scope = "uploads"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.method != "POST" or not request.content_type.startswith("multipart/"):
            return None
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class BadCredentialsThrottle(RateFromSettings):
    """Requests with a token that is not valid, per address: CERTDESK_API_RATE_BAD_CREDENTIALS."""

    scope = "bad_credentials"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledTokenAuthentication(TokenAuthentication):
    """Token authentication whose failures are counted per address: DRF authenticates before it
    throttles, so without this a guessed token would always get its 401 and never a 429."""

    def authenticate(self, request: Request) -> Any:
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle = BadCredentialsThrottle()
            if not throttle.allow_request(request, None):  # type: ignore[arg-type]
                raise Throttled(wait=throttle.wait()) from None
            raise
