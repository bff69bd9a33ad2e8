"""Create a Certification Removal Job in the browser: what an administrator sees at each step.

Job Title, Enter Comment, Upload CSV; a rejected file lists every offending row and creates nothing;
a valid file is a Draft job reviewed (Create), confirmed (Remove), queued and then processed.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from access.models import Grant, Role
from bulk import services, worker
from bulk.models import Job
from credentials.models import Award
from people.models import User

from .factories import CertificationFactory, OrgUnitFactory, UserFactory, award_many, make_csv, removal_rows

NEW = reverse("web:removal-new")
TEMPLATE = reverse("web:removal-template")
ONE_MB = 1024 * 1024
INVALID_USERS = "User IDs included in the file are invalid or the users are not enrolled in the certification"


def confirm_url(job: Job) -> str:
    return reverse("web:removal-confirm", args=[job.pk])


def signed_in(user: User, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def upload(
    client: Client, data: bytes, *, title: str = "Audit clean-up", name: str = "removal.csv", **fields
):
    return client.post(
        NEW, {"title": title, "file": SimpleUploadedFile(name, data, content_type="text/csv"), **fields}
    )


def text(response) -> str:
    """The page as a reader sees it: tags dropped, entities of quotes undone, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")
    return re.sub(r"\s+", " ", html)


# --- The form ----------------------------------------------------------------------------------


def test_the_form_shows_the_published_fields_with_labels_and_a_live_counter(alice):
    response = signed_in(alice).get(NEW)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Create a Certification Removal Job</h1>" in html
    assert '<label for="title">Job Title</label>' in html
    assert '<label for="comment">Enter Comment</label>' in html
    assert '<label for="file">Upload CSV</label>' in html
    assert "Visible to other administrators who view this job's details" in text(response)
    title_input = re.search(r"<input[^>]*id=\"title\"[^>]*>", html, re.S)
    assert title_input is not None
    for attribute in ('maxlength="100"', "required", 'data-counter="title-counter"', 'name="title"'):
        assert attribute in title_input.group(0)
    assert 'id="title-counter"' in html
    assert 'aria-live="polite"' in html
    assert re.search(r'<script src="[^"]*web/create-job\.js" defer></script>', html)
    assert 'type="file" id="file" name="file"' in html
    assert "data-dropzone" in html
    assert 'enctype="multipart/form-data"' in html
    assert f'href="{TEMPLATE}"' in html and "Download CSV Template" in html
    assert "csrfmiddlewaretoken" in html


def test_the_form_names_the_certification_a_view_users_page_sent_the_admin_for(alice, certification):
    client = signed_in(alice)

    page = text(client.get(NEW, {"certification": "CERT-042"}))
    assert "Removing users from certification CERT-042 — Basic Life Support" in page

    unknown = client.get(NEW, {"certification": "NO-SUCH-CERT"})
    assert unknown.status_code == 200
    assert "Removing users from certification" not in text(unknown)


def test_the_script_is_a_static_file_and_the_page_has_no_inline_script(alice):
    page = signed_in(alice).get(NEW).content.decode()
    src = re.search(r'<script src="([^"]*create-job\.js)" defer></script>', page).group(1)

    script = Client().get(src)

    assert script.status_code == 200
    source = b"".join(script.streaming_content).decode() if script.streaming else script.content.decode()
    assert "dataTransfer" in source and "input.files" in source  # drag-and-drop sets the input's files
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # every script is a file


# --- Rejected files ----------------------------------------------------------------------------


def test_a_file_with_bad_rows_lists_every_offending_row_and_creates_no_job(alice, certification, holders):
    outsiders = [UserFactory(user_id="jdoe7"), UserFactory(user_id="kroe8")]
    rows = removal_rows(certification, holders[:3])
    rows.insert(1, [certification.code, outsiders[0].user_id])  # row 3: exists, does not hold CERT-042
    rows.append([certification.code, "NOBODY-1"])  # row 6: no such user
    rows.append([certification.code, outsiders[1].user_id])  # row 7

    response = upload(signed_in(alice), make_csv(rows), title="Keep me", comment="Audit 2026")

    assert response.status_code == 400
    page = text(response)
    assert INVALID_USERS in page
    assert "Row 3, column User ID, value 'jdoe7': 'jdoe7' is not enrolled in certification CERT-042" in page
    assert "Row 6, column User ID, value 'NOBODY-1': No user has the User ID 'NOBODY-1'" in page
    assert "Row 7, column User ID, value 'kroe8': 'kroe8' is not enrolled in certification CERT-042" in page
    assert "3 problems found" in page
    assert 'role="alert"' in response.content.decode()
    assert 'value="Keep me"' in response.content.decode()
    assert ">Audit 2026</textarea>" in response.content.decode()
    assert Job.objects.count() == 0
    assert Award.objects.filter(status="active").count() == len(holders)


