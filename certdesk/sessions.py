"""Sessions that end after the idle time, renewed by requests without writing on every one.

Saving the session on every request (``SESSION_SAVE_EVERY_REQUEST``) makes every page view a write.
On SQLite a write waits for the database's one write lock, which a running job takes chunk after
chunk: pages then queue behind the job for seconds. Renewing a session at most once every
CERTDESK_SESSION_RENEW_SECONDS keeps the idle timeout within that margin and lets reading pages
read only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

RENEWED_AT = "_certdesk_renewed_at"


class RenewIdleSessions:
    """Mark a signed-in session modified, so that SessionMiddleware saves it with a new expiry, when it
    was last renewed CERTDESK_SESSION_RENEW_SECONDS ago or more."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty() and session.session_key:
            now = int(time.time())
            if now - int(session.get(RENEWED_AT, 0)) >= settings.CERTDESK_SESSION_RENEW_SECONDS:
                session[RENEWED_AT] = now
        return response
