"""Certifications managed in the product: create one with what awards it automatically, edit its
validity (awards already made keep their dates), refused input named by field; audited; permission."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from access.permissions import MANAGE_CERTIFICATIONS, VIEW_CERTIFICATIONS
from audit.models import Event
from credentials.models import Certification
from learning.models import Activity, ExternalActivity
from learning.services import complete_enrollment

from .factories import AwardFactory, CertificationFactory, UserFactory, enrol, grant


def manager() -> Client:
    client = Client()
    client.force_login(grant(UserFactory(username="cara"), MANAGE_CERTIFICATIONS, VIEW_CERTIFICATIONS))
    return client


def test_a_new_certification_with_an_activity_that_awards_it_on_completion(db):
    course = Activity.objects.create(title="Sepsis Awareness", external_reference="SEP-1")
    day = ExternalActivity.objects.create(title="Regional sepsis day")
    client = manager()

    created = client.post(
        "/certifications/new/",
        {
            "code": "CERT-SEP",
            "title": "Sepsis",
            "validity_days": "365",
            "renewal_window_days": "30",
            "activities": [course.pk],
            "external_activities": [day.pk],
        },
        follow=True,
    )

    cert = Certification.objects.get(code="CERT-SEP")
    assert "Certification CERT-SEP is created." in created.content.decode()
    assert (cert.validity_days, list(cert.activities.all()), list(cert.external_activities.all())) == (
        365,
        [course],
        [day],
    )
    learner = UserFactory()
    [enrolment] = enrol(course, [learner])
    complete_enrollment(enrolment.pk, timezone.localdate(), actor=None)
    award = cert.awards.get(user=learner)
    assert award.expiration_date == award.issue_date + dt.timedelta(days=365)
    event = Event.objects.get(action="certification.created")
    assert event.after["activities"] == ["Sepsis Awareness"] and event.object_id == str(cert.pk)


def test_editing_the_validity_applies_to_new_awards_and_records_before_and_after(db):
    cert = CertificationFactory(code="CERT-BLS", validity_days=730)
    kept = AwardFactory(certification=cert)
    before = kept.expiration_date
    client = manager()

    page = client.get(f"/certifications/{cert.pk}/edit/").content.decode()
    assert 'value="730"' in page and "Awards already made keep their dates" in page
    client.post(
        f"/certifications/{cert.pk}/edit/",
        {
            "code": "CERT-BLS",
            "title": cert.title,
            "always_valid": "on",
            "validity_days": "",
            "renewal_window_days": "30",
        },
    )

    cert.refresh_from_db()
    kept.refresh_from_db()
    assert cert.validity_days is None and kept.expiration_date == before
    event = Event.objects.get(action="certification.edited")
    assert (event.before, event.after) == ({"validity_days": 730}, {"validity_days": None})


def test_refused_input_is_named_by_field_and_saves_nothing(db):
    CertificationFactory(code="CERT-001")
    client = manager()

    refused = client.post(
        "/certifications/new/",
        {"code": "cert-001", "title": "", "validity_days": "30", "renewal_window_days": "45"},
    )

    assert refused.status_code == 400
    html = refused.content.decode()
    assert "This field is required." in html  # the title
    refused = client.post(
        "/certifications/new/",
        {"code": "cert-001", "title": "Dup", "validity_days": "30", "renewal_window_days": "45"},
    )
    html = refused.content.decode()
    assert "Certification ID &#x27;cert-001&#x27; is already used by another certification." in html
    assert "The renewal window (45 days) must be shorter than the validity (30 days)." in html
    missing = client.post(
        "/certifications/new/", {"code": "CERT-X", "title": "X", "renewal_window_days": "5"}
    )
    assert "Give the validity in days, or tick Always valid." in missing.content.decode()
    assert (
        Certification.objects.count() == 1
        and not Event.objects.filter(action__startswith="certification.").exists()
    )


def test_without_the_permission_the_forms_are_refused_and_not_offered(db):
    viewer = Client()
    viewer.force_login(grant(UserFactory(username="vic"), VIEW_CERTIFICATIONS))
    cert = CertificationFactory()

    assert viewer.get("/certifications/new/").status_code == 403
    assert viewer.post(f"/certifications/{cert.pk}/edit/", {"code": "X", "title": "X"}).status_code == 403
    assert "New certification" not in viewer.get("/certifications/").content.decode()
    assert "Edit certification" not in viewer.get(f"/certifications/{cert.pk}/users/").content.decode()
    assert "New certification" in manager().get("/certifications/").content.decode()
