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

from bulk import services
from bulk.models import Job

from .factories import (
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
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": "created_before must be a date as YYYY-MM-DD, not '11/04/2026'."},
    )
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
