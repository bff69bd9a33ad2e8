"""The awarding API: Award Users (201 at once up to 100, 202 with a job above), PATCH and DELETE of an
award, completions that award automatically, and who may do what."""

from __future__ import annotations

import datetime as dt

import pytest

from access.permissions import (
    AWARD_CERTIFICATIONS,
    COMPLETE_ENROLMENTS,
    RECORD_EXTERNAL_TRAINING,
    VIEW_CERTIFICATIONS,
)
from bulk import worker
from credentials.models import Award
from learning.models import ExternalActivity

from .factories import (
    ActivityFactory,
    CertificationFactory,
    GroupFactory,
    UserFactory,
    award_many,
    enrol,
    grant,
)
from .test_api import token_client


@pytest.fixture
def ada(db):
    user = UserFactory(username="ada", user_id="ADM-ADA")
    return grant(
        user, AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS, COMPLETE_ENROLMENTS, RECORD_EXTERNAL_TRAINING
    )


@pytest.fixture
def bls(db):
    return CertificationFactory(code="CERT-001", validity_days=365)


def test_award_users_up_to_100_answers_201_with_counts(ada, bls):
    group = GroupFactory()
    members = UserFactory.create_batch(4)
    group.members.add(*members)
    award_many(bls, members[:1])
    extra = UserFactory()

    response = token_client(ada).post(
        f"/api/v1/certifications/{bls.pk}/awards/",
        {"users": [extra.user_id], "groups": [group.pk], "issue_date": "2026-06-01"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json() == {"awarded": 4, "skipped": 1, "outside_scope": 0}
    award = Award.objects.get(user=extra, certification=bls)
    assert (award.issue_date, award.expiration_date) == (dt.date(2026, 6, 1), dt.date(2027, 6, 1))


def test_award_users_above_100_answers_202_with_the_queued_job(ada, bls):
    group = GroupFactory()
    group.members.add(*UserFactory.create_batch(101))

    response = token_client(ada).post(
        f"/api/v1/certifications/{bls.pk}/awards/",
        {"groups": [group.pk], "always_valid": True},
        format="json",
    )

    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["kind"], job["status"], job["counts"]["total"]) == ("certification-award", "queued", 101)
    worker.run_next("test-worker")
    assert Award.objects.filter(certification=bls, always_valid=True).count() == 101


def test_award_users_names_unknown_users_and_bad_terms(ada, bls):
    api = token_client(ada)
    unknown = api.post(f"/api/v1/certifications/{bls.pk}/awards/", {"users": ["U-NOPE"]}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["value"] == "U-NOPE"

    user = UserFactory()
    backwards = api.post(
        f"/api/v1/certifications/{bls.pk}/awards/",
        {"users": [user.user_id], "issue_date": "2026-06-01", "expiration_date": "2026-05-01"},
        format="json",
    )
    assert backwards.status_code == 400
    assert backwards.json()["errors"][0]["code"] == "expiration_before_issue"
    assert not Award.objects.exists()


def test_patch_edits_an_award_and_delete_unassigns_it(ada, bls):
    [award] = award_many(bls, [UserFactory()])
    api = token_client(ada)

    edited = api.patch(
        f"/api/v1/awards/{award.pk}/",
        {"always_valid": True, "association_type": "external_training", "external_activity": "Regional day"},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    assert (edited.json()["always_valid"], edited.json()["expiration_date"]) == (True, None)

    refused = api.patch(f"/api/v1/awards/{award.pk}/", {"expiration_date": "2020-01-01"}, format="json")
    assert refused.status_code == 400
    assert "before the issue date" in refused.json()["errors"][0]["message"]

    assert api.delete(f"/api/v1/awards/{award.pk}/").status_code == 204
    award.refresh_from_db()
    assert award.status == "removed"
    assert api.delete(f"/api/v1/awards/{award.pk}/").status_code == 409


def test_completing_an_enrolment_through_the_api_awards_once(ada, bls):
    course = ActivityFactory()
    bls.activities.add(course)
    [enrolment] = enrol(course, [UserFactory()])
    api = token_client(ada)

    first = api.post(
        f"/api/v1/enrollments/{enrolment.pk}/complete/", {"completed_on": "2026-06-01"}, format="json"
    )
    second = api.post(f"/api/v1/enrollments/{enrolment.pk}/complete/", {}, format="json")

    assert first.json() == {"recorded": True, "awarded": ["CERT-001"]}
    assert second.json() == {"recorded": False, "awarded": []}
    assert Award.objects.filter(certification=bls).count() == 1


def test_recording_external_training_through_the_api_awards_once(ada, bls):
    bls.external_activities.add(ExternalActivity.objects.create(title="Regional training day"))
    user = UserFactory()
    api = token_client(ada)
    body = {
        "user_id": user.user_id,
        "external_activity": "Regional training day",
        "completed_on": "2026-06-01",
    }

    assert api.post("/api/v1/external-training/", body, format="json").status_code == 201
    assert api.post("/api/v1/external-training/", body, format="json").json() == {
        "recorded": False,
        "awarded": [],
    }
    assert Award.objects.get(certification=bls).external_activity == "Regional training day"


def test_awarding_needs_the_permission(mallory, bls):
    viewer = grant(UserFactory(), VIEW_CERTIFICATIONS)
    [award] = award_many(bls, [UserFactory()])
    for who in (mallory, viewer):
        api = token_client(who)
        assert (
            api.post(f"/api/v1/certifications/{bls.pk}/awards/", {"users": []}, format="json").status_code
            == 403
        )
        assert api.patch(f"/api/v1/awards/{award.pk}/", {}, format="json").status_code == 403
        assert api.delete(f"/api/v1/awards/{award.pk}/").status_code == 403
        assert api.post("/api/v1/external-training/", {}, format="json").status_code == 403
    award.refresh_from_db()
    assert award.status == "active"


@pytest.mark.django_db(transaction=True)
def test_certdesk_expiry_notices_runs_from_the_command_line_and_lists_what_it_sent():
    from .test_cli import run_cli

    bls = CertificationFactory(code="CERT-001", validity_days=365, renewal_window_days=30)
    holder = UserFactory(email="pat@example.test")
    Award.objects.create(
        user=holder,
        certification=bls,
        issue_date=dt.date(2025, 12, 10),
        expiration_date=dt.date(2026, 12, 10),
    )

    dry = run_cli("expiry-notices", "--date", "2026-11-23", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1 holder(s) would be reminded on 2026-11-23." in dry.stdout

    sent = run_cli("expiry-notices", "--date", "2026-11-23")
    assert sent.returncode == 0, sent.stderr
    assert f"CERT-001\t2026-12-10\t{holder.username}\tpat@example.test\tsent" in sent.stdout
    again = run_cli("expiry-notices", "--date", "2026-11-23")
    assert "0 holder(s) reminded" in again.stdout

    bad = run_cli("expiry-notices", "--date", "23/11/2026")
    assert bad.returncode != 0 and "is not a date" in bad.stderr
