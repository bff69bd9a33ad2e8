"""The audit log: the page, the API and the export read the same filtered events, within the
viewer's reach, and none of them can change the trail."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from access.models import Grant, Role
from access.permissions import VIEW_AUDIT_LOG
from audit.models import Event
from audit.services import record
from people.models import User

from .factories import OrgUnitFactory, UserFactory, grant
from .test_api import token_client


@pytest.fixture
def trail(db) -> dict[str, User]:
    """Two divisions' administrators and what each changed; an auditor who sees Division B's."""
    div_a, div_b = OrgUnitFactory(code="DIV-A"), OrgUnitFactory(code="DIV-B")
    ann = UserFactory(username="ann", user_id="ADM-ANN")
    ann.org_units.add(div_a)
    bea = UserFactory(username="bea", user_id="ADM-BEA")
    bea.org_units.add(div_b)
    record(
        "award.removed",
        actor=ann,
        object_type="credentials.award",
        object_id="11",
        before={"status": "active"},
        after={"status": "removed"},
    )
    record(
        "license.edited",
        actor=bea,
        object_type="credentials.license",
        object_id="=7+1",
        before={"number": "RN-1"},
        after={"number": '=HYPERLINK("x")'},
    )
    record(
        "award.edited",
        actor=bea,
        object_type="credentials.award",
        object_id="12",
        before={"expiration_date": "2026-01-01"},
        after={"expiration_date": "2027-01-01"},
    )
    record("job.failed", object_type="bulk.job", object_id="3")  # certdesk itself: no actor
    auditor = UserFactory(username="cleo", user_id="ADM-CLEO")
    auditor.org_units.add(div_a)
    role = Role.objects.create(name="Division B auditor")
    permission = Permission.objects.get(content_type__app_label="audit", codename="view_audit_log")
    Grant.objects.create(role=role, permission=permission, scope=Grant.Scope.ORG_UNITS).org_units.set([div_b])
    role.members.add(auditor)
    root = grant(UserFactory(username="root", user_id="ADM-ROOT"), VIEW_AUDIT_LOG)
    return {"ann": ann, "bea": bea, "auditor": auditor, "root": root}


def page_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_actions(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [event.action for event, _, _ in response.context["rows"]]


def test_the_log_lists_every_event_newest_first_with_its_values(trail):
    response = page_for(trail["root"]).get("/audit/")

    assert response.status_code == 200
    assert shown_actions(response) == ["job.failed", "award.edited", "license.edited", "award.removed"]
    html = response.content.decode()
    assert "expiration_date: 2026-01-01 → 2027-01-01" in html
    assert "Audit log" in html and 'href="/audit/export.csv"' in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "bea"}, ["award.edited", "license.edited"]),
        ({"actor": "ADM-ANN"}, ["award.removed"]),
        ({"action": "award"}, ["award.edited", "award.removed"]),
        ({"action": "award.removed"}, ["award.removed"]),
        ({"object_type": "credentials.license"}, ["license.edited"]),
        ({"actor": "bea", "action": "license"}, ["license.edited"]),
        ({"actor": "nobody"}, []),
    ],
)
def test_the_page_and_the_api_filter_alike(trail, params, expected):
    assert shown_actions(page_for(trail["root"]).get("/audit/", params)) == expected
    listed = token_client(trail["root"]).get("/api/v1/audit-events/", params).json()
    assert [event["action"] for event in listed["results"]] == expected


def test_a_bad_filter_is_named_as_the_page_calls_it(trail):
    response = page_for(trail["root"]).get("/audit/", {"created_after": "01/02/2026"})
    assert response.context["error"] == "From must be a date as YYYY-MM-DD, not '01/02/2026'."
    assert shown_actions(response) == []

    refused = token_client(trail["root"]).get("/api/v1/audit-events/", {"job": "x"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["column"] == "job"


def test_a_constrained_auditor_reads_only_their_scopes_events(trail):
    response = page_for(trail["auditor"]).get("/audit/")
    assert shown_actions(response) == ["award.edited", "license.edited"]  # Division B's administrator

    api = token_client(trail["auditor"]).get("/api/v1/audit-events/").json()
    assert {event["actor"] for event in api["results"]} == {"bea"}
    exported = page_for(trail["auditor"]).get("/audit/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert {row["Actor"] for row in rows} == {"bea"}


def test_without_the_permission_the_log_is_refused_everywhere(trail):
    for client in (page_for(trail["ann"]),):
        assert client.get("/audit/").status_code == 403
        assert client.get("/audit/export.csv").status_code == 403
        assert b'href="/audit/"' not in client.get("/", follow=True).content
    api = token_client(trail["ann"])
    assert api.get("/api/v1/audit-events/").status_code == 403
    assert api.get("/api/v1/audit-events/export/").status_code == 403


def test_the_export_is_the_filtered_set_streamed_and_formula_safe(trail):
    response = page_for(trail["root"]).get("/audit/export.csv", {"actor": "bea"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["Action"] for row in rows] == ["award.edited", "license.edited"]
    assert rows[1]["Object ID"] == "'=7+1"  # would run as a formula in a spreadsheet
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert rows[0]["Actor User ID"] == "ADM-BEA" and rows[0]["Time"].endswith(("+00:00", "Z"))

    api = token_client(trail["root"]).get("/api/v1/audit-events/export/", {"action": "award"})
    assert [
        row["Action"] for row in csv.DictReader(io.StringIO(b"".join(api.streaming_content).decode()))
    ] == [
        "award.edited",
        "award.removed",
    ]


def test_older_events_are_reached_page_by_page_without_a_count(trail):
    for n in range(120):
        record("award.edited", actor=trail["ann"], object_type="credentials.award", object_id=str(n))
    client = page_for(trail["root"])

    first = client.get("/audit/")
    second = client.get("/audit/", {"before": first.context["older"]})
    third = client.get("/audit/", {"before": second.context["older"]})

    seen = [e.pk for page in (first, second, third) for e, _, _ in page.context["rows"]]
    assert len(seen) == Event.objects.count() == 124 and len(set(seen)) == 124
    assert third.context["older"] is None
    cursor = token_client(trail["root"]).get("/api/v1/audit-events/").json()
    assert len(cursor["results"]) == 50 and "cursor=" in cursor["next"]


def test_nothing_can_write_to_the_trail(trail):
    api: APIClient = token_client(trail["root"])
    assert api.post("/api/v1/audit-events/", {}, format="json").status_code == 405
    event = Event.objects.first()
    assert api.delete(f"/api/v1/audit-events/{event.pk}/").status_code == 404
    assert page_for(trail["root"]).post("/audit/", {}).status_code == 405
    assert Event.objects.count() == 4
