"""The unenrolment kind through the interfaces it gets from the engine: the CLI and the REST API,
plus the catalogue's own endpoints (activities, enrolments)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from access.permissions import IMPORT_UNENROLMENTS, MANAGE_CERTIFICATION_REMOVAL
from bulk.models import Job
from learning.models import Enrollment

from .factories import UNENROLMENT_HEADER, ActivityFactory, UserFactory, enrol, grant, make_csv
from .test_api import csv_rows, download, run_worker, token_client
from .test_cli import read_results, run_cli

JOBS = "/api/v1/jobs/"


@pytest.fixture
def cara(db):
    user = UserFactory(username="cara", user_id="ADM-CARA", email="cara@example.test")
    return grant(user, IMPORT_UNENROLMENTS)


@pytest.fixture
def course(db):
    return ActivityFactory(title="Fire Safety Awareness", external_reference="FS-101")


@pytest.mark.django_db(transaction=True)
def test_cli_verifies_a_file_then_starts_it_for_real(cara, course, tmp_path):
    learners = UserFactory.create_batch(3)
    enrol(course, learners[:2])
    upload = tmp_path / "unenrol.csv"
    upload.write_bytes(
        make_csv(
            [[u.username, "FS-101", "No"] for u in learners] + [["ghost", "FS-101", "No"]], UNENROLMENT_HEADER
        )
    )

    checked = run_cli(
        "job",
        "submit",
        "unenrolment",
        str(upload),
        "--title",
        "March",
        "--validate-only",
        "--wait",
        "--json",
        "--as",
        "cara",
    )

    assert checked.returncode == 0, checked.stderr
    answer = checked.json()
    assert answer["kind"] == "unenrolment"
    assert answer["status"] == "verified"
    assert answer["validate_only"] is True
    assert Enrollment.objects.current().count() == 2
    preview = run_cli("job", "results", str(answer["id"]), "--as", "cara")
    assert [row[3] for row in read_results(preview.stdout.encode())[1:]] == [
        "Would unenrol",
        "Would unenrol",
        "Skipped",
        "Error",
    ]

    started = run_cli("job", "start", str(answer["id"]), "--as", "cara", "--wait")

    assert started.returncode == 0, started.stderr
    job = Job.objects.get(pk=answer["id"])
    assert (job.status, job.succeeded, job.skipped, job.failed) == (Job.Status.PROCESSED, 2, 1, 1)
    assert Enrollment.objects.current().count() == 0


@pytest.mark.django_db(transaction=True)
def test_cli_refuses_an_administrator_without_the_permission(course, tmp_path):
    grant(UserFactory(username="rita"), MANAGE_CERTIFICATION_REMOVAL)
    upload = tmp_path / "unenrol.csv"
    upload.write_bytes(make_csv([["x", "FS-101", "No"]], UNENROLMENT_HEADER))

    run = run_cli("job", "submit", "unenrolment", str(upload), "--title", "March", "--as", "rita")

    assert run.returncode == 3
    assert "Import unenrolments" in run.stderr
    assert not Job.objects.exists()


def test_api_upload_with_start_runs_per_row_and_reports_counts(cara, course):
    learners = UserFactory.create_batch(2)
    enrol(course, learners)
    api = token_client(cara)
    data = make_csv(
        [[learners[0].username, "FS-101", "Yes"], [learners[1].username, "NOPE", "No"]], UNENROLMENT_HEADER
    )

    response = api.post(
        JOBS,
        {
            "kind": "unenrolment",
            "title": "March",
            "start": "true",
            "file": SimpleUploadedFile("u.csv", data, "text/csv"),
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    run_worker()
    job = api.get(f"{JOBS}{response.json()['id']}/").json()
    assert job["status"] == "processed"
    assert job["counts"] == {"total": 2, "succeeded": 1, "failed": 1, "skipped": 0}
    table = csv_rows(download(api.get(f"{JOBS}{job['id']}/results/")))
    assert [row[3] for row in table[1:]] == ["Unenrolled", "Error"]


def test_api_describes_the_kind_and_serves_its_template(cara):
    api = token_client(cara)
    kinds = api.get("/api/v1/job-kinds/").json()
    [unenrolment] = [k for k in kinds if k["kind"] == "unenrolment"]
    assert unenrolment["validation"] == "per_row"
    assert [c["name"] for c in unenrolment["columns"]] == list(UNENROLMENT_HEADER)
    assert all(k["kind"] == "unenrolment" for k in kinds)  # cara may not run removals
    template = download(api.get("/api/v1/job-kinds/unenrolment/template/"))
    assert template.decode().strip() == ",".join(UNENROLMENT_HEADER)


def test_api_lists_activities_and_enrolments(cara, course):
    learners = UserFactory.create_batch(3)
    enrol(course, learners[:2])
    enrol(course, learners[2:], completed_on=dt.date(2026, 2, 1))
    api = token_client(cara)

    [activity] = api.get("/api/v1/activities/", {"search": "fs-"}).json()["results"]
    assert (activity["external_reference"], activity["enrolled"], activity["completed"]) == ("FS-101", 3, 1)

    enrolments = api.get(
        "/api/v1/enrollments/", {"activity_reference": "FS-101", "status": "completed"}
    ).json()
    assert [e["username"] for e in enrolments["results"]] == [learners[2].username]
    assert api.get("/api/v1/enrollments/", {"activity": "x"}).status_code == 400


def test_api_catalogue_needs_a_permission(mallory):
    api = token_client(mallory)
    assert api.get("/api/v1/activities/").status_code == 403
    assert api.get("/api/v1/enrollments/").status_code == 403


@pytest.mark.parametrize("odd", ["x", "²", "-1", "0", "99999999999999999999999", ""])
def test_api_answers_an_odd_id_filter_with_400_not_500(cara, odd):
    response = token_client(cara).get("/api/v1/enrollments/", {"activity": odd})
    assert response.status_code == 400
    assert "is not an id" in response.json()["detail"]
    assert response.json()["errors"][0]["column"] == "activity"


def test_api_counts_enrolments_with_a_few_queries_whatever_the_page(cara, django_assert_max_num_queries):
    for _ in range(30):
        enrol(ActivityFactory(), UserFactory.create_batch(2))
    api = token_client(cara)
    with django_assert_max_num_queries(8):
        page = api.get("/api/v1/activities/").json()
    assert page["count"] == 30
    assert {a["enrolled"] for a in page["results"]} == {2}
