"""The Certification Removal Tool's job pages: sign-in, navigation by permission, the job list with
its search and date filters, a job's details with live progress, downloads, 403 and 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from access.models import Grant, Role
from access.permissions import VIEW_CERTIFICATIONS
from bulk import services, worker
from bulk.models import Job

from .factories import OrgUnitFactory, UserFactory, grant, make_csv, removal_rows

TOOL = "/tools/certification-removal/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def removal_job(actor, certification, users, *, title="Audit clean-up", created=None, **options) -> Job:
    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, users)),
        "removal.csv",
        actor=actor,
        title=title,
        **options,
    ).job
    if created:
        Job.objects.filter(pk=job.pk).update(created_at=created)
    return job


def listed_titles(response) -> list[str]:
    return [job.title for job in response.context["page"]]


def test_signing_in_leads_to_the_tools_the_user_may_use(alice):
    client = Client()
    assert client.get(TOOL)["Location"].startswith("/login/?next=")
    page = client.get("/login/")
    assert b'<label for="id_username">Username</label>' in page.content

    response = client.post("/login/", {"username": "alice", "password": "secret-pass-123"}, follow=True)

    # The dashboard: a way into each tool the permissions open.
    assert response.redirect_chain[-1][0] == "/"
    assert f'href="{TOOL}"'.encode() in response.content
    assert b"Certification Removal Tool" in response.content
    assert b'href="/certifications/"' in response.content  # alice may view certifications too


def test_navigation_shows_only_what_the_permissions_open(db):
    viewer = grant(UserFactory(), VIEW_CERTIFICATIONS)
    page = signed_in(viewer).get("/certifications/")
    assert b"Certification Removal Tool" not in page.content
    assert signed_in(viewer).get(TOOL).status_code == 403


def test_a_user_without_the_permission_gets_a_helpful_403(mallory):
    response = signed_in(mallory).get(TOOL)
    assert response.status_code == 403
    assert b"You don't have access to this page" in response.content
    assert b"Manage certification removal jobs" in response.content


def test_search_date_and_range_filters_narrow_the_list(alice, certification, holders):
    day = timezone.make_aware(dt.datetime(2026, 3, 10, 12, 0))
    removal_job(alice, certification, holders[:1], title="March audit", created=day)
    removal_job(alice, certification, holders[1:2], title="April audit", created=day + dt.timedelta(days=31))
    removal_job(alice, certification, holders[2:3], title="Leavers", created=day + dt.timedelta(days=45))
    client = signed_in(alice)

    assert listed_titles(client.get(TOOL)) == ["Leavers", "April audit", "March audit"]
    assert listed_titles(client.get(TOOL, {"q": "audit"})) == ["April audit", "March audit"]
    assert listed_titles(client.get(TOOL, {"date": "2026-03-10"})) == ["March audit"]
    assert listed_titles(client.get(TOOL, {"start": "2026-04-01", "end": "2026-04-30"})) == [
        "Leavers",
        "April audit",
    ]
    assert listed_titles(client.get(TOOL, {"status": "draft", "q": "leav"})) == ["Leavers"]
    bad = client.get(TOOL, {"start": "2026-05-01", "end": "2026-04-01"})
    assert b"The start date must not be after the end date." in bad.content
    assert listed_titles(bad) == []


def test_the_list_shows_the_published_columns_and_paginates(alice, certification, holders):
    for n in range(27):
        removal_job(alice, certification, holders[:1], title=f"Job {n:02d}")
    client = signed_in(alice)

    first = client.get(TOOL)
    for column in (b"Job Title", b"Created By", b"Created Date", b"Process Date", b"Status", b"View Details"):
        assert column in first.content
    assert b"Page 1 of 2 (27 in all)" in first.content
    assert len(listed_titles(client.get(TOOL, {"page": 2}))) == 2


def test_job_details_show_the_job_its_rows_and_its_files(alice, certification, holders):
    rows = [*removal_rows(certification, holders[:3]), [certification.code, holders[0].user_id]]
    job = services.submit(
        "certification-removal",
        make_csv(rows),
        "leavers.csv",
        actor=alice,
        title="Leavers",
        comment="HR list",
        start=True,
    ).job
    worker.run_next("w")
    client = signed_in(alice)

    page = client.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200
    for text in (
        b"Leavers",
        b"HR list",
        b"CERT-042",
        b"Processed",
        b"Original file (leavers.csv)",
        b"Results file",
    ):
        assert text in page.content
    assert [label for _, _, label, _ in page.context["rows"]] == ["Removed", "Removed", "Removed", "Skipped"]
    skipped = client.get(f"/jobs/{job.pk}/", {"outcome": "skipped"})
    assert [row.row_number for row, _, _, _ in skipped.context["rows"]] == [5]
    assert client.get(f"/jobs/{job.pk}/results/")["Content-Disposition"].startswith("attachment")
    assert b"".join(client.get(f"/jobs/{job.pk}/original/").streaming_content) == make_csv(rows)


def test_a_processed_jobs_row_filter_counts_each_outcome_as_its_rows_say(alice, certification, holders):
    """Three removed and two skipped (named twice): the filter's choices count each outcome, and each
    choice lists that many rows."""
    rows = [
        *removal_rows(certification, holders[:3]),
        [certification.code, holders[0].user_id],
        [certification.code, holders[1].user_id],
    ]
    job = services.submit(
        "certification-removal", make_csv(rows), "leavers.csv", actor=alice, title="Leavers", start=True
    ).job
    worker.run_next("w")
    client = signed_in(alice)
    choices = {value: count for value, _, count in client.get(f"/jobs/{job.pk}/").context["outcome_choices"]}
    assert choices == {"pending": 0, "succeeded": 3, "skipped": 2, "error": 0}
    for outcome, count in choices.items():
        assert len(client.get(f"/jobs/{job.pk}/", {"outcome": outcome}).context["rows"]) == count


def test_progress_is_polled_while_the_job_runs_and_the_page_refreshes_when_it_ends(
    alice, certification, holders
):
    job = removal_job(alice, certification, holders[:2], start=True)
    client = signed_in(alice)

    queued = client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 1s"' in queued.content
    assert "HX-Refresh" not in queued

    worker.run_next("w")
    done = client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    assert b"hx-trigger" not in done.content


@pytest.fixture
def divisions(db):
    role = Role.objects.create(name="Division administrator")
    permission = Permission.objects.get(codename="manage_certification_removal")
    Grant.objects.create(role=role, permission=permission, scope=Grant.Scope.OWN_UNITS)
    admins = {}
    for name in ("amy", "ben"):
        user = UserFactory(username=name)
        user.org_units.add(OrgUnitFactory(code=f"DIV-{name.upper()}"))
        role.members.add(user)
        admins[name] = user
    return admins


def test_a_constrained_admin_never_sees_another_divisions_job(divisions, certification, holders):
    theirs = removal_job(divisions["ben"], certification, holders[:2], title="Ben's job", validate_only=True)
    client = signed_in(divisions["amy"])

    assert "Ben's job" not in listed_titles(client.get(TOOL))
    for path in ("", "progress/", "results/", "original/"):
        assert client.get(f"/jobs/{theirs.pk}/{path}").status_code == 404, path
    assert b"not yours to see" in client.get(f"/jobs/{theirs.pk}/").content
