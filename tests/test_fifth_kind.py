"""A kind added by settings alone: tests/fifth_kind.py, registered by overriding CERTDESK_JOB_KINDS, is
offered by the pages, the API and the command line with no line of theirs written for it."""

from __future__ import annotations

import io
import json
from html import unescape
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bulk import worker
from bulk.kind import JobKind
from bulk.kind_permissions import create_kind_permissions
from bulk.models import Job
from bulk.registry import all_kinds, get_kind
from people.models import Group, User

from .factories import UserFactory, grant, make_csv
from .fifth_kind import PERMISSION, GroupMembers

FIFTH = "tests.fifth_kind.GroupMembers"
HEADER = ("Group", "Username")
NEXT = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "  # between the breadcrumbs


class GroupMembersOfPeople(GroupMembers):
    """The same kind under a permission of another app, which the engine has never heard of."""

    slug = "people-group-members"
    permission = "people.import_group_members"


@pytest.fixture
def fifth_kind(settings, db) -> JobKind:
    # The registry is keyed by the setting's value, so the overridden list is loaded on first use and
    # the original one again once the test restores the setting.
    settings.CERTDESK_JOB_KINDS = [*settings.CERTDESK_JOB_KINDS, FIFTH]
    # What migrate does after its migrations: the test database was made before the kind existed.
    create_kind_permissions()
    return get_kind(GroupMembers.slug)


@pytest.fixture
def editor(fifth_kind) -> User:
    """May add users to groups from a file, and nothing else."""
    return grant(UserFactory(username="editor", first_name="Edith"), PERMISSION)


@pytest.fixture
def auditors(db) -> Group:
    """Auditors, which grace already belongs to; ada does not yet."""
    group = Group.objects.create(name="Auditors")
    UserFactory(username="ada")
    group.members.add(UserFactory(username="grace"))
    return group


def members_file() -> bytes:
    return make_csv([["Auditors", "ada"], ["Auditors", "grace"], ["Auditors", "nobody"]], HEADER)


def members(group: Group) -> set[str]:
    return set(group.members.values_list("username", flat=True))


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_new_kinds_permission_is_created_once_with_its_declared_name(fifth_kind):
    permission = Permission.objects.get(content_type__app_label="bulk", codename="import_group_members")
    assert permission.name == "Add users to groups from a file"
    assert permission.content_type.model == "job"
    assert create_kind_permissions() == 0


def test_a_permission_of_another_app_is_created_on_that_app(settings, db):
    settings.CERTDESK_JOB_KINDS = ["tests.test_fifth_kind.GroupMembersOfPeople"]
    assert create_kind_permissions() == 1
    assert Permission.objects.filter(
        content_type__app_label="people", codename="import_group_members"
    ).exists()


def test_the_four_kinds_keep_the_permissions_their_migrations_made(db):
    assert create_kind_permissions() == 0
    for kind in all_kinds():
        app_label, codename = kind.permission.split(".")
        assert Permission.objects.get(content_type__app_label=app_label, codename=codename).name == (
            kind.permission_name
        )


