"""Undo for every kind, with a drift check: a licence import is restored exactly; on every kind, a row
whose object someone changed after the job — by hand or by another job — is Skipped on restore,
saying who and when, instead of being overwritten; the restore's preview lists those rows first; a
large restore waits for approval like any other job."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from access.permissions import APPROVE_JOBS
from bulk import services, worker
from bulk.models import Job
from bulk.preview import preview_job, preview_restore
from credentials.awarding import AwardTerms
from credentials.edits import edit_award, reinstate_award
from credentials.licences import LicenseDetails, save_license
from credentials.models import Award, License, LicenseType
from learning.models import Enrollment
from learning.services import enrol as enrol_by_hand

from .factories import (
    AWARD_HEADER,
    LICENCE_HEADER,
    UNENROLMENT_HEADER,
    ActivityFactory,
    CertificationFactory,
    UserFactory,
    enrol,
    grant,
    make_csv,
    removal_rows,
)
from .test_api import submit

TODAY = timezone.localdate().isoformat()


def run(job: Job) -> Job:
    worker.run_next("w")
    return Job.objects.get(pk=job.pk)


def processed(kind: str, rows, header, actor) -> Job:
    job = services.submit(
        kind, make_csv(rows, header), "f.csv", actor=actor, title="Original", start=True
    ).job
    job = run(job)
    assert job.status == Job.Status.PROCESSED
    return job


def restored(job: Job, actor) -> tuple[Job, dict]:
    """Undo ``job``: (the restore once run, what was said before it ran — the Undo page's rows changed
    since, and the restore's own preview of the changes it makes)."""
    undo = preview_restore(job)
    restore = services.restore_job(job, actor)
    said = preview_job(restore).as_dict()  # queued, not yet run: what it will change
    said["overtaken"] = [
        {"row": r.row_number, "key": r.key, "outcome": r.outcome, "message": r.message}
        for r in undo.overtaken
    ]
    said["overtaken_total"] = undo.overtaken_total
    return run(restore), said


def rows_of(job: Job) -> dict[int, tuple[str, str]]:
    return {r.row_number: (r.outcome, r.message) for r in job.rows.all()}


@pytest.fixture
def vera(db):
    return grant(UserFactory(username="vera", first_name="Vera", last_name="Greer"), APPROVE_JOBS)


@pytest.fixture
def licences(db):
    admin = grant(UserFactory(username="lena"), "credentials.import_licenses")
    nurses = [UserFactory(username=f"nurse{n}") for n in range(4)]
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    for n, nurse in enumerate(nurses[:3]):
        License.objects.create(
            user=nurse,
            license_type=rn,
            number=f"RN-{n}",
            issuing_authority="Board",
            issue_date=dt.date(2024, 1, 1),
            expiration_date=dt.date(2026, 1, 1),
        )
    return admin, nurses, rn


def current_licences() -> set[tuple]:
    return set(
        License.objects.filter(deleted_at__isnull=True).values_list(
            "user__username",
            "license_type__code",
            "number",
            "issuing_authority",
            "issue_date",
            "expiration_date",
        )
    )


def test_a_licence_import_is_restored_exactly(licences):
    admin = licences[0]
    before = current_licences()
    job = processed(
        "license-import",
        [
            ["nurse0", "RN", "RN-0", "State Board", "2025-01-01", "2027-01-01", "Edit"],
            ["nurse1", "RN", "RN-1", "", "", "", "Delete"],
            ["nurse3", "RN", "RN-3", "", "2025-02-01", "", "Add"],
        ],
        LICENCE_HEADER,
        admin,
    )
    assert job.succeeded == 3 and current_licences() != before

    restore, said = restored(job, admin)

    assert current_licences() == before
    assert (restore.succeeded, restore.skipped) == (3, 0)
    assert {c["change"] for c in said["changes"]} == {
        "Would put back the values before the edit",
        "Would give back the deleted licence",
        "Would delete the added licence",
    }
    edit = next(c for c in said["changes"] if c["change"].startswith("Would put back"))
    assert (edit["before"]["Issuing authority"], edit["after"]["Issuing authority"]) == (
        "State Board",
        "Board",
    )
    assert rows_of(restore)[2] == ("succeeded", "")


def test_a_licence_changed_by_hand_since_the_import_is_left_as_it_is(licences, vera):
    admin, nurses, rn = licences
    job = processed(
        "license-import",
        [
            ["nurse0", "RN", "RN-0", "State Board", "2025-01-01", "2027-01-01", "Edit"],
            ["nurse2", "RN", "RN-2", "State Board", "2025-01-01", "2027-01-01", "Edit"],
        ],
        LICENCE_HEADER,
        admin,
    )
    licence = License.objects.get(user=nurses[0], number="RN-0", deleted_at__isnull=True)
    save_license(
        licence,
        user_id=nurses[0].pk,
        license_type=rn,
        number="RN-0",
        details=LicenseDetails("Fixed by hand", dt.date(2025, 1, 1), dt.date(2028, 1, 1)),
        actor=vera,
    )

    restore, said = restored(job, admin)

    expected = f"Changed since this job by Vera Greer on {TODAY}; left as it is."
    assert said["overtaken"] == [{"row": 2, "key": "nurse0", "outcome": "skipped", "message": expected}]
    assert rows_of(restore)[2] == ("skipped", expected)
    assert License.objects.get(pk=licence.pk).issuing_authority == "Fixed by hand"
    assert (
        License.objects.get(user=nurses[2], number="RN-2", deleted_at__isnull=True).issuing_authority
        == "Board"
    )


def test_a_removal_restore_leaves_an_award_given_back_by_hand(alice, vera, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])), "Three")
    services.start_job(job, alice)
    job = run(job)
    reinstate_award(Award.objects.get(user=holders[0], certification=certification), actor=vera)

    restore, said = restored(job, alice)

    expected = f"Changed since this job by Vera Greer on {TODAY}; left as it is."
    assert said["overtaken"][0]["message"] == expected and said["changes_total"] == 2
    assert (rows_of(restore)[2], restore.succeeded) == (("skipped", expected), 2)