def test_more_problems_than_the_cap_are_counted_not_listed(settings, alice, certification, holders):
    settings.CERTDESK_MAX_LISTED_PROBLEMS = 3
    rows = [[certification.code, f"GHOST-{n}"] for n in range(1, 8)]

    page = text(upload(signed_in(alice), make_csv(rows)))

    assert INVALID_USERS in page
    assert "Row 2, column User ID, value 'GHOST-1'" in page
    assert "Row 4, column User ID, value 'GHOST-3'" in page
    assert "GHOST-4" not in page
    assert "and 4 more" in page
    assert Job.objects.count() == 0


def test_an_unknown_certification_gets_its_published_headline(alice, holders):
    page = text(upload(signed_in(alice), make_csv([["CERT-NOPE", holders[0].user_id]])))

    assert "The Certification ID included in the file is invalid" in page
    assert "Row 2, column Certification ID, value 'CERT-NOPE'" in page
    assert Job.objects.count() == 0


def test_a_file_that_is_not_csv_is_the_incorrect_file_format(alice, certification, holders):
    response = upload(signed_in(alice), make_csv(removal_rows(certification, holders)), name="users.pdf")

    assert response.status_code == 400
    assert "The file is the incorrect file format" in text(response)
    assert Job.objects.count() == 0


def test_an_upload_over_1mb_shows_the_size_error_and_keeps_the_title(alice, certification, holders):
    data = make_csv(removal_rows(certification, holders))
    data += b"\n" * (ONE_MB + 1 - len(data))

    response = upload(signed_in(alice), data, title="Too big")

    assert response.status_code == 400
    page = text(response)
    assert "The file size must be 1MB or less" in page
    assert 'value="Too big"' in response.content.decode()
    assert Job.objects.count() == 0


def test_a_file_of_exactly_1mb_is_accepted(alice, certification, holders):
    data = make_csv(removal_rows(certification, holders))
    data += b"\n" * (ONE_MB - len(data))

    response = upload(signed_in(alice), data)

    assert response.status_code == 302
    assert Job.objects.get().status == Job.Status.DRAFT


def test_no_file_is_the_empty_file_error(alice):
    response = signed_in(alice).post(NEW, {"title": "No file"})

    assert response.status_code == 400
    assert "The file is empty" in text(response)
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    ("title", "error"),
    [
        ("", "Job Title is required."),
        ("   ", "Job Title is required."),
        ("T" * 101, "Job Title can be up to 100"),
    ],
    ids=["missing", "blank", "101-characters"],
)
def test_a_missing_or_too_long_title_shows_the_field_error(alice, certification, holders, title, error):
    response = upload(signed_in(alice), make_csv(removal_rows(certification, holders)), title=title)

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'<p class="error" id="title-error" role="alert">' + re.escape(error), html)
    assert 'aria-invalid="true"' in html
    assert "title-error" in re.search(r"<input[^>]*id=\"title\"[^>]*>", html, re.S).group(0)
    assert Job.objects.count() == 0


# --- A good file: review, confirm, remove ---------------------------------------------------


