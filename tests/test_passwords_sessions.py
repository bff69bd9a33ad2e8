"""Passwords need 12 characters and must not be common, numeric or like the user's name; a session
ends after the idle time; audit events cannot be added, changed or deleted in the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from audit.models import Event
from audit.services import record
from certdesk.sessions import RENEWED_AT

from .factories import UserFactory


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short-pw-1", "This password is too short. It must contain at least 12 characters."),
        ("password1234", "This password is too common."),
        ("583920174625", "This password is entirely numeric."),
        ("alice.walker-2026", "The password is too similar to the username."),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(db, password, message):
    user = UserFactory.build(username="alice.walker-2026", first_name="Alice", last_name="Walker")
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)
    assert message in refused.value.messages


def test_a_long_uncommon_password_is_accepted(db):
    validate_password("tangerine-orbit-47-lantern", UserFactory.build())


def test_a_session_ends_after_the_idle_time_and_each_request_starts_it_again(settings, alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/jobs/").status_code == 200
    session = Session.objects.get()
    idle = dt.timedelta(minutes=settings.CERTDESK_SESSION_IDLE_MINUTES)
    assert abs(session.expire_date - (timezone.now() + idle)) < dt.timedelta(minutes=1)

    # 55 minutes on: the session would end in 5, and was last renewed 55 minutes ago
    session = Session.objects.get()
    data = session.get_decoded()
    data[RENEWED_AT] -= 55 * 60
    Session.objects.update(
        expire_date=timezone.now() + dt.timedelta(minutes=5), session_data=SessionStore().encode(data)
    )
    assert client.get("/jobs/").status_code == 200
    assert Session.objects.get().expire_date > timezone.now() + idle - dt.timedelta(minutes=1)  # renewed

    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))  # idle too long
    response = client.get("/jobs/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_audit_events_are_read_only_in_the_admin(db):
    boss = UserFactory(username="root", is_staff=True, is_superuser=True)
    event = record("award.removed", actor=boss, object_type="credentials.award", object_id="7")
    client = Client()
    client.force_login(boss)

    assert client.get(f"/admin/audit/event/{event.pk}/change/").status_code == 200  # it can be read
    assert client.get("/admin/audit/event/add/").status_code == 403
    assert client.post(f"/admin/audit/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(f"/admin/audit/event/{event.pk}/change/", {"action": "award.restored"})
    listing = client.get("/admin/audit/event/")
    assert b"Delete selected" not in listing.content
    event.refresh_from_db()
    assert event.action == "award.removed" and Event.objects.count() == 1


def test_reading_pages_renews_the_session_once_a_minute_not_on_every_request(settings, alice):
    """A page view is not a write: within CERTDESK_SESSION_RENEW_SECONDS of its last renewal the
    session is left as it is (on SQLite a write would wait for a running job's write lock)."""
    client = Client()
    client.force_login(alice)
    assert client.get("/jobs/").status_code == 200
    renewed = Session.objects.get().expire_date
    Session.objects.update(expire_date=renewed - dt.timedelta(seconds=30))
    assert client.get("/jobs/").status_code == 200
    assert Session.objects.get().expire_date == renewed - dt.timedelta(seconds=30)  # not written
