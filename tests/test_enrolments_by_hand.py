"""An activity's learners on its Catalogue page: unenrol one by hand (with the import's audit record and
optional email, delivered to a real SMTP server), enrol again, and mark completed, which awards the
certification the activity awards; each within the administrator's reach only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from access.models import Grant, Role
from access.permissions import COMPLETE_ENROLMENTS, IMPORT_UNENROLMENTS, VIEW_CATALOGUE
from audit.models import Event
from credentials.models import Award
from learning.models import Enrollment

from .factories import ActivityFactory, CertificationFactory, OrgUnitFactory, UserFactory, enrol, grant
from .mailserver import body_of


@pytest.fixture
def course(db):
    return ActivityFactory(title="Fire Safety Awareness", external_reference="FS-101")


@pytest.fixture
def ines(db):
    user = UserFactory(username="ines", user_id="ADM-INES", email="ines@example.test")
    return grant(user, VIEW_CATALOGUE, IMPORT_UNENROLMENTS, COMPLETE_ENROLMENTS)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_activity_page_lists_its_learners_searchably(ines, course):
    ann = UserFactory(user_id="L-ANN", last_name="Zeller")
    ben = UserFactory(user_id="L-BEN", first_name="Ben", last_name="Brown")  # no made-up name to match
    enrol(course, [ann, ben])
    client = signed_in(ines)
    page = client.get(reverse("web:activity", args=[course.pk])).content.decode()
    assert 'href="/people/L-ANN/"' in page and 'href="/people/L-BEN/"' in page
    page = client.get(reverse("web:activity", args=[course.pk]), {"q": "zell"}).content.decode()
    assert 'href="/people/L-ANN/"' in page and 'href="/people/L-BEN/"' not in page


def test_unenrolling_one_learner_by_hand_records_it_and_emails_them(
    ines, course, smtp_server, django_capture_on_commit_callbacks
):
    learner = UserFactory(first_name="Ann", email="ann@example.test")
    (enrolment,) = enrol(course, [learner])
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(ines).post(
            reverse("web:enrolment-unenrol", args=[enrolment.pk]), {"send_email": "on"}, follow=True
        )
    assert "is unenrolled from Fire Safety Awareness and emailed" in response.content.decode()
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.unenrolled_by) == (Enrollment.Status.UNENROLLED, ines)
    assert enrolment.unenrolment_email == Enrollment.Email.SENT
    event = Event.objects.get(action="enrollment.unenrolled", object_id=str(enrolment.pk))
    assert (event.actor, event.before, event.after) == (
        ines,
        {"status": "enrolled"},
        {"status": "unenrolled"},
    )
    (delivered,) = smtp_server.messages
    assert delivered.recipients == ["ann@example.test"]
    assert "You have been unenrolled from Fire Safety Awareness" in body_of(delivered)


def test_without_the_box_ticked_no_email_goes_and_the_learner_can_be_enrolled_again(
    ines, course, smtp_server, django_capture_on_commit_callbacks
):
    learner = UserFactory()
    (enrolment,) = enrol(course, [learner])
    client = signed_in(ines)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("web:enrolment-unenrol", args=[enrolment.pk]))
    assert smtp_server.messages == []

    response = client.post(reverse("web:enrolment-reenrol", args=[enrolment.pk]), follow=True)
    assert "is enrolled in Fire Safety Awareness again" in response.content.decode()
    current = Enrollment.objects.current().get(user=learner, activity=course)
    assert current.status == Enrollment.Status.ENROLLED
    assert Event.objects.filter(action="enrollment.enrolled", object_id=str(current.pk), actor=ines).exists()
    # The learner's history shows both, newest first.
    history = client.get(reverse("web:learner", args=[learner.user_id])).content.decode()
    assert history.index("enrollment.enrolled") < history.index("enrollment.unenrolled")


def test_mark_completed_awards_the_certification_the_activity_awards(ines, course):
    certification = CertificationFactory(code="CERT-FS", title="Fire Safety")
    certification.activities.add(course)
    learner = UserFactory()
    (enrolment,) = enrol(course, [learner])
    response = signed_in(ines).post(
        reverse("web:enrolment-complete", args=[enrolment.pk]),
        {"next": reverse("web:learner", args=[learner.user_id])},
        follow=True,
    )
    page = response.content.decode()
    assert "Awarded: CERT-FS." in page
    assert Award.objects.active().filter(user=learner, certification=certification).exists()
    enrolment.refresh_from_db()
    assert enrolment.status == Enrollment.Status.COMPLETED
    # The learner's history shows the completion; the award only to who may view certifications.
    assert "enrollment.completed" in page and "award.awarded" not in page


def test_a_constrained_administrator_sees_and_changes_only_learners_in_their_units(course):
    north, south = OrgUnitFactory(name="North"), OrgUnitFactory(name="South")
    role = Role.objects.create(name="North catalogue")
    for codename, app in (("view_activity", "learning"), ("import_unenrolments", "bulk")):
        Grant.objects.create(
            role=role,
            permission=Permission.objects.get(content_type__app_label=app, codename=codename),
            scope=Grant.Scope.ORG_UNITS,
        ).org_units.set([north])
    viewer = UserFactory(username="nora")
    role.members.add(viewer)
    inside, outside = UserFactory(user_id="L-IN"), UserFactory(user_id="L-OUT")
    inside.org_units.add(north)
    outside.org_units.add(south)
    _, theirs = enrol(course, [inside, outside])
    client = signed_in(viewer)
    page = client.get(reverse("web:activity", args=[course.pk])).content.decode()
    assert 'href="/people/L-IN/"' in page and "L-OUT" not in page
    assert client.post(reverse("web:enrolment-unenrol", args=[theirs.pk])).status_code == 404
    assert Enrollment.objects.get(pk=theirs.pk).status == Enrollment.Status.ENROLLED
    # Marking completed needs its own permission, which this administrator lacks.
    assert client.post(reverse("web:enrolment-complete", args=[theirs.pk])).status_code == 403
