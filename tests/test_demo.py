"""``certdesk demo``: a demo organisation to try everything on, loaded once however often it runs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from access.models import Role
from access.permissions import MANAGE_CERTIFICATION_REMOVAL
from bulk import services, worker
from bulk.models import Job
from credentials.models import Award, Certification, LicenseType
from learning.models import Activity, Enrollment, ExternalActivity
from people.models import Group, OrgUnit, User

from .factories import make_csv

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "org units": OrgUnit.objects.count(),
        "groups": Group.objects.count(),
        "group members": Group.members.through.objects.count(),
        "memberships": User.org_units.through.objects.count(),
        "certifications": Certification.objects.count(),
        "awards": Award.objects.count(),
        "activities": Activity.objects.count(),
        "enrolments": Enrollment.objects.count(),
        "completed enrolments": Enrollment.objects.filter(status="completed").count(),
    }


def remove_demo() -> None:
    """Delete what the demo made, so that other test modules start from an empty database."""
    Job.objects.all().delete()
    Role.objects.all().delete()
    Award.objects.all().delete()
    Activity.objects.all().delete()
    Certification.objects.all().delete()
    Group.objects.all().delete()
    User.objects.all().delete()
    ExternalActivity.objects.all().delete()
    LicenseType.objects.all().delete()
    while OrgUnit.objects.exists():  # leaves first: a unit with children is protected
        OrgUnit.objects.filter(children__isnull=True).delete()


@contextmanager
def demo_loaded(django_db_blocker: Any) -> Iterator[None]:
    """The demo loaded for a module's tests, each of which runs in a rolled-back transaction on it."""
    with django_db_blocker.unblock():
        call_command("demo", stdout=io.StringIO())
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            remove_demo()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[dict[str, int]]:
    """The demo loaded once for this module (it takes seconds); each test runs in a rolled-back
    transaction on top of it. Returns the counts after the first run."""
    with django_db_blocker.unblock():
        call_command("demo", stdout=io.StringIO())
        loaded = counts()
    try:
        yield loaded
    finally:
        with django_db_blocker.unblock(), transaction.atomic():
            remove_demo()


def test_demo_loads_about_two_thousand_users_in_three_divisions_with_departments(demo):
    assert 1900 <= demo["users"] <= 2100
    divisions = OrgUnit.objects.filter(parent__isnull=True).order_by("code")
    assert [d.code for d in divisions] == ["DIV-A", "DIV-B", "DIV-C"]
    for division in divisions:
        assert division.children.count() >= 2, division.code
    learners = User.objects.filter(is_staff=False)
    assert not learners.filter(org_units__isnull=True).exists()  # every learner is in a department
    assert not learners.filter(org_units__parent__isnull=True).exists()
    assert demo["groups"] >= 1 and demo["group members"] > 0


def test_demo_has_ten_certifications_each_with_active_awards(demo):
    assert demo["certifications"] == 10
    for certification in Certification.objects.all():
        assert certification.awards.filter(status=Award.Status.ACTIVE).exists(), certification.code


def test_demo_admin_is_a_superuser_and_alice_and_bob_are_division_admins(demo):
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("certdesk")
    for username, division in (("alice", "DIV-A"), ("bob", "DIV-B")):
        user = User.objects.get(username=username)
        assert not user.is_superuser
        assert user.has_perm(MANAGE_CERTIFICATION_REMOVAL), username
        assert list(user.org_units.values_list("code", flat=True)) == [division]
        assert user.check_password("certdesk")


def test_demo_run_again_creates_nothing_new(demo):
    call_command("demo", stdout=io.StringIO())

    assert counts() == demo


def test_demo_run_again_leaves_earlier_removals_alone(demo):
    award = Award.objects.filter(status=Award.Status.ACTIVE).first()
    Award.objects.filter(pk=award.pk).update(status=Award.Status.REMOVED)

    call_command("demo", stdout=io.StringIO())

    award.refresh_from_db()
    assert award.status == Award.Status.REMOVED
    assert counts() == demo


def test_alice_can_remove_demo_users_from_a_demo_certification(demo):
    alice = User.objects.get(username="alice")
    certification = Certification.objects.get(code="CERT-001")
    holders = list(
        certification.awards.filter(status=Award.Status.ACTIVE)
        .order_by("user__user_id")
        .values_list("user__user_id", flat=True)[:25]
    )
    data = make_csv([[certification.code, user_id] for user_id in holders])

    submission = services.submit(
        "certification-removal", data, "demo.csv", actor=alice, title="Demo clean-up", start=True
    )
    job = worker.run_next("test-worker")

    assert job is not None and job.pk == submission.job.pk
    assert job.status == Job.Status.PROCESSED
    assert (job.total, job.succeeded, job.skipped, job.failed) == (25, 25, 0, 0)
    removed = certification.awards.filter(status=Award.Status.REMOVED)
    assert set(removed.values_list("user__user_id", flat=True)) == set(holders)