def test_an_award_restore_leaves_an_award_edited_since(db, vera):
    admin = grant(UserFactory(username="ada", first_name="Ada"), "credentials.award_certification")
    learners = UserFactory.create_batch(2)
    cert = CertificationFactory(code="CERT-009", validity_days=365)
    job = processed(
        "certification-award",
        [[cert.code, u.user_id, "2026-03-01", "", "", "", ""] for u in learners],
        AWARD_HEADER,
        admin,
    )
    award = Award.objects.get(user=learners[1], certification=cert)
    edit_award(award, AwardTerms(dt.date(2026, 3, 1), dt.date(2030, 1, 1)), actor=vera)

    restore, said = restored(job, admin)

    expected = f"Changed since this job by Vera Greer on {TODAY}; left as it is."
    assert [o["row"] for o in said["overtaken"]] == [3]
    assert rows_of(restore)[3] == ("skipped", expected)
    assert Award.objects.get(pk=award.pk).status == Award.Status.ACTIVE
    assert Award.objects.get(user=learners[0], certification=cert).status == Award.Status.REMOVED


def test_an_unenrolment_restore_leaves_a_learner_enrolled_again_since(db, vera):
    admin = grant(UserFactory(username="una"), "bulk.import_unenrolments")
    learners = UserFactory.create_batch(2)
    course = ActivityFactory(external_reference="FS-COURSE")
    enrol(course, learners)
    job = processed(
        "unenrolment", [[u.username, "FS-COURSE", "No"] for u in learners], UNENROLMENT_HEADER, admin
    )
    enrol_by_hand(learners[0].pk, course.pk, actor=vera)

    restore, said = restored(job, admin)

    expected = f"Changed since this job by Vera Greer on {TODAY}; left as it is."
    assert said["overtaken"][0] == {
        "row": 2,
        "key": learners[0].username,
        "outcome": "skipped",
        "message": expected,
    }
    assert rows_of(restore)[2] == ("skipped", expected)
    assert (
        Enrollment.objects.filter(user=learners[0], activity=course).exclude(status="unenrolled").count() == 1
    )
    assert Enrollment.objects.get(user=learners[1], activity=course).status == Enrollment.Status.ENROLLED


def test_a_large_restores_preview_lists_the_rows_changed_since_first(
    settings, alice, vera, certification, holders
):
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])), "Three")
    services.start_job(job, alice)
    job = run(job)
    reinstate_award(Award.objects.get(user=holders[1], certification=certification), actor=vera)
    settings.CERTDESK_APPROVAL_MAX_ROWS = 2
    restore = services.restore_job(job, alice)
    page = Client()
    page.force_login(alice)

    shown = page.get(f"/jobs/{restore.pk}/preview/").content.decode()

    assert restore.status == Job.Status.AWAITING_APPROVAL
    assert shown.index("Changed since this job by Vera Greer") < shown.index("Changes, row by row")
    assert "Would restore" in shown
    services.approve_job(restore, vera)  # checked again as approved: the changed row is left alone
    restore = run(restore)
    assert (restore.succeeded, restore.skipped) == (2, 1)
    assert (
        Job.objects.get(pk=restore.pk)
        .rows.get(row_number=3)
        .message.startswith("Changed since this job by Vera")
    )


def test_a_large_restore_waits_for_approval(settings, alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:5])), "Five")
    services.start_job(job, alice)
    job = run(job)
    settings.CERTDESK_APPROVAL_MAX_ROWS = 3

    restore = services.restore_job(job, alice)

    assert restore.status == Job.Status.AWAITING_APPROVAL
    assert "It would change 5 rows" in restore.params["approval"]["reason"]


def test_the_undo_page_says_what_would_be_restored_and_what_changed_since(
    alice, vera, certification, holders
):
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])), "Three")
    services.start_job(job, alice)
    job = run(job)
    reinstate_award(Award.objects.get(user=holders[2], certification=certification), actor=vera)
    page = Client()
    page.force_login(alice)

    shown = page.get(f"/jobs/{job.pk}/restore/").content.decode()

    assert "<strong>2</strong> would be restored" in shown
    assert "<strong>1</strong> changed since: left as they are" in shown
    assert f"Changed since this job by Vera Greer on {TODAY}; left as it is." in shown
    assert not Job.objects.filter(params__restore_of=job.pk).exists()  # nothing is made by looking


def test_an_edit_made_before_its_values_were_kept_is_not_put_back_and_says_why(licences):
    admin = licences[0]
    job = processed(
        "license-import",
        [["nurse0", "RN", "RN-0", "State Board", "2025-01-01", "2027-01-01", "Edit"]],
        LICENCE_HEADER,
        admin,
    )
    row = job.rows.get()
    row.data = row.data[:5]  # as an import processed before certdesk kept what an edit overwrote
    row.save()

    restore, said = restored(job, admin)

    assert rows_of(restore)[2][0] == "skipped"
    assert rows_of(restore)[2][1].startswith("Not restored: this edit ran before certdesk kept the values")
    assert said["overtaken_total"] == 1
    assert (
        License.objects.get(user__username="nurse0", deleted_at__isnull=True).issuing_authority
        == "State Board"
    )
