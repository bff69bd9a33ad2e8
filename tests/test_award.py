"""Awarding certifications: the certification-award kind row by row, Award Users' 100-user boundary,
editing, unassigning and reinstating awards, automatic awards on completion, renewal reminders."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import Grant, Role
from access.permissions import AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS
from bulk import services, worker
from bulk.kinds.certification_award import award_users
from bulk.models import Job
from credentials.awarding import AwardInputError, AwardTerms, terms_from_input
from credentials.edits import edit_award, reinstate_award, unassign_award
from credentials.models import Award, Certification
from credentials.picks import Picks
from learning.models import Enrollment, ExternalActivity
from learning.services import complete_enrollment, record_external_training

from .factories import (
    ActivityFactory,
    CertificationFactory,
    GroupFactory,
    OrgUnitFactory,
    UserFactory,
    award_many,
    enrol,
    grant,
    make_csv,
)

AWARD_HEADER = (
    "Certification ID",
    "User ID",
    "Issue date",
    "Expiration date",
    "Always valid",
    "Association type",
    "External activity",
)
TODAY = dt.date.today()


@pytest.fixture
def ada(db):
    """May award and edit certifications everywhere."""
    user = UserFactory(username="ada", user_id="ADM-ADA", email="ada@example.test")
    return grant(user, AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS)


@pytest.fixture
def bls(db) -> Certification:
    return CertificationFactory(
        code="CERT-001", title="Basic Life Support", validity_days=365, renewal_window_days=30
    )


def results(job: Job) -> list[dict[str, str]]:
    job.refresh_from_db()
    with job.results_file.open("rb") as stream:
        return list(csv.DictReader(io.StringIO(stream.read().decode("utf-8-sig"))))


def run_file(actor, rows, **kwargs) -> Job:
    job = services.submit(
        "certification-award",
        make_csv(rows, AWARD_HEADER),
        "award.csv",
        actor=actor,
        title="Awards",
        start=True,
        **kwargs,
    ).job
    ran = worker.run_next("test-worker")
    assert ran is not None and ran.pk == job.pk
    return ran


def active_award(user, certification) -> Award | None:
    return Award.objects.filter(user=user, certification=certification, status="active").first()


# --- The certification-award kind ------------------------------------------------------------------


def test_every_row_outcome_of_an_award_file(ada, bls):
    always = CertificationFactory(code="CERT-009", validity_days=None)
    fresh, dated, forever, external, holder, *_ = users = UserFactory.create_batch(6)
    award_many(bls, [holder])

    job = run_file(
        ada,
        [
            ["CERT-001", fresh.user_id, "", "", "", "", ""],  # 2 awarded, defaults
            ["CERT-001", dated.user_id, "2026-03-12", "2027-01-31", "No", "manual", ""],  # 3 awarded
            ["CERT-009", forever.user_id, "12 Mar 2026", "", "", "Course/learning plan completion", ""],  # 4
            [
                "CERT-001",
                external.user_id,
                "2026-03-12",
                "",
                "",
                "External training activity",
                "Regional day",
            ],  # 5
            ["CERT-001", holder.user_id, "", "", "", "", ""],  # 6 skipped: holds it
            ["CERT-001", fresh.user_id, "", "", "", "", ""],  # 7 skipped: repeats row 2
            ["CERT-404", users[5].user_id, "", "", "", "", ""],  # 8 unknown certification
            ["CERT-001", "U-NOPE", "", "", "", "", ""],  # 9 unknown user
            ["CERT-001", users[5].user_id, "03/12/2026", "", "", "", ""],  # 10 ambiguous date
            ["CERT-001", users[5].user_id, "2026-03-12", "2026-03-01", "", "", ""],  # 11 expires before issue
            ["CERT-001", users[5].user_id, "", "", "", "by magic", ""],  # 12 unknown association type
            [
                "CERT-001",
                users[5].user_id,
                "",
                "",
                "",
                "External training activity",
                "",
            ],  # 13 no activity name
            ["CERT-001", users[5].user_id, "", "2027-01-01", "Yes", "", ""],  # 14 always valid with a date
        ],
    )

    rows = results(job)
    assert [r["Result"] for r in rows] == ["Awarded"] * 4 + ["Skipped"] * 2 + ["Error"] * 7
    messages = [r["Message"] for r in rows]
    assert "already holds CERT-001" in messages[4]
    assert messages[5] == "Same user and certification as row 2; only row 2 is used."
    assert messages[6] == "Certification ID not recognised: no certification has the ID 'CERT-404'."
    assert messages[7] == "User ID not recognised: no user has the User ID 'U-NOPE'."
    assert messages[8] == "'03/12/2026' is not a date: write it as YYYY-MM-DD, e.g. 2026-03-12."
    assert messages[9] == "The expiration date 2026-03-01 is before the issue date 2026-03-12."
    assert messages[10].startswith("'by magic' is not an association type")
    assert messages[11] == "Name the external training activity that was completed."
    assert messages[12].startswith("An award that is always valid has no expiration date")
    assert (job.succeeded, job.skipped, job.failed) == (4, 2, 7)

    assert active_award(fresh, bls).expiration_date == TODAY + dt.timedelta(days=365)
    assert active_award(dated, bls).expiration_date == dt.date(2027, 1, 31)
    forever_award = active_award(forever, always)
    assert forever_award.always_valid and forever_award.expiration_date is None
    assert forever_award.association_type == Award.AssociationType.ACTIVITY_COMPLETION
    assert active_award(external, bls).external_activity == "Regional day"
    assert active_award(fresh, bls).awarded_by_job_id == job.pk


def test_an_award_job_can_be_undone_and_only_its_own_awards_go(ada, bls):
    earlier, named = UserFactory(), UserFactory()
    award_many(bls, [earlier])
    job = run_file(ada, [["CERT-001", u.user_id, "", "", "", "", ""] for u in (earlier, named)])

    undo = services.restore_job(job, ada)
    undo = worker.run_next("test-worker")

    assert undo.succeeded == 1
    assert active_award(named, bls) is None
    assert active_award(earlier, bls) is not None  # it was there before the job


def test_a_constrained_awarder_may_award_only_inside_their_units(db, bls):
    north, south = OrgUnitFactory(name="North"), OrgUnitFactory(name="South")
    role = Role.objects.create(name="North awarder")
    from django.contrib.auth.models import Permission

    Grant.objects.create(
        role=role,
        permission=Permission.objects.get(codename="award_certification"),
        scope=Grant.Scope.OWN_UNITS,
    )
    nadia = UserFactory()
    nadia.org_units.add(north)
    role.members.add(nadia)
    inside, outside = UserFactory(), UserFactory()
    inside.org_units.add(north)
    outside.org_units.add(south)

    job = run_file(nadia, [["CERT-001", u.user_id, "", "", "", "", ""] for u in (inside, outside)])

    assert [r["Result"] for r in results(job)] == ["Awarded", "Error"]
    assert "outside the organisation units and groups you may award" in results(job)[1]["Message"]
    assert active_award(outside, bls) is None

    # Award Users counts the picked users it may not reach, and leaves them out.
    both = GroupFactory()
    both.members.add(inside, outside, UserFactory())
    outcome = award_users(bls, Picks(groups=(both.pk,)), AwardTerms(TODAY, None, True), actor=nadia)
    assert (outcome.awarded, outcome.skipped, outcome.outside_scope) == (0, 1, 2)


# --- Award Users: at once up to 100, a background job above ---------------------------------------


def test_award_users_for_100_users_runs_at_once_and_counts_the_holders_it_skipped(ada, bls):
    unit = OrgUnitFactory()
    users = UserFactory.create_batch(100)
    unit.members.add(*users)
    award_many(bls, users[:7])

    outcome = award_users(
        bls, Picks(org_units=(unit.pk,)), AwardTerms(TODAY, TODAY + dt.timedelta(days=30)), actor=ada
    )

    assert outcome.job is None
    assert (outcome.awarded, outcome.skipped) == (93, 7)
    assert not Job.objects.exists()
    assert Award.objects.filter(certification=bls, status="active").count() == 100


def test_award_users_for_101_users_runs_as_a_background_job(ada, bls):
    unit, sub_unit = OrgUnitFactory(), OrgUnitFactory()
    sub_unit.parent = unit
    sub_unit.save()
    users = UserFactory.create_batch(101)
    unit.members.add(*users[:50])
    sub_unit.members.add(*users[50:])
    award_many(bls, users[:1])

    outcome = award_users(
        bls, Picks(org_units=(unit.pk,), include_sub_units=True), AwardTerms(TODAY, None, True), actor=ada
    )

    job = outcome.job
    assert job is not None and job.kind == "certification-award" and job.status == Job.Status.QUEUED
    assert job.total == 101
    assert Award.objects.filter(certification=bls, status="active").count() == 1  # nothing yet
    job = worker.run_next("test-worker")
    assert (job.status, job.succeeded, job.skipped) == (Job.Status.PROCESSED, 100, 1)
    assert Award.objects.filter(certification=bls, status="active", always_valid=True).count() == 100


def test_without_sub_units_an_org_unit_pick_is_that_unit_only(ada, bls):
    unit, sub_unit = OrgUnitFactory(), OrgUnitFactory()
    sub_unit.parent = unit
    sub_unit.save()
    unit.members.add(UserFactory())
    sub_unit.members.add(UserFactory())
    outcome = award_users(
        bls, Picks(org_units=(unit.pk,), include_sub_units=False), AwardTerms(TODAY, None, True), actor=ada
    )
    assert outcome.awarded == 1


# --- Edit, unassign, reinstate -------------------------------------------------------------------


def test_edit_changes_the_terms_and_refuses_an_expiration_before_the_issue_date(ada, bls):
    [award] = award_many(bls, [UserFactory()])

    with pytest.raises(AwardInputError) as refused:
        edit_award(award, AwardTerms(dt.date(2026, 5, 1), dt.date(2026, 4, 1)), actor=ada)
    assert "before the issue date" in str(refused.value)
    with pytest.raises(AwardInputError):
        edit_award(award, AwardTerms(dt.date(2026, 5, 1), None, False, "external_training", ""), actor=ada)

    edited = edit_award(
        award, AwardTerms(dt.date(2026, 5, 1), None, True, "external_training", "Regional day"), actor=ada
    )
    assert (edited.issue_date, edited.expiration_date, edited.always_valid) == (
        dt.date(2026, 5, 1),
        None,
        True,
    )
    assert edited.association_type == "external_training" and edited.external_activity == "Regional day"
    from audit.models import Event

    event = Event.objects.get(action="award.edited")
    assert event.before["always_valid"] is False and event.after["always_valid"] is True


def test_unassign_is_recorded_and_can_be_reinstated(ada, bls):
    user = UserFactory()
    [award] = award_many(bls, [user])

    assert unassign_award(award, actor=ada)
    award.refresh_from_db()
    assert (award.status, award.removed_by) == ("removed", ada)

    assert reinstate_award(award, actor=ada)
    award.refresh_from_db()
    assert award.status == "active" and award.removed_by is None


def test_reinstating_is_refused_when_the_user_holds_the_certification_again(ada, bls):
    user = UserFactory()
    [award] = award_many(bls, [user])
    unassign_award(award, actor=ada)
    award_many(bls, [user])

    assert not reinstate_award(award, actor=ada)
    assert Award.objects.filter(user=user, certification=bls, status="active").count() == 1


def test_unassigning_an_unassigned_award_is_refused_and_leaves_the_newer_award_alone(ada, bls):
    user = UserFactory()
    [old] = award_many(bls, [user])
    unassign_award(old, actor=ada)
    [newer] = award_many(bls, [user])

    with pytest.raises(AwardInputError) as refused:
        unassign_award(old, actor=ada)

    assert [(p.code, p.message) for p in refused.value.problems] == [
        ("not_active", "This award has already been unassigned.")
    ]
    newer.refresh_from_db()
    assert newer.status == "active"


def test_both_surfaces_answer_an_unassigned_award_in_their_own_words(ada, bls):
    [award] = award_many(bls, [UserFactory()])
    unassign_award(award, actor=ada)
    page, api = Client(), APIClient()
    page.force_login(ada)
    api.force_authenticate(ada)

    shown = page.post(f"/certifications/{bls.pk}/awards/{award.pk}/unassign/", follow=True)
    refused = api.delete(f"/api/v1/awards/{award.pk}/")

    assert "This award was already unassigned." in shown.content.decode()
    assert refused.status_code == 409  # the award's state forbids it: a conflict, not bad input
    assert [(e["code"], e["message"]) for e in refused.json()["errors"]] == [
        ("not_active", "This award has already been unassigned.")
    ]


# --- Award terms from a form or a request: one reading for the page and the API ------------------


def test_a_new_award_without_an_expiration_date_takes_the_certifications_validity(bls):
    issued = dt.date(2026, 6, 1)

    assert terms_from_input({"issue_date": issued, "expiration_date": None, "always_valid": False}, bls) == (
        AwardTerms(issued, dt.date(2027, 6, 1), False, "manual", "")
    )
    forever = CertificationFactory(validity_days=None)
    assert terms_from_input({"issue_date": issued}, forever) == AwardTerms(issued, None, True, "manual", "")
    assert terms_from_input({}, bls).issue_date == timezone.localdate()


def test_always_valid_wins_over_an_expiration_date(bls):
    [award] = award_many(bls, [UserFactory()])
    given = {"issue_date": dt.date(2026, 6, 1), "expiration_date": dt.date(2027, 1, 1), "always_valid": True}

    assert terms_from_input(given, bls).expiration_date is None
    assert terms_from_input(given, bls, award).expiration_date is None
    assert terms_from_input({"always_valid": True}, bls, award) == AwardTerms(
        award.issue_date, None, True, award.association_type, award.external_activity
    )


def test_an_edit_keeps_what_the_input_does_not_say_and_refuses_clearing_the_only_end(bls):
    [award] = award_many(bls, [UserFactory()])
    kept = terms_from_input(
        {"association_type": "external_training", "external_activity": "Drill"}, bls, award
    )
    assert (kept.issue_date, kept.expiration_date, kept.always_valid) == (
        award.issue_date,
        award.expiration_date,
        False,
    )
    cleared = terms_from_input({"expiration_date": None, "always_valid": False}, bls, award)
    with pytest.raises(AwardInputError) as refused:
        cleared.checked()
    assert refused.value.problems[0].message == "Give an expiration date, or flag the award as always valid."
    with pytest.raises(AwardInputError) as unknown:
        terms_from_input({"association_type": "by magic"}, bls, award)
    assert unknown.value.problems[0].code == "unknown_association_type"


def test_award_users_on_the_page_and_through_the_api_default_alike(ada, bls):
    on_page, through_api = UserFactory(), UserFactory()
    page, api = Client(), APIClient()
    page.force_login(ada)
    api.force_authenticate(ada)
    blank = {"issue_date": "2026-06-01", "association_type": "manual"}

    page.post(f"/certifications/{bls.pk}/award/", {"step": "confirm", "users": [on_page.pk], **blank})
    api.post(
        f"/api/v1/certifications/{bls.pk}/awards/", {"users": [through_api.user_id], **blank}, format="json"
    )
    dated = {"issue_date": "2026-06-01", "expiration_date": "2026-12-01", "association_type": "manual"}
    for user in (on_page, through_api):
        award = Award.objects.get(user=user, certification=bls)
        assert (award.expiration_date, award.always_valid) == (dt.date(2027, 6, 1), False)
        url = f"/certifications/{bls.pk}/awards/{award.pk}/edit/"
        if user is on_page:
            page.post(url, {**dated, "always_valid": "on"})
        else:
            api.patch(f"/api/v1/awards/{award.pk}/", {**dated, "always_valid": True}, format="json")
        award.refresh_from_db()
        assert (award.expiration_date, award.always_valid) == (None, True)


# --- Automatic awards ----------------------------------------------------------------------------


def test_completing_an_assigned_activity_awards_the_certification_once(ada, bls):
    course = ActivityFactory()
    bls.activities.add(course)
    learner = UserFactory()
    [enrolment] = enrol(course, [learner])

    first = complete_enrollment(enrolment.pk, dt.date(2026, 6, 1), actor=ada)
    second = complete_enrollment(enrolment.pk, dt.date(2026, 6, 2), actor=ada)

    assert first.recorded and [c.code for c in first.awarded] == ["CERT-001"]
    assert not second.recorded and second.awarded == []
    award = Award.objects.get(user=learner, certification=bls)
    assert award.association_type == Award.AssociationType.ACTIVITY_COMPLETION
    assert (award.issue_date, award.expiration_date) == (dt.date(2026, 6, 1), dt.date(2027, 6, 1))
    assert Enrollment.objects.get(pk=enrolment.pk).completed_on == dt.date(2026, 6, 1)


def test_a_recorded_external_training_awards_its_certification_once(ada, bls):
    day = ExternalActivity.objects.create(title="Regional training day")
    bls.external_activities.add(day)
    learner = UserFactory()

    first = record_external_training(learner.pk, day.pk, dt.date(2026, 6, 1), actor=ada)
    again = record_external_training(learner.pk, day.pk, dt.date(2026, 6, 1), actor=ada)

    assert first.recorded and len(first.awarded) == 1
    assert not again.recorded
    award = Award.objects.get(user=learner, certification=bls)
    assert (award.association_type, award.external_activity) == ("external_training", "Regional training day")


@pytest.mark.django_db(transaction=True)
def test_a_completion_recorded_twice_at_the_same_moment_awards_once():
    bls = CertificationFactory(code="CERT-001", validity_days=365)
    course = ActivityFactory()
    bls.activities.add(course)
    learner = UserFactory()
    enrolments = enrol(course, [learner])
    barrier = threading.Barrier(2)
    outcomes = []
    errors = []

    def record_it() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(complete_enrollment(enrolments[0].pk, dt.date(2026, 6, 1)))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=record_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(o.recorded for o in outcomes) == [False, True]
    assert Award.objects.filter(user=learner, certification=bls).count() == 1
    assert connection.vendor in ("sqlite", "postgresql")


# --- Renewal reminders ---------------------------------------------------------------------------


def test_expiry_notices_email_each_holder_once_per_window(bls, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    soon, later, expired, forever = UserFactory.create_batch(4)
    Award.objects.create(
        user=soon, certification=bls, issue_date=dt.date(2025, 12, 10), expiration_date=dt.date(2026, 12, 10)
    )
    Award.objects.create(
        user=later, certification=bls, issue_date=dt.date(2026, 3, 1), expiration_date=dt.date(2027, 12, 15)
    )
    Award.objects.create(
        user=expired, certification=bls, issue_date=dt.date(2025, 11, 1), expiration_date=dt.date(2026, 11, 1)
    )
    Award.objects.create(user=forever, certification=bls, issue_date=dt.date(2025, 1, 1), always_valid=True)
    out = io.StringIO()

    call_command("expiry_notices", "--date", "2026-11-23", stdout=out)
    call_command("expiry_notices", "--date", "2026-11-24", stdout=io.StringIO())

    assert [m.to for m in mail.outbox] == [[soon.email]]
    assert "expires on 2026-12-10" in mail.outbox[0].subject
    assert "in 17 days" in mail.outbox[0].body
    assert f"CERT-001\t2026-12-10\t{soon.username}\t{soon.email}\tsent" in out.getvalue()
    assert "1 holder(s) reminded on 2026-11-23." in out.getvalue()

    # Renewed: a new expiration date opens a new window, and a new reminder when it comes.
    Award.objects.filter(user=soon).update(expiration_date=dt.date(2027, 12, 10))
    call_command("expiry_notices", "--date", "2027-11-20", stdout=io.StringIO())
    assert [m.to for m in mail.outbox] == [[soon.email], [soon.email], [later.email]]
    assert expired.email not in {m.to[0] for m in mail.outbox}  # expired before its window was seen


def test_expiry_notices_dry_run_lists_and_sends_nothing(bls, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = UserFactory()
    Award.objects.create(
        user=user, certification=bls, issue_date=dt.date(2025, 12, 10), expiration_date=dt.date(2026, 12, 10)
    )
    out = io.StringIO()
    call_command("expiry_notices", "--date", "2026-11-23", "--dry-run", stdout=out)
    assert mail.outbox == []
    assert "1 holder(s) would be reminded" in out.getvalue()
    call_command("expiry_notices", "--date", "2026-11-23", stdout=io.StringIO())
    assert len(mail.outbox) == 1


def test_a_file_of_many_different_dates_is_awarded_row_by_row_terms_in_one_statement(ada, bls):
    users = UserFactory.create_batch(25)
    rows = [["CERT-001", u.user_id, f"2026-01-{n + 1:02d}", "", "", "", ""] for n, u in enumerate(users)]

    job = run_file(ada, rows)

    assert job.succeeded == 25
    issued = dict(Award.objects.filter(certification=bls).values_list("user__user_id", "issue_date"))
    assert issued == {u.user_id: dt.date(2026, 1, n + 1) for n, u in enumerate(users)}
