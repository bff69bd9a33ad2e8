"""A session's renewal never holds a page behind another write: while something else holds the
database (on SQLite, a job's transaction; on PostgreSQL, the session's row), the page is answered and
the session is renewed by a later request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone

from access.permissions import VIEW_CERTIFICATIONS
from certdesk.sessions import RENEWED_AT, SessionStore

from .factories import UserFactory, grant


@contextmanager
def database_held(session_key: str) -> Iterator[None]:
    """Another connection holds what a session's save needs, until the block ends."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        import sqlite3

        other = sqlite3.connect(settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the database's one write lock, as a job's chunk takes it
    else:
        import psycopg

        other = psycopg.connect(
            host=settings_dict["HOST"] or None,
            port=settings_dict["PORT"] or None,
            user=settings_dict["USER"] or None,
            password=settings_dict["PASSWORD"] or None,
            dbname=settings_dict["NAME"],
        )
        other.execute("SELECT 1 FROM django_session WHERE session_key = %s FOR UPDATE", [session_key])
    try:
        yield
    finally:
        other.rollback()
        other.close()


def renewed_at() -> int:
    return int(Session.objects.get().get_decoded()[RENEWED_AT])


@pytest.mark.django_db(transaction=True)
def test_a_page_is_answered_while_the_database_is_held_and_a_later_request_renews_the_session(settings):
    settings.CERTDESK_SESSION_RENEW_WAIT_MS = 100
    client = Client()
    client.force_login(grant(UserFactory(username="ada"), VIEW_CERTIFICATIONS))
    assert client.get("/certifications/").status_code == 200
    session = Session.objects.get()
    # Last renewed two minutes ago, and ending in five.
    data = session.get_decoded()
    data[RENEWED_AT] -= 120
    Session.objects.update(
        session_data=SessionStore().encode(data), expire_date=timezone.now() + dt.timedelta(minutes=5)
    )
    stale = renewed_at()

    with database_held(session.session_key):
        held = client.get("/certifications/")

    assert held.status_code == 200 and b"Certifications" in held.content
    assert renewed_at() == stale  # put off, not lost: still due
    assert client.get("/certifications/").status_code == 200
    assert renewed_at() > stale
    idle = dt.timedelta(minutes=settings.CERTDESK_SESSION_IDLE_MINUTES)
    assert Session.objects.get().expire_date > timezone.now() + idle - dt.timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
def test_a_session_whose_contents_changed_is_saved_as_ever(settings):
    store = SessionStore()
    store["note"] = "kept"
    store.create()
    store.renewal_only = False
    store["note"] = "changed"
    store.save()
    assert SessionStore(session_key=store.session_key).load()["note"] == "changed"
