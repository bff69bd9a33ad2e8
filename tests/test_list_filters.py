"""One FilterSet per list: a page, its API endpoint (and for jobs the CLI) narrow alike when given the
same filters, each under its own parameter names, and each names a bad parameter as its users wrote it."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.permissions import MANAGE_LICENSES, VIEW_CATALOGUE, VIEW_CERTIFICATIONS
from bulk import services
from bulk.models import Job
from credentials.models import Award, License, LicenseType
from learning.models import Activity, Enrollment

from .factories import (
    ActivityFactory,
    CertificationFactory,
    UserFactory,
    award_many,
    enrol,
    grant,
    make_csv,
    removal_rows,
)

TODAY = dt.date.today()


def clients(user) -> tuple[Client, APIClient]:
    page = Client()
    page.force_login(user)
    api = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return page, api


def api_rows(api: APIClient, path: str, params: dict[str, str], field: str) -> list[str]:
    response = api.get(path, params)
    assert response.status_code == 200, response.content
    return [row[field] for row in response.json()["results"]]


# --- Jobs: the Jobs page, GET /api/v1/jobs/ and `certdesk job list` ---------------------------------


@pytest.fixture
def dated_jobs(alice, certification, holders) -> None:
    for n, (title, day) in enumerate(
        [("March audit", 10), ("April audit", 41), ("April leavers", 45), ("May audit", 75)]
    ):
        job = services.submit(
            "certification-removal",
            make_csv(removal_rows(certification, holders[n : n + 1])),
            "removal.csv",
            actor=alice,
            title=title,
        ).job
        created = timezone.make_aware(dt.datetime(2026, 3, 1, 12, 0)) + dt.timedelta(days=day)
        status = Job.Status.VERIFIED if title == "April leavers" else Job.Status.DRAFT
        Job.objects.filter(pk=job.pk).update(created_at=created, status=status)


def cli_titles(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("job", "list", "--as", "alice", "--json", *args, stdout=out)
    return [job["title"] for job in json.loads(out.getvalue())]


@pytest.mark.parametrize(
    ("page_params", "api_params", "cli_args"),
    [
        pytest.param({"q": "AUDIT"}, {"search": "AUDIT"}, ["--search", "AUDIT"], id="title"),
        pytest.param(
            {"start": "2026-04-11", "end": "2026-04-15"},
            {"created_after": "2026-04-11", "created_before": "2026-04-15"},
            ["--since", "2026-04-11", "--until", "2026-04-15"],
            id="inclusive-dates",
        ),
        pytest.param(
            {"status": "draft", "q": "april"},
            {"status": "draft", "search": "april"},
            ["--status", "draft", "--search", "april"],
            id="status-and-title",
        ),
        pytest.param(
            {"kind": "certification-removal", "start": "2026-05-01"},
            {"kind": "certification-removal", "created_after": "2026-05-01"},
            ["--kind", "certification-removal", "--since", "2026-05-01"],
            id="kind-and-since",
        ),
    ],
)
def test_the_jobs_page_the_api_and_the_cli_list_the_same_jobs_for_the_same_filters(
    alice, dated_jobs, page_params, api_params, cli_args
):
    page, api = clients(alice)

    on_page = [job.title for job in page.get("/jobs/", page_params).context["page"]]

    assert on_page, "the filters should leave some jobs"
    assert api_rows(api, "/api/v1/jobs/", api_params, "title") == on_page
    assert cli_titles(*cli_args) == on_page


def test_a_bad_date_is_named_as_each_surface_names_it(alice, dated_jobs):
    page, api = clients(alice)

    assert (
        page.get("/jobs/", {"start": "11/04/2026"}).context["error"]
        == "Start date must be a date as YYYY-MM-DD, not '11/04/2026'."
    )
    assert (
        page.get("/jobs/", {"date": "2026-4-11", "start": "2026-04-01"}).context["error"]
        == "Select Date must be a date as YYYY-MM-DD, not '2026-4-11'."
    )
    refused = api.get("/api/v1/jobs/", {"created_before": "11/04/2026"})
    assert (refused.status_code, refused.json()["detail"]) == (
        400,
        "created_before must be a date as YYYY-MM-DD, not '11/04/2026'.",
    )
    assert refused.json()["errors"][0]["column"] == "created_before"
    with pytest.raises(CommandError, match=r"^--until must be a date as YYYY-MM-DD, not '11/04/2026'\.$"):
        cli_titles("--until", "11/04/2026")


def test_only_the_page_refuses_a_range_that_ends_before_it_starts(alice, dated_jobs):
    page, api = clients(alice)

    shown = page.get("/jobs/", {"start": "2026-05-01", "end": "2026-04-01"})
    assert shown.context["error"] == "The start date must not be after the end date."
    assert (
        api_rows(
            api, "/api/v1/jobs/", {"created_after": "2026-05-01", "created_before": "2026-04-01"}, "title"
        )
        == []
    )


# --- Licences: Licences & Certifications and GET /api/v1/licenses/ ---------------------------------


def test_the_licence_page_and_the_api_list_the_same_licences_of_a_type(db):
    lee = grant(UserFactory(username="lee"), MANAGE_LICENSES)
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse")
    bls = LicenseType.objects.create(code="BLS", name="Basic Life Support", number_required=False)
    for username in ("cyd", "ann", "bea"):
        user = UserFactory(username=username)
        License.objects.create(user=user, license_type=rn, number=f"RN-{username}")
        License.objects.create(user=user, license_type=bls)
    page, api = clients(lee)

    on_page = [lic.user.username for lic, _state in page.get("/licences/", {"type": "RN"}).context["rows"]]

    assert on_page == ["ann", "bea", "cyd"]
    assert api_rows(api, "/api/v1/licenses/", {"license_code": "RN"}, "username") == on_page


# --- Awarded users: a certification's View Users page and GET …/awards/ -----------------------------


def test_awarded_users_page_and_api_find_the_same_current_holders(db):
    viewer = grant(UserFactory(), VIEW_CERTIFICATIONS)
    cert = CertificationFactory(code="CERT-007", validity_days=365)
    named = [
        UserFactory(user_id=f"U-{n}", username=f"holder{n}", first_name="Sam", last_name=last)
        for n, last in enumerate(["Okafor", "Oki", "Lund"])
    ]
    awards = award_many(cert, named)
    Award.objects.filter(pk=awards[1].pk).update(status=Award.Status.REMOVED)
    page, api = clients(viewer)

    shown = page.get(f"/certifications/{cert.pk}/users/", {"q": " ok "}).context["rows"]
    on_page = [award.user.user_id for award, *_rest in shown]

    assert on_page == ["U-0"]  # Oki's award is removed: not a current holder
    assert (
        api_rows(api, f"/api/v1/certifications/{cert.pk}/awards/", {"search": " ok "}, "user_id") == on_page
    )


# --- The catalogue: the Catalogue page and GET /api/v1/activities/ ----------------------------------


def test_the_catalogue_page_and_the_api_find_the_same_activities_with_the_same_counts(db):
    viewer = grant(UserFactory(), VIEW_CATALOGUE)
    fire = ActivityFactory(title="Fire Safety", external_reference="FS-101", type=Activity.Type.COURSE)
    ActivityFactory(title="Fire Warden Day", external_reference="FW-1", type=Activity.Type.SESSION)
    ActivityFactory(title="Manual Handling", external_reference="FIRE-2", type=Activity.Type.COURSE)
    [ended, *_] = enrol(fire, UserFactory.create_batch(3))
    enrol(fire, UserFactory.create_batch(2), completed_on=dt.date(2026, 3, 12))
    Enrollment.objects.filter(pk=ended.pk).update(status=Enrollment.Status.UNENROLLED)
    page, api = clients(viewer)

    shown = page.get("/catalogue/", {"q": "fire", "type": "course"}).context["rows"]
    on_page = [(a.title, counts.get("enrolled", 0), counts.get("completed", 0)) for a, counts in shown]
    listed = api.get("/api/v1/activities/", {"search": "fire", "type": "course"}).json()["results"]

    assert on_page == [("Fire Safety", 4, 2), ("Manual Handling", 0, 0)]
    assert [(a["title"], a["enrolled"], a["completed"]) for a in listed] == on_page
