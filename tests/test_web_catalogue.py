"""The Catalogue pages: activities and their external references, the Import unenrolments dialog with
Verify import file only, the job page of an import, and the unenrolment email template."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core import mail
from django.test import Client

from access.models import Grant, Role
from access.permissions import (
    EDIT_ACTIVITIES,
    EDIT_EMAIL_TEMPLATES,
    IMPORT_UNENROLMENTS,
    MANAGE_CERTIFICATION_REMOVAL,
    VIEW_CATALOGUE,
)
from audit.models import Event
from bulk import services, worker
from bulk.models import Job
from learning.models import Activity, EmailTemplate, Enrollment
from learning.services import ActivityInputError, change_external_reference

from .factories import (
    UNENROLMENT_HEADER,
    ActivityFactory,
    OrgUnitFactory,
    UserFactory,
    enrol,
    grant,
    make_csv,
)

PASSWORD = "secret-pass-123"


@pytest.fixture
def cara(db):
    """A content administrator: imports unenrolments, edits activities and the unenrolment email."""
    user = UserFactory(username="cara", user_id="ADM-CARA", email="cara@example.test", first_name="Cara")
    return grant(user, IMPORT_UNENROLMENTS, VIEW_CATALOGUE, EDIT_ACTIVITIES, EDIT_EMAIL_TEMPLATES)


@pytest.fixture
def cara_client(cara) -> Client:
    client = Client()
    client.force_login(cara)
    return client


@pytest.fixture
def course(db) -> Activity:
    return ActivityFactory(title="Fire Safety Awareness", external_reference="FS-101")


def upload_file(rows, name="unenrol.csv"):
    data = make_csv(rows, UNENROLMENT_HEADER)
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def results_of(client: Client, job: Job) -> list[dict[str, str]]:
    response = client.get(f"/jobs/{job.pk}/results/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_catalogue_lists_activities_with_external_references_and_enrolment_counts(cara_client, course):
    unset = ActivityFactory(title="Leadership Foundations", external_reference=None)
    learners = UserFactory.create_batch(5)
    enrol(course, learners[:3])
    enrol(course, learners[3:], completed_on=dt.date(2026, 2, 1))
    Enrollment.objects.filter(user=learners[4]).update(status=Enrollment.Status.UNENROLLED)

    page = cara_client.get("/catalogue/").content.decode()

    assert "FS-101" in page
    row = page[page.index("Fire Safety Awareness") : page.index("</tr>", page.index("Fire Safety Awareness"))]
    # 4 current (3 enrolled + 1 completed), 2 completed (one since unenrolled: it still counts), 1 unenrolled
    assert [c.split(">")[-1] for c in row.split("</td>")[4:7]] == ["4", "2", "1"]
    assert unset.title in page and "Not set" in page
    assert "Import unenrolments" in page


def test_catalogue_search_finds_by_title_or_reference(cara_client, course):
    ActivityFactory(title="Manual Handling", external_reference="MH-1")
    page = cara_client.get("/catalogue/", {"q": "fs-1"}).content.decode()
    assert "Fire Safety Awareness" in page and "Manual Handling" not in page


def test_pages_need_a_permission(mallory, course):
    client = Client()
    assert client.get("/catalogue/").status_code == 302  # sign in first
    client.force_login(mallory)
    for url in (
        "/catalogue/",
        f"/catalogue/activities/{course.pk}/",
        "/catalogue/import-unenrolments/",
        "/catalogue/import-unenrolments/template.csv",
        "/catalogue/unenrolment-imports/",
        "/catalogue/unenrolment-email/",
    ):
        assert client.get(url).status_code == 403, url


def test_a_catalogue_viewer_cannot_import_or_change_references(db, course):
    viewer = grant(UserFactory(), VIEW_CATALOGUE)
    client = Client()
    client.force_login(viewer)
    page = client.get("/catalogue/").content.decode()
    assert "Import unenrolments" not in page
    assert (
        client.post(
            "/catalogue/import-unenrolments/", {"file": upload_file([["x", "FS-101", "No"]])}
        ).status_code
        == 403
    )
    assert (
        client.post(f"/catalogue/activities/{course.pk}/", {"external_reference": "NEW"}).status_code == 403
    )
    course.refresh_from_db()
    assert course.external_reference == "FS-101"


def test_the_properties_page_sets_a_unique_external_reference(cara_client, course):
    other = ActivityFactory(title="Fire Warden Workshop", external_reference=None)

    saved = cara_client.post(
        f"/catalogue/activities/{other.pk}/", {"external_reference": "  FW-0312 "}, follow=True
    )
    other.refresh_from_db()
    assert other.external_reference == "FW-0312"
    assert "The external reference is saved." in saved.content.decode()

    taken = cara_client.post(f"/catalogue/activities/{other.pk}/", {"external_reference": "FS-101"})
    assert taken.status_code == 400
    assert (
        "The external reference &#x27;FS-101&#x27; is already used by &#x27;Fire Safety Awareness&#x27;"
        in taken.content.decode()
    )
    other.refresh_from_db()
    assert other.external_reference == "FW-0312"

    cara_client.post(f"/catalogue/activities/{other.pk}/", {"external_reference": ""})
    other.refresh_from_db()
    assert other.external_reference is None


def test_an_external_reference_change_is_audited_by_the_service_and_a_taken_one_is_not(cara, course):
    other = ActivityFactory(title="Fire Warden Workshop", external_reference="FW-1")

    change_external_reference(other, "  FW-0312 ", actor=cara)

    event = Event.objects.get(action="activity.external_reference_changed")
    assert (event.actor, event.object_id) == (cara, str(other.pk))
    assert (event.before, event.after) == ({"external_reference": "FW-1"}, {"external_reference": "FW-0312"})
    with pytest.raises(ActivityInputError) as refused:
        change_external_reference(other, "FS-101", actor=cara)
    assert [(p.code, p.column, p.value) for p in refused.value.problems] == [
        ("external_reference_taken", "external_reference", "FS-101")
    ]
    other.refresh_from_db()
    assert other.external_reference == "FW-0312"
    assert Event.objects.filter(action="activity.external_reference_changed").count() == 1


def test_the_properties_page_records_who_changed_the_reference(cara, cara_client, course):
    cara_client.post(f"/catalogue/activities/{course.pk}/", {"external_reference": ""})

    event = Event.objects.get(action="activity.external_reference_changed")
    assert (event.actor, event.before, event.after) == (
        cara,
        {"external_reference": "FS-101"},
        {"external_reference": None},
    )


def test_the_dialog_offers_template_and_example_and_verifies_by_default(cara_client):
    page = cara_client.get("/catalogue/").content.decode()
    assert 'id="verify-only" name="verify_only" checked' in page
    template = cara_client.get("/catalogue/import-unenrolments/template.csv")
    assert template.content.decode().strip() == "Username,Activity external reference,Send unenrolment email"
    example = cara_client.get("/catalogue/import-unenrolments/example.csv").content.decode().splitlines()
    assert example[0] == "Username,Activity external reference,Send unenrolment email"
    assert len(example) > 1


def test_verify_then_run_for_real_without_uploading_again(
    cara, cara_client, course, django_capture_on_commit_callbacks
):
    enrolled, completed = UserFactory.create_batch(2)
    enrol(course, [enrolled])
    session = ActivityFactory(type=Activity.Type.SESSION, title="Warden Workshop", external_reference="FW-1")
    enrol(session, [completed], completed_on=dt.date(2026, 3, 12))
    rows = [
        [enrolled.username, "FS-101", "Yes"],
        [completed.username, "FW-1", "No"],
        ["nobody", "FS-101", "No"],
    ]

    with django_capture_on_commit_callbacks(execute=True):
        verified = cara_client.post(
            "/catalogue/import-unenrolments/", {"file": upload_file(rows), "verify_only": "on"}, follow=True
        )

    job = Job.objects.get()
    assert job.status == Job.Status.VERIFIED
    assert job.title == "Unenrolments from unenrol.csv"
    page = verified.content.decode()
    assert "nothing was changed and no learner was emailed" in page
    assert "Run this import for real" in page
    assert "2</strong> would unenrol" in page and "1</strong> errors" in page
    assert "Username not recognised" in page
    assert [r["Result"] for r in results_of(cara_client, job)] == ["Would unenrol", "Would unenrol", "Error"]
    assert Enrollment.objects.current().count() == 2
    assert [m.to for m in mail.outbox] == [["cara@example.test"]]  # the results, to the admin only

    started = cara_client.post(f"/jobs/{job.pk}/start/", follow=True)
    assert "The job is queued" in started.content.decode()
    worker.run_next("test-worker")

    job.refresh_from_db()
    assert job.status == Job.Status.PROCESSED
    assert [r["Result"] for r in results_of(cara_client, job)] == ["Unenrolled", "Unenrolled", "Error"]
    assert Enrollment.objects.current().count() == 0
    assert Enrollment.objects.get(user=completed).completed_on == dt.date(2026, 3, 12)
    assert sorted(m.to[0] for m in mail.outbox[1:]) == sorted(["cara@example.test", enrolled.email])


def test_unchecking_verify_queues_the_import_at_once(cara_client, course):
    learner = UserFactory()
    enrol(course, [learner])
    cara_client.post(
        "/catalogue/import-unenrolments/", {"file": upload_file([[learner.username, "FS-101", "No"]])}
    )
    job = Job.objects.get()
    assert job.status == Job.Status.QUEUED
    worker.run_next("test-worker")
    assert Enrollment.objects.get(user=learner).status == Enrollment.Status.UNENROLLED


def test_a_file_level_error_is_shown_and_nothing_is_created(cara_client, course):
    data = io.BytesIO(b"Username,Activity\njdoe,FS-101\n")
    data.name = "wrong.csv"
    response = cara_client.post("/catalogue/import-unenrolments/", {"file": data, "verify_only": "on"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "The file has invalid columns" in page
    assert "Activity external reference is missing" in page
    assert not Job.objects.exists()


def test_no_file_chosen_is_explained(cara_client):
    response = cara_client.post("/catalogue/import-unenrolments/", {"verify_only": "on"})
    assert response.status_code == 400
    assert "no file was chosen" in response.content.decode()


def test_unenrolment_jobs_are_listed_and_kept_apart_from_removal_jobs(cara, cara_client, course):
    remover = grant(UserFactory(), MANAGE_CERTIFICATION_REMOVAL)
    enrol(course, [learner := UserFactory()])
    cara_client.post(
        "/catalogue/import-unenrolments/",
        {
            "file": upload_file([[learner.username, "FS-101", "No"]]),
            "verify_only": "on",
            "title": "March clean-up",
        },
    )
    job = Job.objects.get()
    listing = cara_client.get("/catalogue/unenrolment-imports/").content.decode()
    assert "March clean-up" in listing

    # Someone who manages only certification removal neither lists nor reaches it.
    other = Client()
    other.force_login(remover)
    assert "March clean-up" not in other.get("/tools/certification-removal/").content.decode()
    assert other.get(f"/jobs/{job.pk}/").status_code == 404
    assert other.get(f"/jobs/{job.pk}/results/").status_code == 404
    assert other.post(f"/jobs/{job.pk}/start/").status_code == 404
    assert Job.objects.get().status == Job.Status.VERIFIED


def test_a_constrained_content_administrator_sees_only_imports_from_their_units(db, course):
    north, south = OrgUnitFactory(name="North"), OrgUnitFactory(name="South")
    role = Role.objects.create(name="Content administrator")
    from django.contrib.auth.models import Permission

    Grant.objects.create(
        role=role,
        permission=Permission.objects.get(codename="import_unenrolments"),
        scope=Grant.Scope.OWN_UNITS,
    )
    nadia, sam = UserFactory(username="nadia"), UserFactory(username="sam")
    nadia.org_units.add(north)
    sam.org_units.add(south)
    role.members.add(nadia, sam)
    enrol(course, [learner := UserFactory()])
    theirs = services.submit(
        "unenrolment",
        make_csv([[learner.username, "FS-101", "No"]], UNENROLMENT_HEADER),
        "south.csv",
        actor=sam,
        title="South import",
        validate_only=True,
    ).job

    client = Client()
    client.force_login(nadia)
    assert "South import" not in client.get("/catalogue/unenrolment-imports/").content.decode()
    assert client.get(f"/jobs/{theirs.pk}/").status_code == 404


def test_the_unenrolment_email_can_be_edited_and_learners_get_the_new_wording(cara, cara_client, course):
    bad = cara_client.post(
        "/catalogue/unenrolment-email/",
        {"subject": "Bye {{ activty_title }}", "body": "Dear {{ first_name }}"},
    )
    assert bad.status_code == 400
    assert "Unknown placeholder: {{ activty_title }}" in bad.content.decode()

    saved = cara_client.post(
        "/catalogue/unenrolment-email/",
        {
            "subject": "Unenrolled: {{ activity_title }}",
            "body": "Hello {{ full_name }}, your place on {{ activity_title }} ({{ activity_reference }}) is cancelled.",
        },
        follow=True,
    )
    assert "The unenrolment email is saved" in saved.content.decode()
    assert EmailTemplate.objects.get().updated_by == cara

    learner = UserFactory(first_name="Ivy", last_name="Nowak")
    enrol(course, [learner])
    cara_client.post(
        "/catalogue/import-unenrolments/", {"file": upload_file([[learner.username, "FS-101", "Yes"]])}
    )
    worker.run_next("test-worker")

    [to_learner] = [m for m in mail.outbox if m.to == [learner.email]]
    assert to_learner.subject == "Unenrolled: Fire Safety Awareness"
    assert to_learner.body == "Hello Ivy Nowak, your place on Fire Safety Awareness (FS-101) is cancelled."


def test_a_processed_import_can_be_undone_from_its_page(cara, cara_client, course):
    enrol(course, [learner := UserFactory()])
    cara_client.post(
        "/catalogue/import-unenrolments/", {"file": upload_file([[learner.username, "FS-101", "No"]])}
    )
    job = worker.run_next("test-worker")
    assert "Undo this job" in cara_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Undo job" in cara_client.get(f"/jobs/{job.pk}/restore/").content.decode()

    response = cara_client.post(f"/jobs/{job.pk}/restore/", follow=True)

    assert "it undoes job" in response.content.decode()
    worker.run_next("test-worker")
    assert Enrollment.objects.get(user=learner).status == Enrollment.Status.ENROLLED
    again = cara_client.post(f"/jobs/{job.pk}/restore/", follow=True)
    assert "has already been restored" in again.content.decode()


def test_undo_is_not_offered_to_someone_who_cannot_see_the_job(cara, course, mallory):
    enrol(course, [learner := UserFactory()])
    services.submit(
        "unenrolment",
        make_csv([[learner.username, "FS-101", "No"]], UNENROLMENT_HEADER),
        "u.csv",
        actor=cara,
        title="t",
        start=True,
    )
    job = worker.run_next("test-worker")
    client = Client()
    client.force_login(mallory)
    assert client.post(f"/jobs/{job.pk}/restore/").status_code == 403
    assert Enrollment.objects.get(user=learner).status == Enrollment.Status.UNENROLLED


def test_the_dialog_offers_the_template_and_example_in_every_format(cara_client, mallory):
    import zipfile

    page = cara_client.get("/catalogue/").content.decode()
    for fmt in ("txt", "xml", "xml-2003", "xlsx"):
        assert f'href="/jobs/kinds/unenrolment/template.{fmt}"' in page
    workbook = cara_client.get("/jobs/kinds/unenrolment/example.xlsx")
    assert workbook.status_code == 200
    assert "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(workbook.content)).namelist()
    assert cara_client.get("/jobs/kinds/certification-removal/template.csv").status_code == 404  # not hers
    assert cara_client.get("/jobs/kinds/unenrolment/template.pdf").status_code == 404
    outsider = Client()
    outsider.force_login(mallory)
    assert outsider.get("/jobs/kinds/unenrolment/template.csv").status_code == 403