def test_the_upload_page_of_the_new_kind_is_in_the_navigation_and_takes_a_file(editor, auditors):
    client = signed_in(editor)
    home = client.get("/").content.decode()
    assert 'href="/jobs/new/group-members/"' in home

    page = client.get("/jobs/new/group-members/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Add users to groups from a file</h1>" in html
    assert "One row per user and group; a user already in the group is skipped." in html
    assert "<strong>Group</strong>, <strong>Username</strong>" in html
    assert 'href="/jobs/kinds/group-members/template.csv"' in html
    assert f'href="/jobs/">Jobs</a>{NEXT}Add users to groups from a file' in html

    upload = io.BytesIO(members_file())
    upload.name = "auditors.csv"
    done = client.post("/jobs/new/group-members/", {"title": "New auditors", "file": upload}, follow=True)

    job = Job.objects.get()
    assert (job.kind, job.status, job.total) == ("group-members", Job.Status.QUEUED, 3)
    assert done.redirect_chain == [(f"/jobs/{job.pk}/", 302)]
    assert "The users are being added to their groups." in done.content.decode()
    worker.run_next("test-worker")
    assert members(auditors) == {"ada", "grace"}

    job_page = unescape(client.get(f"/jobs/{job.pk}/").content.decode())
    assert "Group members" in job_page  # the job type
    assert f'href="/jobs/">Jobs</a>{NEXT}Job' in job_page
    for text in (
        "Added to the group.",
        "Already a member of Auditors.",
        "No user has the username 'nobody'.",
    ):
        assert text in job_page
    assert client.get("/jobs/?kind=group-members").status_code == 200


def test_a_rejected_upload_of_the_new_kind_shows_the_form_again(editor, auditors):
    response = signed_in(editor).post("/jobs/new/group-members/", {"title": "", "validate_only": "on"})
    assert response.status_code == 400
    assert "The file is empty: no file was chosen." in response.content.decode()
    assert not Job.objects.exists()


def test_validating_only_changes_nothing_and_says_what_would_happen(editor, auditors):
    upload = io.BytesIO(members_file())
    upload.name = "auditors.csv"
    done = signed_in(editor).post(
        "/jobs/new/group-members/", {"title": "Check", "file": upload, "validate_only": "on"}, follow=True
    )
    html = done.content.decode()
    assert "The file was validated: nothing was changed." in html and "Would add" in html
    assert Job.objects.get().status == Job.Status.VERIFIED
    assert members(auditors) == {"grace"}


def test_the_new_kinds_page_needs_its_permission(fifth_kind, alice, mallory):
    assert signed_in(mallory).get("/jobs/new/group-members/").status_code == 403
    assert signed_in(alice).get("/jobs/new/group-members/").status_code == 403
    assert 'href="/jobs/new/group-members/"' not in signed_in(alice).get("/").content.decode()
    assert Client().get("/jobs/new/group-members/").status_code == 302  # to sign in


def test_the_generic_address_of_a_kind_with_a_page_of_its_own_leads_to_that_page(alice):
    response = signed_in(alice).get("/jobs/new/certification-removal/")
    assert response.status_code == 302 and response["Location"] == "/tools/certification-removal/new/"
    assert signed_in(alice).get("/jobs/new/no-such-kind/").status_code == 404


def test_the_api_lists_submits_and_shows_a_job_of_the_new_kind(editor, auditors):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=editor).key}")

    kinds = api.get("/api/v1/job-kinds/").json()
    assert [k["kind"] for k in kinds] == ["group-members"]
    assert [c["name"] for c in kinds[0]["columns"]] == ["Group", "Username"]

    file = io.BytesIO(members_file())
    file.name = "auditors.csv"
    created = api.post(
        "/api/v1/jobs/",
        {"kind": "group-members", "title": "New auditors", "file": file, "start": "true"},
        format="multipart",
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    worker.run_next("test-worker")

    detail = api.get(f"/api/v1/jobs/{job_id}/").json()
    assert (detail["kind"], detail["status"]) == ("group-members", "processed")
    assert detail["counts"] == {"total": 3, "succeeded": 1, "failed": 1, "skipped": 1}
    rows = api.get(f"/api/v1/jobs/{job_id}/rows/").json()["results"]
    assert [(r["key"], r["result"]) for r in rows] == [
        ("ada", "Added"),
        ("grace", "Skipped"),
        ("nobody", "Error"),
    ]
    assert members(auditors) == {"ada", "grace"}


def test_the_command_line_submits_a_job_of_the_new_kind_and_waits_for_it(editor, auditors, tmp_path: Path):
    path = tmp_path / "auditors.csv"
    path.write_bytes(members_file())
    out = io.StringIO()

    call_command(
        "job",
        "submit",
        "group-members",
        str(path),
        "--title",
        "New auditors",
        "--as",
        "editor",
        "--wait",
        "--json",
        stdout=out,
        stderr=io.StringIO(),
    )

    shown = json.loads(out.getvalue())
    assert (shown["kind"], shown["status"], shown["counts"]["succeeded"]) == ("group-members", "processed", 1)
    assert members(auditors) == {"ada", "grace"}

    listed = io.StringIO()
    call_command("job", "list", "--kind", "group-members", "--as", "editor", stdout=listed)
    assert "New auditors" in listed.getvalue()
