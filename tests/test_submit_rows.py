"""Rows certdesk builds itself (Award Users above 100) reach the engine as rows: no file is written
or read back, and they meet the kind's validation and limits as an upload would."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from access.permissions import AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS
from access.policy import NotAllowed
from base.problems import TOO_MANY_ROWS, FileRejected
from bulk import services, worker
from bulk.kinds.certification_award import award_users
from bulk.models import Job
from bulk.results import render_results
from credentials.awarding import AwardTerms
from credentials.models import Award
from credentials.picks import IMMEDIATE_LIMIT, Picks

from .factories import CertificationFactory, OrgUnitFactory, UserFactory, grant

TODAY = dt.date.today()
AWARD = "certification-award"


@pytest.fixture
def ada(db):
    return grant(UserFactory(username="ada"), AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS)


def award_row(code: str, user_id: str) -> list[str]:
    return [code, user_id, TODAY.isoformat(), "", "Yes", "Manually awarded", ""]


def test_award_users_above_the_limit_is_a_job_of_rows_with_no_file(ada):
    certification = CertificationFactory(code="CERT-ROWS")
    unit = OrgUnitFactory()
    unit.members.add(*UserFactory.create_batch(IMMEDIATE_LIMIT + 1))

    outcome = award_users(
        certification, Picks(org_units=(unit.pk,)), AwardTerms(TODAY, None, True), actor=ada
    )

    job = outcome.job
    assert job is not None and job.total == IMMEDIATE_LIMIT + 1
    assert not job.original_file and job.original_filename == ""
    assert job.params["reading"]["description"].startswith("Built by certdesk")
    job = worker.run_next("test-worker")
    assert (job.status, job.succeeded) == (Job.Status.PROCESSED, IMMEDIATE_LIMIT + 1)
    assert Award.objects.filter(certification=certification, status="active").count() == IMMEDIATE_LIMIT + 1


def test_award_users_job_skips_who_holds_it_and_says_so_in_its_results(ada):
    certification = CertificationFactory(code="CERT-HELD")
    unit = OrgUnitFactory()
    learners = UserFactory.create_batch(IMMEDIATE_LIMIT + 2)
    unit.members.add(*learners)
    holder = learners[3]
    Award.objects.create(user=holder, certification=certification, issue_date=TODAY)
    terms = AwardTerms(
        TODAY,
        TODAY + dt.timedelta(days=30),
        association_type="external_training",
        external_activity=" Day one ",
    )

    job = award_users(certification, Picks(org_units=(unit.pk,)), terms, actor=ada).job

    assert job is not None and job.total == IMMEDIATE_LIMIT + 2
    assert job.params["summary"] == {
        "would_award": IMMEDIATE_LIMIT + 1,
        "skipped": 1,
        "errors": 0,
        "certifications": 1,
    }
    assert job.rows.get(key=holder.user_id).message == (
        f"'{holder.user_id}' already holds CERT-HELD; the award is left as it is."
    )
    job = worker.run_next("test-worker")
    assert (job.succeeded, job.skipped) == (IMMEDIATE_LIMIT + 1, 1)
    made = Award.objects.filter(awarded_by_job=job)
    assert made.count() == IMMEDIATE_LIMIT + 1
    assert set(made.values_list("expiration_date", "association_type", "external_activity")) == {
        (TODAY + dt.timedelta(days=30), "external_training", "Day one")
    }
    lines = render_results(job).decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "Certification ID,User ID,Issue date,Expiration date,Always valid,Association type,"
        "External activity,Result,Message"
    )
    by_user = {line.split(",")[1]: line for line in lines[1:]}
    assert by_user[holder.user_id].endswith(
        f",Skipped,'{holder.user_id}' already holds CERT-HELD; the award is left as it is."
    )
    other = learners[0].user_id
    assert by_user[other] == (
        f"CERT-HELD,{other},{TODAY.isoformat()},{(TODAY + dt.timedelta(days=30)).isoformat()},No,"
        "External training activity,Day one,Awarded,Awarded."
    )


def test_rows_are_validated_like_a_file(ada):
    certification = CertificationFactory(code="CERT-ROWS")
    holder = UserFactory(user_id="U-1")

    submission = services.submit_rows(
        AWARD,
        [award_row(certification.code, holder.user_id), award_row(certification.code, "NOBODY")],
        actor=ada,
        title="Rows",
        validate_only=True,
    )

    job = submission.job
    assert (job.status, job.total, job.failed) == (Job.Status.VERIFIED, 2, 1)
    assert job.rows.get(row_number=3).message == "User ID not recognised: no user has the User ID 'NOBODY'."


@override_settings(CERTDESK_MAX_ROWS={AWARD: 3})
def test_rows_beyond_the_kinds_row_cap_are_refused_and_leave_nothing(ada):
    certification = CertificationFactory(code="CERT-ROWS")
    users = UserFactory.create_batch(4)

    with pytest.raises(FileRejected) as refused:
        services.submit_rows(
            AWARD, [award_row(certification.code, u.user_id) for u in users], actor=ada, title="Too many"
        )

    assert refused.value.problems[0].code == TOO_MANY_ROWS
    assert not Job.objects.exists()


@override_settings(CERTDESK_MAX_BYTES={AWARD: 200})
def test_rows_beyond_the_kinds_size_limit_are_refused(ada):
    certification = CertificationFactory(code="CERT-ROWS")
    users = UserFactory.create_batch(5)

    with pytest.raises(FileRejected) as refused:
        services.submit_rows(
            AWARD, [award_row(certification.code, u.user_id) for u in users], actor=ada, title="Too big"
        )

    assert refused.value.problems[0].code == "file_too_large"
    assert not Job.objects.exists()


def test_rows_need_the_kinds_permission(db):
    nobody = UserFactory()
    with pytest.raises(NotAllowed):
        services.submit_rows(AWARD, [], actor=nobody, title="No")