def test_a_good_file_leads_to_the_confirm_page_with_its_summary(alice, certification, holders):
    rows = removal_rows(certification, holders[:12])
    rows.append([certification.code, holders[0].user_id])  # a repeat, skipped
    client = signed_in(alice)

    response = upload(client, make_csv(rows), title="Audit clean-up", comment="After the March audit")

    job = Job.objects.get()
    assert job.status == Job.Status.DRAFT
    assert response.status_code == 302
    assert response["Location"] == confirm_url(job)

    page = client.get(response["Location"])
    assert page.status_code == 200
    seen = text(page)
    assert "File validated" in seen
    assert "CERT-042 — Basic Life Support" in seen
    assert "12 users will be removed from the certification" in seen
    assert "1 repeated row will be skipped" in seen
    for holder in holders[:10]:
        assert f"<li>{holder.user_id}</li>" in page.content.decode()
    assert holders[10].user_id not in seen  # a sample of ten, not the whole file
    assert "The first 10 of 12." in seen
    assert "Audit clean-up" in seen and "After the March audit" in seen
    assert re.search(r'<button type="submit" class="primary">Create</button>', page.content.decode())
    assert f'href="{reverse("web:removal-tool")}"' in page.content.decode()
    assert "Remove</button>" not in page.content.decode()


def test_create_then_remove_queues_the_job_and_a_worker_processes_it(alice, certification, holders):
    client = signed_in(alice)
    upload(client, make_csv(removal_rows(certification, holders[:5])), title="Remove five")
    job = Job.objects.get()

    confirm = client.get(confirm_url(job), {"step": "confirm"})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert b'<h2 id="step-heading">Confirm</h2>' in confirm.content
    assert "CERT-042 — Basic Life Support" in text(confirm)
    assert '<button type="submit" class="danger">Remove</button>' in html
    assert 'name="action" value="remove"' in html
    assert "csrfmiddlewaretoken" in html
    job.refresh_from_db()
    assert job.status == Job.Status.DRAFT  # looking at the confirmation changes nothing

    removed = client.post(confirm_url(job), {"action": "remove"}, follow=True)

    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert removed.redirect_chain == [(reverse("web:job", args=[job.pk]), 302)]
    assert "The removal job is queued; it will process shortly." in text(removed)

    assert worker.run_next("w").pk == job.pk
    job.refresh_from_db()
    assert job.status == Job.Status.PROCESSED
    assert job.succeeded == 5
    assert Award.objects.filter(certification=certification, status="active").count() == len(holders) - 5


def test_create_by_post_shows_the_confirm_step(alice, certification, holders):
    client = signed_in(alice)
    upload(client, make_csv(removal_rows(certification, holders[:2])))
    job = Job.objects.get()

    response = client.post(confirm_url(job), {"action": "create"}, follow=True)

    assert "Remove</button>" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.DRAFT


def test_a_verified_job_can_be_started_from_the_confirm_page(alice, certification, holders):
    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders[:2])),
        "r.csv",
        actor=alice,
        title="Checked first",
        validate_only=True,
    ).job
    client = signed_in(alice)

    assert "CERT-042 — Basic Life Support" in text(client.get(confirm_url(job)))
    client.post(confirm_url(job), {"action": "remove"})

    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_a_job_already_started_redirects_to_its_page(alice, certification, holders):
    client = signed_in(alice)
    upload(client, make_csv(removal_rows(certification, holders[:2])))
    job = Job.objects.get()
    client.post(confirm_url(job), {"action": "remove"})

    again = client.get(confirm_url(job))
    assert again.status_code == 302
    assert again["Location"] == reverse("web:job", args=[job.pk])

    twice = client.post(confirm_url(job), {"action": "remove"})
    assert twice.status_code == 302
    assert twice["Location"] == reverse("web:job", args=[job.pk])
    assert Job.objects.get().status == Job.Status.QUEUED


def test_an_unknown_job_is_404_on_confirm(alice):
    assert signed_in(alice).get(reverse("web:removal-confirm", args=[999999])).status_code == 404


def test_upload_and_remove_need_the_csrf_token(alice, certification, holders):
    client = signed_in(alice, enforce_csrf_checks=True)

    response = upload(client, make_csv(removal_rows(certification, holders[:2])))
    assert response.status_code == 403
    assert Job.objects.count() == 0

    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders[:2])),
        "r.csv",
        actor=alice,
        title="T",
    ).job
    assert client.post(confirm_url(job), {"action": "remove"}).status_code == 403
    job.refresh_from_db()
    assert job.status == Job.Status.DRAFT

    # With the token from the form, the same upload goes through.
    form = client.get(NEW).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    accepted = upload(client, make_csv(removal_rows(certification, holders[:2])), csrfmiddlewaretoken=token)
    assert accepted.status_code == 302


