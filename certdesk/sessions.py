"""Sessions that end after the idle time, renewed by requests without writing on every one.

Saving the session on every request (``SESSION_SAVE_EVERY_REQUEST``) makes every page view a write.
On SQLite a write waits for the database's one write lock, which a running job takes chunk after
chunk, and holds for the whole of a large file's validation (tens of seconds for 500,000 rows).
Renewing a session at most once every CERTDESK_SESSION_RENEW_SECONDS keeps the idle timeout within
that margin and lets reading pages read only; and a renewal that finds the database locked waits at
most CERTDESK_SESSION_RENEW_WAIT_MS, then leaves it to a later request instead of holding the page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import OperationalError, connections, router, transaction
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

RENEWED_AT = "_certdesk_renewed_at"


class SessionStore(DatabaseSessionStore):
    """Django's database sessions, whose renewal alone (nothing else in the session changed) gives way
    to a write that holds the database: the session is then renewed by a later request."""

    renewal_only = False

    def save(self, must_create: bool = False) -> None:
        using = router.db_for_write(self.model, instance=None)
        # Inside a transaction already (a view's own, or a test's), the renewal is part of it.
        if must_create or not self.renewal_only or connections[using].in_atomic_block:
            super().save(must_create)
            return
        try:
            with _waiting_briefly(using):
                super().save(must_create)
        except (OperationalError, UpdateError) as failed:
            # Another write holds the lock (SQLite's at BEGIN, the session's row on PostgreSQL, which
            # Django reports as an UpdateError caused by the lock timeout): nothing in the session is
            # lost by waiting. An UpdateError of a session deleted meanwhile is Django's to handle.
            if isinstance(failed, UpdateError) and not isinstance(failed.__context__, OperationalError):
                raise
            log.info("Session renewal put off: the database is busy with another write")


@contextmanager
def _waiting_briefly(using: str) -> Iterator[None]:
    """A transaction that waits at most CERTDESK_SESSION_RENEW_WAIT_MS for a lock, then raises."""
    wait = int(settings.CERTDESK_SESSION_RENEW_WAIT_MS)
    connection = connections[using]
    if connection.vendor != "sqlite":
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait}ms"])
            yield
        return
    # SQLite takes its write lock as the transaction begins (BEGIN IMMEDIATE): the connection's busy
    # timeout is shortened around it, then given back.
    connection.ensure_connection()
    raw = connection.connection
    (previous,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute(f"PRAGMA busy_timeout = {wait}")
    try:
        with transaction.atomic(using=using):
            yield
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(previous)}")


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
                if not session.modified:
                    session.renewal_only = True
                session[RENEWED_AT] = now
        return response
