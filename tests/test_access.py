"""Roles, grants and their constraints: who sees which jobs, the same in the API and the CLI.

The published rule: constraints decide which jobs an administrator sees — the jobs they created,
plus those created by administrators inside the constrained org units (sub-units included) or
groups — and they never limit the users named in a file.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.models import Grant, Role
from access.permissions import (
    IMPORT_LICENSES,
    IMPORT_UNENROLMENTS,
    MANAGE_CERTIFICATION_REMOVAL,
    MANAGE_LICENSES,
    RECORD_EXTERNAL_TRAINING,
    VIEW_CATALOGUE,
    VIEW_CERTIFICATIONS,
)
from access.rules import may_see_certifications, may_see_licences, may_view_catalogue
from bulk import services, worker
from bulk.visibility import jobs_visible_to, may_manage_jobs, may_pick_people
from credentials.models import Certification
from people.models import OrgUnit, User

from .factories import GroupFactory, OrgUnitFactory, UserFactory, grant, make_csv, removal_rows
from .processes import CERTDESK, cli_env

REMOVAL_PERMISSION = ("bulk", "manage_certification_removal")


def role_with(name: str, scope: str, *, units=(), groups=()) -> Role:
    role = Role.objects.create(name=name)
    permission = Permission.objects.get(
        content_type__app_label="bulk", codename="manage_certification_removal"
    )
    grant = Grant.objects.create(role=role, permission=permission, scope=scope)
    grant.org_units.set(units)
    grant.groups.set(groups)
    return role


@pytest.fixture
def organisation(db, certification, holders):
    """Division A (with department A1), Division B, a group, and admins with every kind of grant;
    each admin has created one job, naming the same holders (constraints do not limit them)."""
    div_a = OrgUnitFactory(code="DIV-A", name="Division A", kind="Division")
    dept_a1 = OrgUnitFactory(code="DIV-A-1", name="A1", parent=div_a)
    div_b = OrgUnitFactory(code="DIV-B", name="Division B", kind="Division")
    night_shift = GroupFactory(name="Night shift")

    own_units = role_with("Division administrator", Grant.Scope.OWN_UNITS)
    oversees_b = role_with("Division B auditor", Grant.Scope.ORG_UNITS, units=[div_b])
    by_group = role_with("Night shift lead", Grant.Scope.GROUPS, groups=[night_shift])
    everything = role_with("Global administrator", Grant.Scope.ALL)

    people: dict[str, User] = {}
    for username, unit, role in (
        ("alice", div_a, own_units),
        ("alvin", dept_a1, own_units),
        ("bob", div_b, own_units),
        ("carol", div_a, oversees_b),
        ("gina", None, by_group),
        ("dan", None, everything),
    ):
        user = UserFactory(username=username, user_id=f"ADM-{username.upper()}")
        if unit:
            user.org_units.add(unit)
        role.members.add(user)
        people[username] = User.objects.get(pk=user.pk)
    night_shift.members.add(people["bob"])
    people["root"] = UserFactory(username="root", is_superuser=True)
    people["mallory"] = UserFactory(username="mallory")

    data = make_csv(removal_rows(certification, holders[:3]))
    jobs = {
        name: services.submit(
            "certification-removal",
            data,
            "r.csv",
            actor=people[name],
            title=f"{name}'s job",
            validate_only=True,
        ).job
        for name in ("alice", "alvin", "bob", "carol", "gina")
    }
    return people, jobs


EXPECTED = {
    "alice": {"alice", "alvin", "carol"},  # admins in her division, sub-units included
    "alvin": {"alvin"},  # his department only: Division A is above it
    "bob": {"bob"},
    "carol": {"carol", "bob"},  # the published example: in Division A, constrained to Division B
    "gina": {"gina", "bob"},  # bob is in her group
    "dan": {"alice", "alvin", "bob", "carol", "gina"},
    "root": {"alice", "alvin", "bob", "carol", "gina"},
}


@pytest.mark.parametrize("viewer", sorted(EXPECTED))
def test_each_constraint_shows_own_jobs_and_those_of_admins_in_scope(organisation, viewer):
    people, jobs = organisation
    seen = set(jobs_visible_to(people[viewer]).values_list("pk", flat=True))
    assert seen == {jobs[name].pk for name in EXPECTED[viewer]}


def api_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.parametrize("viewer", ["alice", "carol", "gina"])
def test_the_api_lists_only_visible_jobs_and_answers_404_for_the_others(organisation, viewer):
    people, jobs = organisation
    client = api_for(people[viewer])

    listed = {job["id"] for job in client.get("/api/v1/jobs/").json()["results"]}
    assert listed == {jobs[name].pk for name in EXPECTED[viewer]}
    for name, job in jobs.items():
        expected = 200 if name in EXPECTED[viewer] else 404
        assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == expected, name
        assert client.get(f"/api/v1/jobs/{job.pk}/results/").status_code == expected, name
        assert client.get(f"/api/v1/jobs/{job.pk}/original/").status_code == expected, name
        assert client.get(f"/api/v1/jobs/{job.pk}/rows/").status_code == expected, name
    hidden = next(job for name, job in jobs.items() if name not in EXPECTED[viewer])
    assert client.post(f"/api/v1/jobs/{hidden.pk}/start/").status_code == 404


def test_a_user_with_no_grant_gets_403(organisation):
    people, _ = organisation
    assert api_for(people["mallory"]).get("/api/v1/jobs/").status_code == 403


def test_a_constrained_admin_may_still_name_any_user_in_a_file(organisation, certification, holders):
    people, _ = organisation
    # holders belong to no unit of alice's; the file is accepted all the same
    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders[5:8])),
        "r.csv",
        actor=people["alice"],
        title="Outside my division",
        start=True,
    ).job
    assert worker.run_next("w").succeeded == 3
    assert job.pk in set(jobs_visible_to(people["alice"]).values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewer", ["alice", "alvin", "carol", "gina"])
def test_the_cli_applies_the_same_rule(organisation, viewer):
    import json
    import subprocess

    _people, jobs = organisation
    listed = subprocess.run(
        [str(CERTDESK), "job", "list", "--as", viewer, "--json"],
        env=cli_env(),
        capture_output=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert {job["id"] for job in json.loads(listed.stdout)} == {jobs[name].pk for name in EXPECTED[viewer]}

    hidden_name = next(name for name in jobs if name not in EXPECTED[viewer])
    hidden = subprocess.run(
        [str(CERTDESK), "job", "show", str(jobs[hidden_name].pk), "--as", viewer],
        env=cli_env(),
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert hidden.returncode == 2
    assert f"Job {jobs[hidden_name].pk} not found" in hidden.stderr


@pytest.mark.parametrize("viewer", ["alice", "alvin", "carol", "gina", "dan"])
def test_the_pages_list_only_visible_jobs_and_answer_404_for_the_others(organisation, viewer):
    people, jobs = organisation
    client = Client()
    client.force_login(people[viewer])

    listed = {job.pk for job in client.get("/tools/certification-removal/").context["page"]}
    assert listed == {jobs[name].pk for name in EXPECTED[viewer]}
    for name, job in jobs.items():
        expected = 200 if name in EXPECTED[viewer] else 404
        for path in ("", "progress/", "results/", "original/"):
            assert client.get(f"/jobs/{job.pk}/{path}").status_code == expected, (name, path)
        confirm = client.get(f"/tools/certification-removal/{job.pk}/confirm/")
        assert confirm.status_code == (200 if expected == 200 else 404), name


# The rules written once (access.rules, and the engine's bulk.visibility): a page and its endpoint
# answer alike because both ask the same function. Each rule: the page it guards (None when only the
# API lists it), the endpoint, and the permissions that grant it.
RULES = {
    "may_view_catalogue": (
        may_view_catalogue,
        "/catalogue/",
        "/api/v1/activities/",
        [VIEW_CATALOGUE, IMPORT_UNENROLMENTS],
    ),
    "may_see_licences": (
        may_see_licences,
        "/licences/",
        "/api/v1/license-types/",
        [MANAGE_LICENSES, IMPORT_LICENSES],
    ),
    "may_see_certifications": (
        may_see_certifications,
        "/certifications/",
        "/api/v1/certifications/",
        [VIEW_CERTIFICATIONS],
    ),
    "may_manage_jobs": (
        may_manage_jobs,
        "/jobs/",
        "/api/v1/jobs/",
        [MANAGE_CERTIFICATION_REMOVAL, IMPORT_LICENSES],
    ),
    "may_pick_people": (may_pick_people, None, "/api/v1/users/", [VIEW_CERTIFICATIONS, IMPORT_UNENROLMENTS]),
}
# A permission that grants none of the rules above.
UNRELATED = RECORD_EXTERNAL_TRAINING


@pytest.mark.parametrize(
    ("name", "held"),
    [
        (name, held)
        for name, (_rule, _page, _endpoint, granting) in RULES.items()
        for held in [None, UNRELATED, *granting]
    ],
)
def test_each_rule_answers_alike_on_its_page_and_its_endpoint(db, name, held):
    rule, page, endpoint, granting = RULES[name]
    user = grant(UserFactory(), *([held] if held else []))
    allowed = held in granting

    assert rule(user) is allowed
    expected = 200 if allowed else 403
    if page is not None:
        client = Client()
        client.force_login(user)
        assert client.get(page).status_code == expected
    assert api_for(user).get(endpoint).status_code == expected


@pytest.mark.parametrize("name", sorted(RULES))
def test_signed_out_the_page_asks_to_sign_in_and_the_endpoint_answers_401(db, name):
    _rule, page, endpoint, _granting = RULES[name]
    if page is not None:
        response = Client().get(page)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert APIClient().get(endpoint).status_code == 401


def test_a_method_an_endpoint_does_not_take_is_405_whatever_the_caller_may_do(db):
    importer = api_for(grant(UserFactory(), IMPORT_LICENSES))
    assert importer.put("/api/v1/licenses/", {}).status_code == 405
    assert importer.post("/api/v1/licenses/", {}).status_code == 403  # it exists, and needs "Manage licences"
    nobody = api_for(UserFactory())
    assert nobody.put("/api/v1/awards/1/", {}).status_code == 405
    assert nobody.get("/api/v1/enrollments/1/complete/").status_code == 405
    assert nobody.delete("/api/v1/jobs/1/").status_code == 405


# Who each administrator may pick in the API's people pickers: the people of their reach.
PICKABLE = {
    "alice": {"alice", "alvin", "carol"},  # Division A and its department
    "alvin": {"alvin"},
    "bob": {"bob"},
    "carol": {"bob"},  # constrained to Division B, where only bob is
    "gina": {"bob"},  # the night shift group
}


@pytest.mark.parametrize("viewer", sorted(PICKABLE))
def test_the_people_pickers_list_only_the_requesters_reach(organisation, viewer):
    people, _ = organisation
    client = api_for(people[viewer])

    listed = client.get("/api/v1/users/", {"page_size": 500}).json()
    usernames = {u["username"] for u in listed["results"]}
    admins = {"alice", "alvin", "bob", "carol", "gina", "dan", "root", "mallory"}
    assert usernames & admins == PICKABLE[viewer]
    assert len(usernames - admins) == 0, "learners outside every unit and group are out of reach"

    groups = {g["name"] for g in client.get("/api/v1/groups/").json()["results"]}
    assert groups == ({"Night shift"} if viewer == "gina" else set())
    units = {u["code"] for u in client.get("/api/v1/org-units/").json()["results"]}
    expected_units = {
        "alice": {"DIV-A", "DIV-A-1"},
        "alvin": {"DIV-A-1"},
        "bob": {"DIV-B"},
        "carol": {"DIV-B"},
    }
    assert units == expected_units.get(viewer, set())


@pytest.mark.parametrize("viewer", ["dan", "root"])
def test_an_unconstrained_administrator_picks_among_everyone(organisation, viewer):
    people, _ = organisation
    client = api_for(people[viewer])
    listed = client.get("/api/v1/users/").json()
    assert listed["count"] == User.objects.count()
    assert client.get("/api/v1/org-units/").json()["count"] == 3


def test_the_pickers_for_a_kind_list_that_permissions_reach_on_the_api_and_the_award_page(organisation):
    """An administrator who awards in Division A only, and views certifications everywhere: picking
    for Award Users lists Division A, on the web page and with ``kind=certification-award``."""
    people, _ = organisation
    certification = Certification.objects.first()
    awarder = UserFactory(username="ava", user_id="ADM-AVA", first_name="Ava")
    awarder.org_units.add(OrgUnit.objects.get(code="DIV-A"))
    role = Role.objects.create(name="Division A awarder")
    award = Permission.objects.get(content_type__app_label="credentials", codename="award_certification")
    Grant.objects.create(role=role, permission=award, scope=Grant.Scope.OWN_UNITS)
    role.members.add(awarder)
    grant(awarder, VIEW_CERTIFICATIONS)
    bob = people["bob"]  # in Division B
    client = api_for(awarder)

    def listed(**params: str) -> set[str]:
        return {
            u["username"]
            for u in client.get("/api/v1/users/", {"page_size": 500, **params}).json()["results"]
        }

    assert {"alice", "bob"} <= listed(), "viewing certifications reaches everyone"
    for_awards = listed(kind="certification-award")
    assert "alice" in for_awards and "bob" not in for_awards
    units = client.get("/api/v1/org-units/", {"kind": "certification-award"}).json()["results"]
    assert {u["code"] for u in units} == {"DIV-A", "DIV-A-1"}

    page = Client()
    page.force_login(awarder)
    found = page.get(f"/certifications/{certification.pk}/award/search/", {"q": "ADM-"}).content.decode()
    assert "ADM-ALICE" in found and "ADM-BOB" not in found
    # By User ID: the factories' made-up names may contain "bob" too (Bobbie, Jacobo).
    assert listed(kind="certification-award", search=bob.user_id) == set()
    assert listed(search=bob.user_id) == {bob.username}

    refused = client.get("/api/v1/users/", {"kind": "no-such-kind"})
    assert refused.status_code == 400
    assert "'no-such-kind' is not a job kind" in refused.json()["detail"]
    assert refused.json()["errors"][0]["column"] == "kind"
