"""A job's exact preview: before any start, what it would change — counts per outcome, per target and
per org unit, each row before and after, a changes file — checked now by the validation that made the
job, so that what it says is what the run then does."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Permission
from django.test import Client

from access.models import Grant, Role
from bulk import services, worker
from bulk.models import Job
from credentials.edits import unassign_award
from credentials.models import Award, License, LicenseType
from learning.models import Enrollment

from .factories import (
    LICENCE_HEADER,
    UNENROLMENT_HEADER,
    ActivityFactory,
    OrgUnitFactory,
    UserFactory,
    enrol,
    grant,
    make_csv,
    removal_rows,
)
from .test_api import csv_rows, download, submit, token_client


def page_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def counts_of(preview: dict) -> dict[str, int]:
    return {o["outcome"]: o["rows"] for o in preview["outcomes"]}


def ran(job: Job) -> dict[str, int]:
    services.start_job(job, job.created_by)
    worker.run_next("w")
    job.refresh_from_db()
    return {"pending": job.succeeded, "skipped": job.skipped, "error": job.failed}


def test_a_removal_preview_counts_what_would_change_and_lists_what_changed_since_first(
    alice, certification, holders
):
    north = OrgUnitFactory(name="North")
    for user in holders[:3]:
        user.org_units.add(north)
    job = submit(alice, make_csv(removal_rows(certification, holders[:5])), "Five leavers")
    unassign_award(Award.objects.get(user=holders[4], certification=certification), actor=alice)  # meanwhile

    preview = token_client(alice).get(f"/api/v1/jobs/{job.pk}/preview/").json()
    shown = page_of(alice).get(f"/jobs/{job.pk}/preview/").content.decode()

    assert counts_of(preview) == {"pending": 4, "skipped": 1, "error": 0}
    assert preview["targets"] == [
        {"target": "CERT-042 — Basic Life Support", "rows": {"pending": 4, "skipped": 1, "error": 0}}
    ]
    assert preview["org_units"] == [
        {"org_unit": "North", "rows": 3},
        {"org_unit": "Not in an org unit", "rows": 1},
    ]
    (overtaken,) = preview["overtaken"]
    assert overtaken == {
        "row": 6,
        "key": holders[4].user_id,
        "outcome": "skipped",
        "message": "The user no longer holds certification CERT-042; nothing to remove.",
    }
    first = preview["changes"][0]
    assert (first["row"], first["change"]) == (2, "Would remove")
    assert first["before"] == {
        "Status": "Active",
        "Issue date": "2026-01-15",
        "Expiration date": "2027-01-15",
    }
    assert first["after"]["Status"] == "Removed"
    # The page lists the overtaken row before the changes, with its reason.
    assert shown.index("Changed since the file was checked") < shown.index("Changes, row by row")
    assert "no longer holds certification CERT-042" in shown
    assert "Active</span> → <strong>Removed" in shown
    # And the run does what the preview said.
    assert ran(job) == counts_of(preview)


def test_a_licence_import_preview_shows_each_edit_before_and_after(db):
    admin = grant(UserFactory(username="lena"), "credentials.import_licenses")
    nurse = UserFactory(username="nurse1")
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    License.objects.create(
        user=nurse, license_type=rn, number="RN-1", issuing_authority="Board", issue_date=dt.date(2024, 1, 1)
    )
    rows = [
        ["nurse1", "RN", "RN-1", "State Board", "2025-01-01", "2027-01-01", "Edit"],
        ["nurse1", "RN", "RN-2", "", "2025-02-01", "", "Add"],
        ["nobody", "RN", "RN-3", "", "", "", "Add"],
    ]
    job = services.submit(
        "license-import", make_csv(rows, LICENCE_HEADER), "l.csv", actor=admin, title="Licences"
    ).job

    preview = token_client(admin).get(f"/api/v1/jobs/{job.pk}/preview/").json()
    changes = {c["row"]: c for c in preview["changes"]}
    changes_file = csv_rows(download(page_of(admin).get(f"/jobs/{job.pk}/preview/changes.csv")))

    assert counts_of(preview) == {"pending": 2, "skipped": 0, "error": 1}
    assert changes[2]["change"] == "Would edit"
    assert (changes[2]["before"]["Issuing authority"], changes[2]["after"]["Issuing authority"]) == (
        "Board",
        "State Board",
    )
    assert (changes[2]["before"]["Issue date"], changes[2]["after"]["Issue date"]) == (
        "2024-01-01",
        "2025-01-01",
    )
    assert (changes[2]["before"]["Expiration date"], changes[2]["after"]["Expiration date"]) == (
        "",
        "2027-01-01",
    )
    assert changes[3]["change"] == "Would add" and changes[3]["before"] == {}
    assert changes_file[0][:4] == ["Row", "Username", "Licence type", "Change"]
    assert "Issue date before" in changes_file[0] and "Issue date after" in changes_file[0]
    assert [r[0] for r in changes_file[1:]] == ["2", "3"]
    assert ran(job) == counts_of(preview)


def test_an_unenrolment_preview_says_what_each_enrolment_was(db):
    admin = grant(UserFactory(username="una"), "bulk.import_unenrolments")
    learners = UserFactory.create_batch(3)
    course = ActivityFactory(external_reference="FS-COURSE", title="Fire Safety")
    enrol(course, learners[:1], completed_on=dt.date(2026, 2, 1))
    enrol(course, learners[1:2])
    rows = [[u.username, "FS-COURSE", "Yes" if n else "No"] for n, u in enumerate(learners)]
    job = services.submit(
        "unenrolment", make_csv(rows, UNENROLMENT_HEADER), "u.csv", actor=admin, title="Leavers"
    ).job

    preview = token_client(admin).get(f"/api/v1/jobs/{job.pk}/preview/").json()

    assert counts_of(preview) == {"pending": 2, "skipped": 1, "error": 0}
    assert [
        (c["before"]["Status"], c["after"]["Status"], c["after"]["Unenrolment email"])
        for c in preview["changes"]
    ] == [
        ("Completed", "Unenrolled", "No"),
        ("Enrolled", "Unenrolled", "Yes"),
    ]
    assert preview["targets"][0]["target"] == "Fire Safety (FS-COURSE)"
    assert ran(job) == counts_of(preview)
    assert Enrollment.objects.filter(status="unenrolled").count() == 2


def test_only_a_job_that_has_not_started_has_a_preview(alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])), "Two")
    ran(job)

    answer = token_client(alice).get(f"/api/v1/jobs/{job.pk}/preview/")
    page = page_of(alice).get(f"/jobs/{job.pk}/preview/")

    assert answer.status_code == 409
    assert answer.json()["errors"][0]["code"] == "not_previewable"
    assert page.status_code == 302 and page["Location"] == f"/jobs/{job.pk}/"


def test_a_preview_is_as_private_as_its_job(alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])), "Two")
    role = Role.objects.create(name="Division B")
    Grant.objects.create(
        role=role,
        permission=Permission.objects.get(codename="manage_certification_removal"),
        scope=Grant.Scope.OWN_UNITS,
    )
    outsider = UserFactory(username="otto")
    outsider.org_units.add(OrgUnitFactory(code="DIV-B"))
    role.members.add(outsider)

    assert token_client(outsider).get(f"/api/v1/jobs/{job.pk}/preview/").status_code == 404
    assert page_of(outsider).get(f"/jobs/{job.pk}/preview/").status_code == 404
    assert page_of(outsider).get(f"/jobs/{job.pk}/preview/changes.csv").status_code == 404


def test_the_changes_file_neutralises_formulas(alice, certification):
    user = UserFactory(user_id="=HYPERLINK(1)")
    Award.objects.create(user=user, certification=certification, issue_date=dt.date(2026, 1, 1))
    job = submit(alice, make_csv([[certification.code, user.user_id]]), "One")

    rows = csv_rows(download(token_client(alice).get(f"/api/v1/jobs/{job.pk}/preview/changes/")))

    assert rows[1][1] == "'=HYPERLINK(1)"


def test_starting_a_draft_checks_its_rows_again_as_its_preview_does(alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])), "Three")
    unassign_award(Award.objects.get(user=holders[1], certification=certification), actor=alice)
    said = counts_of(token_client(alice).get(f"/api/v1/jobs/{job.pk}/preview/").json())

    services.start_job(job, alice)

    row = job.rows.get(row_number=3)  # before any worker ran it
    assert (row.outcome, row.message) == (
        "skipped",
        "The user no longer holds certification CERT-042; nothing to remove.",
    )
    worker.run_next("w")
    job.refresh_from_db()
    assert (
        said
        == {"pending": job.succeeded, "skipped": job.skipped, "error": job.failed}
        == {
            "pending": 2,
            "skipped": 1,
            "error": 0,
        }
    )
