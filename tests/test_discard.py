"""Discarding a draft or verified job: on the job page, through the API and the CLI; it is deleted
with its files and recorded in the audit log. A job that ran, or one outside reach, cannot be."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client

from access.models import Grant, Role
from audit.models import Event
from bulk import services, worker
from bulk.models import Job

from .factories import OrgUnitFactory, UserFactory, make_csv, removal_rows
from .test_api import token_client
from .test_restore import removal


@pytest.fixture
def verified(alice, certification, holders) -> Job:
    csv = make_csv(removal_rows(certification, holders[:2]))
    return services.submit(
        "certification-removal",
        io.BytesIO(csv),
        "leavers.csv",
        actor=alice,
        title="Leavers",
        validate_only=True,
    ).job


def files_of(job: Job) -> list[str]:
    return [name for name in (job.original_file.name, job.results_file.name) if name]


def test_the_job_page_discards_a_verified_job_with_its_files(
    alice, verified, django_capture_on_commit_callbacks
):
    names = files_of(verified)
    assert names and all(default_storage.exists(n) for n in names)
    page = Client()
    page.force_login(alice)

    shown = page.get(f"/jobs/{verified.pk}/")
    assert f'href="/jobs/{verified.pk}/discard/"' in shown.content.decode()
    confirm = page.get(f"/jobs/{verified.pk}/discard/")
    assert "has changed nothing" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = page.post(f"/jobs/{verified.pk}/discard/", follow=True)

    assert "was discarded, with its files" in done.content.decode()
    assert not Job.objects.filter(pk=verified.pk).exists()
    assert not any(default_storage.exists(n) for n in names)
    event = Event.objects.get(action="job.discarded")
    assert (event.actor, event.object_id, event.before["title"]) == (alice, str(verified.pk), "Leavers")


def test_the_api_and_the_cli_discard_and_refuse_a_job_that_ran(alice, verified, certification, holders):
    api = token_client(alice)
    ran = services.submit(
        "certification-removal",
        io.BytesIO(make_csv(removal_rows(certification, holders[2:3]))),
        "more.csv",
        actor=alice,
        title="More leavers",
        start=True,
    ).job
    worker.run_next("test-worker")

    refused = api.post(f"/api/v1/jobs/{ran.pk}/discard/")
    assert refused.status_code == 409
    assert "is Processed and cannot be discarded" in refused.json()["detail"]
    with pytest.raises(CommandError, match="cannot be discarded"):
        call_command("job", "discard", str(ran.pk), "--as", "alice")

    assert api.post(f"/api/v1/jobs/{verified.pk}/discard/").status_code == 204
    assert not Job.objects.filter(pk=verified.pk).exists()
    assert Job.objects.filter(pk=ran.pk).exists()


def test_the_cli_discards_a_draft(alice, verified):
    out = io.StringIO()
    call_command("job", "discard", str(verified.pk), "--as", "alice", stdout=out)
    assert f"Job {verified.pk} “Leavers” discarded" in out.getvalue()
    assert not Job.objects.filter(pk=verified.pk).exists()


def test_a_job_outside_reach_is_not_found_and_stays(verified):
    """An administrator of another division, who may discard removal jobs of their own division, does
    not find alice's job: 404 on the page and in the API, and the CLI says not found."""
    division_b = OrgUnitFactory(code="DIV-B")
    role = Role.objects.create(name="Division B removals")
    removal = Permission.objects.get(codename="manage_certification_removal")
    Grant.objects.create(role=role, permission=removal, scope=Grant.Scope.OWN_UNITS)
    bo = UserFactory(username="bo")
    bo.org_units.add(division_b)
    role.members.add(bo)

    assert token_client(bo).post(f"/api/v1/jobs/{verified.pk}/discard/").status_code == 404
    page = Client()
    page.force_login(bo)
    assert page.get(f"/jobs/{verified.pk}/discard/").status_code == 404
    assert page.post(f"/jobs/{verified.pk}/discard/").status_code == 404
    with pytest.raises(CommandError, match=f"Job {verified.pk} not found"):
        call_command("job", "discard", str(verified.pk), "--as", "bo")
    assert Job.objects.filter(pk=verified.pk).exists()


def test_the_jobs_list_shows_type_and_outcome_and_picks_the_kind_among_its_filters(alice, verified):
    page = Client()
    page.force_login(alice)
    html = page.get("/jobs/").content.decode()

    assert '<th scope="col" class="hide-narrow">Type</th>' in html
    assert '<th scope="col" class="hide-narrow">Outcome</th>' in html
    assert "Certification removal" in html or "certification" in html.lower()
    assert "2 rows, not run yet" in html
    assert html.count('name="kind"') == 1 and ">Show<" not in html


def test_a_removal_jobs_page_highlights_its_tool_and_lists_its_files_without_a_stray_dot(alice, verified):
    page = Client()
    page.force_login(alice)
    html = page.get(f"/jobs/{verified.pk}/").content.decode()

    assert re.search(r'href="/tools/certification-removal/"[^>]*aria-current="page"', html)
    assert not re.search(r'href="/jobs/"[^>]*aria-current', html)
    files = html.split("<dt>Files</dt>")[1].split("</dd>")[0]
    assert not files.strip().removeprefix("<dd>").strip().startswith("·")
    assert (
        "1 row" in Job(total=1, status="draft").outcome()
        and "1 rows" not in Job(total=1, status="draft").outcome()
    )


def test_a_restore_jobs_files_read_without_a_stray_separator(alice, certification, holders):
    undo = services.restore_job(removal(alice, certification, holders[:1]), alice)
    page = Client()
    page.force_login(alice)

    before_run = page.get(f"/jobs/{undo.pk}/").content.decode().split("<dt>Files</dt>")[1].split("</dd>")[0]
    worker.run_next("test-worker")
    after_run = page.get(f"/jobs/{undo.pk}/").content.decode().split("<dt>Files</dt>")[1].split("</dd>")[0]

    assert " ".join(before_run.replace("<dd>", "").split()) == "None yet"
    assert " ".join(after_run.replace("<dd>", "").split()).startswith("<a href")
    assert "·" not in after_run
