"""Approval for large changes: a job over the policy waits for a second administrator in scope, who
approves it (it runs) or rejects it (back to its creator, with the reason); the creator never
approves their own; every decision is recorded; the approvers are emailed."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client

from access.models import Grant, Role
from access.permissions import APPROVE_JOBS, MANAGE_CERTIFICATION_REMOVAL, VIEW_CERTIFICATIONS
from audit.models import Event
from bulk import services, worker
from bulk.models import Job
from credentials.edits import unassign_award
from credentials.models import Award

from .factories import OrgUnitFactory, UserFactory, grant, make_csv, removal_rows
from .mailserver import body_of
from .test_api import submit, token_client


@pytest.fixture
def policy(settings):
    settings.CERTDESK_APPROVAL_MAX_ROWS = 3
    settings.CERTDESK_APPROVAL_REMOVAL_SHARE = 0.5
    return settings


@pytest.fixture
def vera(db):
    """A second administrator who may run removals and approve them, everywhere."""
    return grant(
        UserFactory(username="vera", email="vera@example.test"),
        MANAGE_CERTIFICATION_REMOVAL,
        VIEW_CERTIFICATIONS,
        APPROVE_JOBS,
    )


def waiting(alice, certification, holders, n: int = 4) -> Job:
    job = submit(alice, make_csv(removal_rows(certification, holders[:n])), "Big removal")
    return services.start_job(job, alice)


def test_a_job_over_the_row_limit_waits_and_the_approvers_are_emailed(
    policy, alice, vera, certification, holders, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = waiting(alice, certification, holders)

    assert job.status == Job.Status.AWAITING_APPROVAL
    assert job.params["approval"]["reason"].startswith(
        "It would change 4 rows: a job that changes more than 3"
    )
    (delivered,) = smtp_server.messages  # through a real SMTP server: vera only, not alice herself
    assert delivered.recipients == ["vera@example.test"]
    assert f"/jobs/{job.pk}/" in body_of(delivered) and "Big removal" in delivered.message["Subject"]
    assert Award.objects.filter(status="active").count() == 20  # nothing changed
    assert worker.run_next("w") is None  # no worker takes it
    listed = token_client(alice).get("/api/v1/jobs/", {"status": "awaiting_approval"}).json()["results"]
    assert [j["id"] for j in listed] == [job.pk] and listed[0]["approval"]["requested_by"] == "alice"


def test_a_small_job_runs_at_once(policy, alice, certification, holders):
    job = services.start_job(submit(alice, make_csv(removal_rows(certification, holders[:3]))), alice)
    assert job.status == Job.Status.QUEUED


def test_a_removal_of_more_than_the_share_of_holders_waits(settings, alice, certification, holders):
    settings.CERTDESK_APPROVAL_MAX_ROWS = 1000
    settings.CERTDESK_APPROVAL_REMOVAL_SHARE = 0.2
    small = services.start_job(submit(alice, make_csv(removal_rows(certification, holders[:4]))), alice)
    large = services.start_job(submit(alice, make_csv(removal_rows(certification, holders[4:9]))), alice)

    assert small.status == Job.Status.QUEUED  # 4 of 20: 20%, not more
    assert large.status == Job.Status.AWAITING_APPROVAL
    assert (
        "It would remove 25% of the certification's current holders (5)" in large.params["approval"]["reason"]
    )


def test_the_creator_cannot_approve_their_own_job_anywhere(policy, alice, certification, holders):
    grant(alice, APPROVE_JOBS)
    job = waiting(alice, certification, holders)

    refused = token_client(alice).post(f"/api/v1/jobs/{job.pk}/approve/")
    page = Client()
    page.force_login(alice)
    shown = page.get(f"/jobs/{job.pk}/").content.decode()
    posted = page.post(f"/jobs/{job.pk}/approve/")

    assert refused.status_code == 403 and "another administrator must approve" in refused.json()["detail"]
    assert "Approve and run" not in shown and "they have been emailed" in shown
    assert posted.status_code == 403
    with pytest.raises(CommandError, match="another administrator must approve"):
        call_command("job", "approve", str(job.pk), "--as", "alice")
    assert Job.objects.get(pk=job.pk).status == Job.Status.AWAITING_APPROVAL


def test_a_second_administrator_approves_and_the_job_runs(policy, alice, vera, certification, holders):
    job = waiting(alice, certification, holders)
    page = Client()
    page.force_login(vera)
    assert "Approve and run" in page.get(f"/jobs/{job.pk}/").content.decode()

    approved = token_client(vera).post(f"/api/v1/jobs/{job.pk}/approve/")

    assert approved.status_code == 200 and approved.json()["status"] == "queued"
    assert approved.json()["approval"]["approved_by"] == "vera"
    assert worker.run_next("w").pk == job.pk
    assert Award.objects.filter(status="active").count() == 16
    assert token_client(vera).post(f"/api/v1/jobs/{job.pk}/approve/").status_code == 409  # decided already
    assert [
        e.action for e in Event.objects.filter(object_id=str(job.pk), object_type="bulk.job").order_by("id")
    ][-4:] == ["job.awaiting_approval", "job.queued", "job.approved", "job.processed"]


def test_an_approver_outside_the_jobs_scope_does_not_find_it(policy, alice, certification, holders):
    division_b = OrgUnitFactory(code="DIV-B")
    role = Role.objects.create(name="Division B")
    for codename in ("manage_certification_removal", "approve_jobs"):
        Grant.objects.create(
            role=role, permission=Permission.objects.get(codename=codename), scope=Grant.Scope.OWN_UNITS
        )
    otto = UserFactory(username="otto")
    otto.org_units.add(division_b)
    role.members.add(otto)
    job = waiting(alice, certification, holders)

    assert token_client(otto).post(f"/api/v1/jobs/{job.pk}/approve/").status_code == 404
    page = Client()
    page.force_login(otto)
    assert page.post(f"/jobs/{job.pk}/approve/").status_code == 404
    with pytest.raises(CommandError, match=f"Job {job.pk} not found"):
        call_command("job", "approve", str(job.pk), "--as", "otto")
    assert Job.objects.get(pk=job.pk).status == Job.Status.AWAITING_APPROVAL


def test_a_rejection_returns_the_job_with_its_reason(policy, alice, vera, certification, holders):
    job = waiting(alice, certification, holders)
    api = token_client(vera)

    assert api.post(f"/api/v1/jobs/{job.pk}/reject/", {}, format="json").status_code == 400  # say why
    out = io.StringIO()
    call_command("job", "reject", str(job.pk), "--as", "vera", "--reason", "Wrong certification", stdout=out)

    job.refresh_from_db()
    assert job.status == Job.Status.DRAFT and "Rejected by: vera: Wrong certification" in out.getvalue()
    page = Client()
    page.force_login(alice)
    assert "Rejected by vera: Wrong certification" in page.get(f"/jobs/{job.pk}/").content.decode()
    event = Event.objects.get(action="job.rejected")
    assert (event.actor, event.after["reason"]) == (vera, "Wrong certification")
    assert Award.objects.filter(status="active").count() == 20


def test_the_approver_sees_what_changed_since_the_request_and_the_decision_records_it(
    policy, alice, vera, certification, holders
):
    job = waiting(alice, certification, holders)
    unassign_award(Award.objects.get(user=holders[0], certification=certification), actor=vera)  # meanwhile
    page = Client()
    page.force_login(vera)

    shown = page.get(f"/jobs/{job.pk}/").content.decode()
    preview = page.get(f"/jobs/{job.pk}/preview/").content.decode()
    approved = token_client(vera).post(f"/api/v1/jobs/{job.pk}/approve/").json()
    overtaken = Job.objects.get(pk=job.pk).rows.get(row_number=2)
    worker.run_next("w")

    assert "Review what it will change" in shown
    assert "1 row that was valid when the file was checked no longer is" in preview
    # Checked again as approved: the overtaken row has the check's outcome before any worker runs.
    assert (overtaken.outcome, overtaken.message) == (
        "skipped",
        "The user no longer holds certification CERT-042; nothing to remove.",
    )
    assert approved["approval"]["changed"] == (
        "Checked again when approved: 1 row that would have succeeded no longer would (1 Skipped); "
        "the job leaves it unchanged."
    )
    job.refresh_from_db()
    assert (job.succeeded, job.skipped) == (3, 1)  # the overtaken row is Skipped, not applied twice
    event = Event.objects.get(action="job.approved")
    assert event.after["overtaken"] == {"skipped": 1}
    assert event.after["changed"].startswith("Checked again when approved: 1 row")
    assert "Approved by vera. Checked again when approved" in page.get(f"/jobs/{job.pk}/").content.decode()
