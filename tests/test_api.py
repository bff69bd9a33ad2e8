"""The REST API as an administrator's script or integration uses it: token or session sign-in,
uploading removal files, following jobs to the end, downloading what they produced."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.permissions import MANAGE_CERTIFICATION_REMOVAL, VIEW_CERTIFICATIONS
from bulk import services, worker
from bulk.models import Job
from credentials.models import Award

from .factories import (
    JOB_JSON_FIELDS,
    CertificationFactory,
    UserFactory,
    award_many,
    grant,
    make_csv,
    removal_rows,
)
from .processes import cli_env

KIND = "certification-removal"
JOBS = "/api/v1/jobs/"
ONE_MB = 1024 * 1024


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(alice) -> APIClient:
    """Alice, signed in with an API token."""
    return token_client(alice)


@pytest.fixture
def mallory_api(mallory) -> APIClient:
    return token_client(mallory)


def upload(client: APIClient, data: bytes, filename: str = "removal.csv", **fields):
    form = {"kind": KIND, "title": "Audit clean-up", **fields}
    form["file"] = SimpleUploadedFile(filename, data, content_type="text/csv")
    return client.post(JOBS, form, format="multipart")


def submit(actor, data: bytes, title: str = "Audit clean-up", **options) -> Job:
    return services.submit(KIND, data, "removal.csv", actor=actor, title=title, **options).job


def download(response) -> bytes:
    assert response.status_code == 200, response.content
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def run_worker() -> Job:
    job = worker.run_next("test")
    assert job is not None
    return job


# --- Creating jobs ----------------------------------------------------------------------------------


def test_upload_with_token_creates_a_draft_job_and_answers_with_its_json(api, alice, certification, holders):
    response = upload(api, make_csv(removal_rows(certification, holders[:5])), comment="Q3 audit")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= JOB_JSON_FIELDS
    assert body["kind"] == KIND
    assert body["title"] == "Audit clean-up"
    assert body["comment"] == "Q3 audit"
    assert body["status"] == "draft"
    assert body["created_by"] == "alice"
    assert body["validate_only"] is False
    assert body["counts"] == {"total": 5, "succeeded": 0, "failed": 0, "skipped": 0}
    assert body["progress"] == 0.0
    assert body["errors"] == []
    assert body["results_url"] is None
    assert body["started_at"] is None and body["processed_at"] is None
    job = Job.objects.get(pk=body["id"])
    assert job.created_by == alice
    assert dt.datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")) == job.created_at
    assert Award.objects.filter(status=Award.Status.ACTIVE).count() == 20


def test_upload_with_session_sign_in_creates_a_job(alice, certification, holders):
    client = APIClient()
    assert client.post("/login/", {"username": "alice", "password": "secret-pass-123"}).status_code == 302

    response = upload(client, make_csv(removal_rows(certification, holders[:2])))

    assert response.status_code == 201, response.json()
    assert response.json()["created_by"] == "alice"


def test_session_upload_without_csrf_token_is_refused(alice, certification, holders):
    signed_in = APIClient()
    assert signed_in.post("/login/", {"username": "alice", "password": "secret-pass-123"}).status_code == 302
    client = APIClient(enforce_csrf_checks=True)
    client.cookies = signed_in.cookies  # the session, without the page's CSRF token

    response = upload(client, make_csv(removal_rows(certification, holders[:2])))

    assert response.status_code == 403
    assert Job.objects.count() == 0


def test_upload_with_start_queues_the_job_and_a_worker_processes_it(api, certification, holders):
    response = upload(api, make_csv(removal_rows(certification, holders[:3])), start="true")

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "queued"
    job = run_worker()
    assert job.pk == response.json()["id"]
    assert api.get(f"{JOBS}{job.pk}/").json()["status"] == "processed"


def test_bad_file_is_answered_400_with_every_problem_and_creates_no_job(api, certification, holders):
    rows = removal_rows(certification, holders[:5])
    rows[0][1] = "NOBODY-1"
    rows[3][1] = ""

    response = upload(api, make_csv(rows))

    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [
        {
            "code": "invalid_users",
            "message": "No user has the User ID 'NOBODY-1'.",
            "row": 2,
            "column": "User ID",
            "value": "NOBODY-1",
        },
        {
            "code": "invalid_data_formats",
            "message": "User ID is empty.",
            "row": 5,
            "column": "User ID",
            "value": "",
        },
    ]
    assert "User IDs included in the file are invalid" in body["detail"]
    assert Job.objects.count() == 0


def test_rejection_lists_only_the_configured_number_of_problems(api, certification, holders, settings):
    settings.CERTDESK_MAX_LISTED_PROBLEMS = 3
    rows = [["CERT-042", f"NOBODY-{n}"] for n in range(10)]

    body = upload(api, make_csv(rows)).json()

    assert [e["value"] for e in body["errors"]] == ["NOBODY-0", "NOBODY-1", "NOBODY-2"]
    assert body["errors_total"] == 10
    assert body["errors_not_shown"] == 7


@pytest.mark.parametrize("title", ["", "   "], ids=["missing", "blank"])
def test_upload_without_a_title_is_answered_400(api, certification, holders, title):
    form = {"kind": KIND, "file": SimpleUploadedFile("r.csv", make_csv(removal_rows(certification, holders)))}
    if title:
        form["title"] = title

    response = api.post(JOBS, form, format="multipart")

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["title_required"]
    assert Job.objects.count() == 0


def test_title_over_100_characters_is_answered_400(api, certification, holders):
    response = upload(api, make_csv(removal_rows(certification, holders)), title="T" * 101)

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["title_too_long"]
    assert "up to 100 characters" in response.json()["errors"][0]["message"]
    assert Job.objects.count() == 0


def test_title_of_exactly_100_characters_is_accepted(api, certification, holders):
    response = upload(api, make_csv(removal_rows(certification, holders)), title="T" * 100)

    assert response.status_code == 201
    assert response.json()["title"] == "T" * 100


@pytest.mark.parametrize("size", [ONE_MB + 1, 3 * ONE_MB], ids=["just-over", "3MB"])
def test_upload_over_1mb_is_answered_400_file_too_large_without_a_job(api, certification, holders, size):
    data = make_csv(removal_rows(certification, holders))
    data += b"\n" * (size - len(data))

    response = upload(api, data)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "code": "file_too_large",
            "message": "The file size must be 1MB or less.",
            "row": None,
            "column": None,
            "value": None,
        }
    ]
    assert response.json()["detail"] == "The file size must be 1MB or less"
    assert Job.objects.count() == 0


def test_upload_without_a_file_is_answered_400_empty_file(api, certification):
    response = api.post(JOBS, {"kind": KIND, "title": "No file"}, format="multipart")

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["empty_file"]


def test_downloaded_template_uploaded_as_it_is_is_empty(api, certification):
    template = download(api.get(f"/api/v1/job-kinds/{KIND}/template/"))

    response = upload(api, template)

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["empty_file"]


# --- Validate only, start, run ----------------------------------------------------------------------


def test_validate_only_upload_is_verified_and_its_results_say_would_remove(api, certification, holders):
    named = holders[:3]

    response = upload(api, make_csv(removal_rows(certification, named)), validate_only="true")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "verified"
    assert body["validate_only"] is True
    assert body["results_url"].endswith(f"/api/v1/jobs/{body['id']}/results/")
    rows = csv_rows(download(api.get(body["results_url"])))
    assert rows[0] == ["Certification ID", "User ID", "Result", "Message"]
    assert [r[:3] for r in rows[1:]] == [["CERT-042", u.user_id, "Would remove"] for u in named]
    assert Award.objects.filter(status=Award.Status.ACTIVE).count() == 20


def test_validate_only_with_start_is_refused_and_changes_nothing(api, certification, holders):
    response = upload(
        api, make_csv(removal_rows(certification, holders[:3])), validate_only="true", start="true"
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["column"] == "start" and "Choose one: validate_only checks the file" in error["message"]
    assert not Job.objects.exists()
    assert Award.objects.filter(status=Award.Status.ACTIVE).count() == 20


def test_verified_job_can_be_started_as_it_is_and_then_removes(api, certification, holders):
    job_id = upload(api, make_csv(removal_rows(certification, holders[:3])), validate_only="true").json()[
        "id"
    ]

    started = api.post(f"{JOBS}{job_id}/start/")
    run_worker()

    assert started.status_code == 200
    assert started.json()["status"] == "queued"
    body = api.get(f"{JOBS}{job_id}/").json()
    assert body["status"] == "processed"
    rows = csv_rows(download(api.get(body["results_url"])))
    assert [r[2] for r in rows[1:]] == ["Removed"] * 3
    removed = set(Award.objects.filter(status=Award.Status.REMOVED).values_list("user_id", flat=True))
    assert removed == {u.pk for u in holders[:3]}


def test_started_draft_is_processed_by_the_worker(api, alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:4])))

    response = api.post(f"{JOBS}{job.pk}/start/")
    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    run_worker()

    body = api.get(f"{JOBS}{job.pk}/").json()
    assert body["status"] == "processed"
    assert body["counts"] == {"total": 4, "succeeded": 4, "failed": 0, "skipped": 0}
    assert body["progress"] == 1.0
    assert body["started_at"] is not None and body["processed_at"] is not None
    assert body["errors"] == []
    assert body["results_url"] == f"http://testserver{JOBS}{job.pk}/results/"


def test_starting_a_processed_job_again_is_answered_409(api, alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])), start=True)
    run_worker()

    response = api.post(f"{JOBS}{job.pk}/start/")

    assert response.status_code == 409
    assert "cannot be started" in response.json()["errors"][0]["message"]


# --- Listing and filtering --------------------------------------------------------------------------


@pytest.fixture
def dated_jobs(alice, certification, holders) -> dict[str, Job]:
    """Three jobs made on known days (UTC), one of them processed."""
    jobs = {
        "march": submit(alice, make_csv(removal_rows(certification, holders[0:2])), "March audit"),
        "mid": submit(alice, make_csv(removal_rows(certification, holders[2:4])), "Mid-March leavers"),
        "april": submit(
            alice, make_csv(removal_rows(certification, holders[4:6])), "April AUDIT", start=True
        ),
    }
    run_worker()
    when = {
        "march": dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC),
        "mid": dt.datetime(2026, 3, 15, 23, 30, tzinfo=dt.UTC),
        "april": dt.datetime(2026, 4, 2, 0, 0, tzinfo=dt.UTC),
    }
    for name, job in jobs.items():
        Job.objects.filter(pk=job.pk).update(created_at=when[name])
    return jobs


def listed(api: APIClient, **params) -> list[str]:
    response = api.get(JOBS, params)
    assert response.status_code == 200, response.json()
    return [j["title"] for j in response.json()["results"]]


def test_job_list_shows_newest_first_with_a_count(api, dated_jobs):
    body = api.get(JOBS).json()

    assert body["count"] == 3
    assert [j["title"] for j in body["results"]] == ["April AUDIT", "Mid-March leavers", "March audit"]
    assert set(body["results"][0]) >= JOB_JSON_FIELDS


def test_job_list_filters_by_kind(api, dated_jobs):
    assert len(listed(api, kind=KIND)) == 3
    assert listed(api, kind="unenrolment") == []


def test_job_list_filters_by_status(api, dated_jobs):
    assert listed(api, status="processed") == ["April AUDIT"]
    assert listed(api, status="draft") == ["Mid-March leavers", "March audit"]


def test_job_list_rejects_an_unknown_status(api, dated_jobs):
    response = api.get(JOBS, {"status": "finished"})

    assert response.status_code == 400
    assert "status must be one of" in str(response.json())


def test_job_list_searches_titles_ignoring_case(api, dated_jobs):
    assert listed(api, search="audit") == ["April AUDIT", "March audit"]
    assert listed(api, search="LEAVERS") == ["Mid-March leavers"]


def test_job_list_filters_by_creation_dates_inclusively(api, dated_jobs):
    assert listed(api, created_after="2026-03-15") == ["April AUDIT", "Mid-March leavers"]
    assert listed(api, created_before="2026-03-15") == ["Mid-March leavers", "March audit"]
    assert listed(api, created_after="2026-03-15", created_before="2026-03-15") == ["Mid-March leavers"]
    assert listed(api, created_after="2026-04-03") == []


def test_job_list_rejects_a_date_that_is_not_yyyy_mm_dd(api, dated_jobs):
    response = api.get(JOBS, {"created_after": "15/03/2026"})

    assert response.status_code == 400
    assert "YYYY-MM-DD" in str(response.json())


# --- Rows, results, original file -------------------------------------------------------------------


def test_job_rows_list_each_row_with_its_outcome_and_filter_by_outcome(api, alice, certification, holders):
    a, b, c = holders[:3]
    rows = [
        ["CERT-042", a.user_id],
        ["CERT-042", b.user_id],
        ["CERT-042", a.user_id],
        ["CERT-042", c.user_id],
    ]
    job = submit(alice, make_csv(rows), start=True)
    run_worker()

    every = api.get(f"{JOBS}{job.pk}/rows/").json()["results"]
    skipped = api.get(f"{JOBS}{job.pk}/rows/", {"outcome": "skipped"}).json()["results"]

    assert [(r["row_number"], r["key"], r["outcome"], r["result"]) for r in every] == [
        (2, a.user_id, "succeeded", "Removed"),
        (3, b.user_id, "succeeded", "Removed"),
        (4, a.user_id, "skipped", "Skipped"),
        (5, c.user_id, "succeeded", "Removed"),
    ]
    assert every[0]["cells"] == ["CERT-042", a.user_id]
    assert [(r["row_number"], r["outcome"]) for r in skipped] == [(4, "skipped")]
    assert "repeats row 2" in skipped[0]["message"]


def test_results_file_lists_rows_in_order_with_result_and_message_and_neutralises_formulas(
    api, alice, certification, holders, settings
):
    settings.CERTDESK_CHUNK_SIZE = 2  # several chunks: the file's order must survive them
    notes = ["=cmd()", "+1", "-2", "@SUM(A1)", "\tTAB", "\rCR", "plain"]
    named = list(reversed(holders[:7]))
    rows = [[certification.code, u.user_id, note] for u, note in zip(named, notes, strict=True)]
    job = submit(alice, make_csv(rows, header=["Certification ID", "User ID", "Note"]), start=True)
    assert run_worker().chunks_done == 4

    response = api.get(f"{JOBS}{job.pk}/results/")
    content = download(response)

    assert f'filename="job-{job.pk}-results.csv"' in response["Content-Disposition"]
    assert content.startswith(b"\xef\xbb\xbf")
    assert csv_rows(content) == [
        ["Certification ID", "User ID", "Note", "Result", "Message"],
        *[
            [certification.code, u.user_id, note, "Removed", "Removed from certification CERT-042."]
            for u, note in zip(
                named, ["'=cmd()", "'+1", "'-2", "'@SUM(A1)", "'\tTAB", "'\rCR", "plain"], strict=True
            )
        ],
    ]


def test_results_of_a_job_that_has_not_run_are_404(api, alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])))

    response = api.get(f"{JOBS}{job.pk}/results/")

    assert response.status_code == 404
    assert "no results file yet" in response.json()["detail"]


def test_original_file_is_returned_byte_for_byte(api, alice, certification, holders):
    accented = UserFactory(user_id="U-Zoé")
    award_many(certification, [accented])
    data = make_csv(
        removal_rows(certification, [holders[0], accented]),
        delimiter=";",
        line_ending="\r\n",
        encoding="cp1252",
    )
    job_id = upload(api, data, filename="Removals Q3.csv").json()["id"]

    response = api.get(f"{JOBS}{job_id}/original/")

    assert download(response) == data
    assert "Removals Q3.csv" in response["Content-Disposition"]


# --- Job kinds, template, example -------------------------------------------------------------------


def test_job_kinds_describe_the_removal_columns_and_limit(api):
    response = api.get("/api/v1/job-kinds/")

    assert response.status_code == 200
    [removal] = [k for k in response.json() if k["kind"] == KIND]
    assert [c["name"] for c in removal["columns"]] == ["Certification ID", "User ID"]
    assert removal["max_bytes"] == ONE_MB
    assert removal["validation"] == "strict"


def test_template_is_the_header_row_only(api):
    response = api.get(f"/api/v1/job-kinds/{KIND}/template/")

    assert csv_rows(download(response)) == [["Certification ID", "User ID"]]
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]


def test_example_has_the_header_and_example_rows(api):
    rows = csv_rows(download(api.get(f"/api/v1/job-kinds/{KIND}/example/")))

    assert rows[0] == ["Certification ID", "User ID"]
    assert len(rows) > 1
    assert all(len(r) == 2 and r[0] and r[1] for r in rows[1:])
    assert len({r[0] for r in rows[1:]}) == 1  # one certification per file


def test_template_of_an_unknown_kind_is_404(api):
    assert api.get("/api/v1/job-kinds/nope/template/").status_code == 404


# --- Certifications and their holders ---------------------------------------------------------------


def test_certifications_list_their_active_holder_counts(api, certification, holders):
    Award.objects.filter(user=holders[0]).update(status=Award.Status.REMOVED)
    CertificationFactory(code="CERT-100", title="Fire Safety")

    body = api.get("/api/v1/certifications/").json()

    assert [(c["code"], c["holders"]) for c in body["results"]] == [("CERT-042", 19), ("CERT-100", 0)]


def test_certification_awards_list_its_active_holders(api, certification, holders):
    Award.objects.filter(user=holders[0]).update(status=Award.Status.REMOVED)

    body = api.get(f"/api/v1/certifications/{certification.pk}/awards/").json()

    assert body["count"] == 19
    assert [a["user_id"] for a in body["results"]] == sorted(u.user_id for u in holders[1:])
    assert {a["status"] for a in body["results"]} == {"active"}


def test_exported_holders_uploaded_unchanged_remove_exactly_those_holders(api, certification, holders):
    Award.objects.filter(user=holders[0]).update(status=Award.Status.REMOVED)
    other = CertificationFactory(code="CERT-100")
    others = UserFactory.create_batch(3)
    award_many(other, [*others, holders[1]])

    export = api.get(f"/api/v1/certifications/{certification.pk}/awards/export/")
    exported = download(export)
    rows = csv_rows(exported)
    assert rows[0] == [
        "Certification ID",
        "User ID",
        "Username",
        "First name",
        "Last name",
        "Issue date",
        "Expiration date",
    ]
    assert sorted(r[1] for r in rows[1:]) == sorted(u.user_id for u in holders[1:])
    assert f'filename="{certification.code}-awarded-users.csv"' in export["Content-Disposition"]

    response = upload(api, exported, filename="CERT-042-awarded-users.csv", start="true")
    assert response.status_code == 201, response.json()
    job = run_worker()

    assert (job.status, job.total, job.succeeded) == (Job.Status.PROCESSED, 19, 19)
    assert not Award.objects.filter(certification=certification, status=Award.Status.ACTIVE).exists()
    assert set(
        Award.objects.filter(certification=certification, removed_by_job=job).values_list(
            "user_id", flat=True
        )
    ) == {u.pk for u in holders[1:]}
    assert Award.objects.filter(certification=other, status=Award.Status.ACTIVE).count() == 4


# --- Who may do what --------------------------------------------------------------------------------


def test_administrator_without_permission_is_refused_403(mallory_api, alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])))
    data = make_csv(removal_rows(certification, holders[:2]))

    assert mallory_api.get(JOBS).status_code == 403
    assert upload(mallory_api, data).status_code == 403
    assert mallory_api.get(f"{JOBS}{job.pk}/").status_code == 403
    assert mallory_api.post(f"{JOBS}{job.pk}/start/").status_code == 403
    assert mallory_api.get(f"/api/v1/job-kinds/{KIND}/template/").status_code == 403
    assert mallory_api.get(f"/api/v1/job-kinds/{KIND}/example/").status_code == 403
    assert mallory_api.get("/api/v1/certifications/").status_code == 403
    assert mallory_api.get(f"/api/v1/certifications/{certification.pk}/awards/").status_code == 403
    assert mallory_api.get(f"/api/v1/certifications/{certification.pk}/awards/export/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == Job.Status.DRAFT
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    "form",
    [{}, {"kind": KIND, "title": "x"}, {"kind": KIND, "title": ""}],
    ids=["empty-form", "no-file", "no-title"],
)
def test_administrator_without_permission_is_refused_403_whatever_the_form(mallory_api, form):
    assert mallory_api.post(JOBS, form, format="multipart").status_code == 403


def test_administrator_without_permission_is_refused_403_for_an_oversized_upload(mallory_api):
    data = b"Certification ID,User ID\n" + b"\n" * ONE_MB

    assert upload(mallory_api, data).status_code == 403


def test_administrator_without_permission_sees_no_job_kinds(mallory_api):
    response = mallory_api.get("/api/v1/job-kinds/")

    assert response.status_code == 200
    assert response.json() == []


def test_viewer_of_certifications_may_list_them_but_not_jobs(certification, holders):
    viewer = grant(UserFactory(username="victor"), VIEW_CERTIFICATIONS)
    client = token_client(viewer)

    assert client.get("/api/v1/certifications/").status_code == 200
    assert client.get(JOBS).status_code == 403


def test_removal_manager_without_certification_view_may_not_export_holders(certification, holders):
    manager = grant(UserFactory(username="rémi"), MANAGE_CERTIFICATION_REMOVAL)
    client = token_client(manager)

    assert client.get(JOBS).status_code == 200
    assert client.get(f"/api/v1/certifications/{certification.pk}/awards/export/").status_code == 403


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", JOBS),
        ("post", JOBS),
        ("get", f"{JOBS}1/"),
        ("get", "/api/v1/job-kinds/"),
        ("get", f"/api/v1/job-kinds/{KIND}/template/"),
        ("get", "/api/v1/certifications/"),
    ],
)
def test_anonymous_caller_is_refused(db, method, path):
    response = getattr(APIClient(), method)(path)

    assert response.status_code in (401, 403)


def test_wrong_token_is_refused_401(db, certification):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    assert client.get(JOBS).status_code == 401


def test_token_of_a_deactivated_administrator_is_refused_401(alice, api):
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    assert api.get(JOBS).status_code == 401


@pytest.mark.parametrize(
    "method, suffix",
    [("get", ""), ("post", "start/"), ("get", "rows/"), ("get", "results/"), ("get", "original/")],
)
def test_job_that_does_not_exist_is_404(api, method, suffix):
    assert getattr(api, method)(f"{JOBS}987654/{suffix}").status_code == 404


def test_certification_that_does_not_exist_is_404(api):
    assert api.get("/api/v1/certifications/987654/awards/").status_code == 404
    assert api.get("/api/v1/certifications/987654/awards/export/").status_code == 404


# --- OpenAPI ----------------------------------------------------------------------------------------


def test_openapi_schema_documents_the_job_endpoints(api):
    response = api.get("/api/schema/")

    assert response.status_code == 200
    schema = response.content.decode()
    assert schema.startswith("openapi: 3")
    for path in (
        "/api/v1/jobs/:",
        "/api/v1/jobs/{id}/:",
        "/api/v1/jobs/{id}/start/:",
        "/api/v1/jobs/{id}/rows/:",
        "/api/v1/jobs/{id}/results/:",
        "/api/v1/job-kinds/:",
        "/api/v1/job-kinds/{kind}/template/:",
        "/api/v1/certifications/{id}/awards/export/:",
    ):
        assert path in schema, path


def test_api_docs_page_is_served_to_a_signed_in_user(alice):
    browser = Client()
    browser.force_login(alice)
    response = browser.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    assert browser.get("/api/schema/").status_code == 200  # what the page loads, with the session


def test_the_schema_and_the_docs_are_not_for_anonymous_visitors(db):
    anonymous = Client()
    assert anonymous.get("/api/schema/").status_code == 401
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"] == "/login/?next=/api/docs/"


def test_a_setting_opens_the_schema_to_anonymous_visitors(db):
    run = subprocess.run(
        [sys.executable, "-c", OPEN_DOCS_PROBE],
        env=cli_env(CERTDESK_API_DOCS_PUBLIC="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout.split() == ["200", "200"], run.stdout + run.stderr


# Read with CERTDESK_API_DOCS_PUBLIC=1 from the start, as the URLs and settings are at import.
OPEN_DOCS_PROBE = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certdesk.settings")
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
c = Client()
print(c.get("/api/schema/").status_code, c.get("/api/docs/").status_code)
"""


@pytest.mark.parametrize("path", ["/api/v1/users/", "/api/v1/groups/", "/api/v1/org-units/"])
def test_people_pickers_need_a_certdesk_permission(path, api, mallory_api):
    assert mallory_api.get(path).status_code == 403
    assert api.get(path).status_code == 200


def test_an_unknown_kind_is_answered_in_the_one_error_shape(api, certification, holders):
    response = upload(api, make_csv(removal_rows(certification, holders[:1])), kind="certification-juggling")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "unknown_kind" and error["column"] == "kind"
    assert error["value"] == "certification-juggling"
    assert not Job.objects.exists()