def test_demo_roles_show_off_the_constraints(demo):
    from bulk.visibility import jobs_visible_to

    people = {u.username: u for u in User.objects.filter(username__in=["alice", "bob", "carol", "dan"])}
    holders = list(
        Award.objects.filter(status=Award.Status.ACTIVE, certification__code="CERT-001").select_related(
            "user"
        )[:1]
    )
    data = make_csv([["CERT-001", holders[0].user.user_id]])
    jobs = {
        name: services.submit(
            "certification-removal",
            data,
            "demo.csv",
            actor=people[name],
            title=f"{name}'s",
            validate_only=True,
        ).job
        for name in ("alice", "bob", "carol")
    }
    try:
        seen = {
            name: set(jobs_visible_to(user).values_list("pk", flat=True)) for name, user in people.items()
        }
        assert seen["carol"] == {jobs["carol"].pk, jobs["bob"].pk}  # in Division A, constrained to Division B
        assert seen["alice"] == {jobs["alice"].pk, jobs["carol"].pk}  # admins in her own division
        assert seen["bob"] == {jobs["bob"].pk}
        assert seen["dan"] >= set(j.pk for j in jobs.values())
    finally:
        Job.objects.filter(pk__in=[j.pk for j in jobs.values()]).delete()


def test_demo_catalogue_has_courses_and_sessions_with_references_and_completed_enrolments(demo):
    assert demo["activities"] >= 8
    assert demo["completed enrolments"] > 0
    assert Activity.objects.filter(type=Activity.Type.SESSION, starts_at__isnull=False).exists()
    assert Activity.objects.filter(external_reference__isnull=True).exists()  # one still to be set


def test_erin_the_content_administrator_can_import_unenrolments_and_dan_too(demo):
    from access.permissions import EDIT_ACTIVITIES, IMPORT_UNENROLMENTS

    erin, dan, alice = (User.objects.get(username=name) for name in ("erin", "dan", "alice"))
    assert erin.has_perm(IMPORT_UNENROLMENTS) and erin.has_perm(EDIT_ACTIVITIES)
    assert dan.has_perm(IMPORT_UNENROLMENTS)
    assert not alice.has_perm(IMPORT_UNENROLMENTS)

    enrolled = Enrollment.objects.filter(
        activity__external_reference="FS-COURSE", status="enrolled"
    ).select_related("user")[:10]
    data = make_csv(
        [[e.user.username, "FS-COURSE", "No"] for e in enrolled],
        ("Username", "Activity external reference", "Send unenrolment email"),
    )
    job = services.submit(
        "unenrolment", data, "demo.csv", actor=erin, title="Demo check", validate_only=True
    ).job

    assert job.status == Job.Status.VERIFIED
    assert job.params["summary"]["would_unenrol"] == 10


def test_demo_division_administrators_award_only_in_their_division_and_completions_award(demo):
    import datetime as dt

    from bulk.kinds.certification_award import award_users
    from credentials.awarding import AwardTerms
    from credentials.picks import Picks
    from learning.services import complete_enrollment

    alice = User.objects.get(username="alice")
    everyone = OrgUnit.objects.filter(parent__isnull=True)
    certification = Certification.objects.get(code="CERT-010")
    outcome = award_users(
        certification,
        Picks(org_units=tuple(everyone.values_list("pk", flat=True))),
        AwardTerms(dt.date.today(), None, True),
        actor=alice,
    )
    assert outcome.outside_scope > 0  # Divisions B and C are not hers
    assert outcome.job is not None  # Division A alone is hundreds of people: a background job

    enrolment = Enrollment.objects.filter(activity__external_reference="MH-COURSE", status="enrolled").first()
    done = complete_enrollment(enrolment.pk, dt.date.today())
    assert done.recorded
    assert Award.objects.filter(user=enrolment.user, certification__code="CERT-003", status="active").exists()


def test_demo_has_licences_and_a_supervisor_who_manages_only_their_unit(demo):
    from access.permissions import IMPORT_LICENSES, MANAGE_LICENSES
    from credentials.models import License
    from web.views_licences import manageable

    sam, dan = User.objects.get(username="sam"), User.objects.get(username="dan")
    assert sam.has_perm(MANAGE_LICENSES) and not sam.has_perm(IMPORT_LICENSES)
    assert dan.has_perm(IMPORT_LICENSES)
    assert LicenseType.objects.filter(code="RN").exists()
    theirs = manageable(sam)
    assert theirs.exists()
    assert theirs.count() < License.objects.current().count()  # Pharmacy's licences are not Sam's
    assert not theirs.exclude(user__org_units__code="DIV-A-NURSING").exists()