# --- Access ------------------------------------------------------------------------------------


def test_without_the_permission_every_page_is_403(mallory, alice, certification, holders):
    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders[:2])),
        "r.csv",
        actor=alice,
        title="T",
    ).job
    client = signed_in(mallory)

    assert client.get(NEW).status_code == 403
    assert upload(client, make_csv(removal_rows(certification, holders[:2]))).status_code == 403
    assert client.get(TEMPLATE).status_code == 403
    assert client.get(confirm_url(job)).status_code == 403
    assert client.post(confirm_url(job), {"action": "remove"}).status_code == 403
    assert Job.objects.count() == 1
    job.refresh_from_db()
    assert job.status == Job.Status.DRAFT


def test_signed_out_visitors_are_sent_to_sign_in(certification):
    client = Client()
    for url in (NEW, TEMPLATE, reverse("web:removal-confirm", args=[1])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def division_admin(username: str, division: str) -> User:
    """An administrator whose removal permission is restricted to their own org units."""
    role, _ = Role.objects.get_or_create(name="Division administrator")
    if not role.grants.exists():
        permission = Permission.objects.get(
            content_type__app_label="bulk", codename="manage_certification_removal"
        )
        Grant.objects.create(role=role, permission=permission, scope=Grant.Scope.OWN_UNITS)
    user = UserFactory(username=username, user_id=f"ADM-{username.upper()}")
    user.org_units.add(OrgUnitFactory(code=division, name=division, kind="Division"))
    role.members.add(user)
    return User.objects.get(pk=user.pk)


def test_another_divisions_draft_is_404_on_confirm(db, certification, holders):
    ann = division_admin("ann", "DIV-A")
    ben = division_admin("ben", "DIV-B")
    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders[:2])),
        "r.csv",
        actor=ann,
        title="Ann's",
    ).job

    assert signed_in(ann).get(confirm_url(job)).status_code == 200
    ben_client = signed_in(ben)
    assert ben_client.get(confirm_url(job)).status_code == 404
    assert ben_client.get(confirm_url(job), {"step": "confirm"}).status_code == 404
    assert ben_client.post(confirm_url(job), {"action": "remove"}).status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.DRAFT
    # A constrained admin still creates jobs of their own through the form.
    assert ben_client.get(NEW).status_code == 200


# --- Download CSV Template -----------------------------------------------------------------------


def test_the_template_is_a_header_only_csv_attachment(alice):
    response = signed_in(alice).get(TEMPLATE)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="certification-removal-template.csv"'
    assert response.content.decode("utf-8").splitlines() == ["Certification ID,User ID"]


def test_a_file_for_another_certification_is_refused_when_started_from_one(alice, certification, holders):
    """Started from CERT-042's Awarded Users ("Remove users from this certification"), a file for
    another certification is refused with both codes named, and nothing is created."""
    other = CertificationFactory(code="CERT-003", title="Fire Safety")
    award_many(other, holders[:2])
    client = signed_in(alice)

    refused = upload(client, make_csv(removal_rows(other, holders[:2])), certification=certification.code)

    assert refused.status_code == 400
    page = text(refused)
    assert "The Certification ID included in the file is invalid" in page
    assert (
        "The file is for certification CERT-003, but this job was started from certification CERT-042" in page
    )
    assert not Job.objects.exists()
    accepted = upload(
        client, make_csv(removal_rows(certification, holders[:2])), certification=certification.code
    )
    assert accepted.status_code == 302 and Job.objects.count() == 1


def test_a_job_that_ended_before_its_page_opened_shows_no_stale_queued_banner(alice, certification, holders):
    client = signed_in(alice)
    upload(client, make_csv(removal_rows(certification, holders[:2])), title="Remove two")
    job = Job.objects.get()
    client.post(confirm_url(job), {"action": "remove"})  # the banner waits for the next page
    worker.run_next("w")  # a quick worker: the job ends before the administrator's browser follows

    page = text(client.get(reverse("web:job", args=[job.pk])))

    assert "Processed" in page
    assert "queued; it will process shortly" not in page
