"""People and a page per learner: search, filters, sort, reach (404 outside it) and the history of
every change, with who, when, before → after and the job."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from access.models import Grant, Role
from access.permissions import VIEW_CERTIFICATIONS
from bulk import services, worker
from credentials.models import Award

from .factories import GroupFactory, OrgUnitFactory, UserFactory, grant
from .test_restore import removal as removed


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(client: Client, **params: str) -> list[str]:
    response = client.get(reverse("web:people"), params)
    assert response.status_code == 200
    return re.findall(r'href="/people/([^/"]+)/"', response.content.decode())


@pytest.fixture
def directory(db):
    north = OrgUnitFactory(code="NORTH", name="North")
    north_ward = OrgUnitFactory(code="NORTH-1", name="North ward", parent=north)
    south = OrgUnitFactory(code="SOUTH", name="South")
    nights = GroupFactory(name="Nights")
    ann = UserFactory(
        user_id="L-ANN", username="ann", first_name="Ann", last_name="Zeller", email="ann@north.test"
    )
    ben = UserFactory(
        user_id="L-BEN", username="ben", first_name="Ben", last_name="Young", email="ben@south.test"
    )
    cy = UserFactory(user_id="L-CY", username="cy", first_name="Cy", last_name="Abbot", email="cy@north.test")
    ann.org_units.add(north)
    cy.org_units.add(north_ward)
    ben.org_units.add(south)
    nights.members.add(ben)
    return {"north": north, "south": south, "nights": nights, "ann": ann, "ben": ben, "cy": cy}


@pytest.fixture
def admin(db):
    return grant(
        UserFactory(username="dana", user_id="ADM-DANA", first_name="Dana", last_name="Admin"),
        VIEW_CERTIFICATIONS,
    )


def constrained_to(unit) -> object:
    """An administrator who may view certifications of the people of ``unit`` only."""
    role = Role.objects.create(name=f"{unit.name} viewer")
    Grant.objects.create(
        role=role,
        permission=Permission.objects.get(
            content_type__app_label="credentials", codename="view_certification"
        ),
        scope=Grant.Scope.ORG_UNITS,
    ).org_units.set([unit])
    user = UserFactory(username=f"viewer-{unit.code.lower()}")
    role.members.add(user)
    return user


def test_people_are_found_by_user_id_username_name_or_email(directory, admin):
    client = signed_in(admin)
    assert listed(client, q="l-be") == ["L-BEN"]
    assert listed(client, q="zell") == ["L-ANN"]
    assert listed(client, q="north.test") == ["L-ANN", "L-CY"]
    assert listed(client, q="cy") == ["L-CY"]


def test_people_search_follows_renames_and_deletions_and_takes_any_case(directory, admin):
    """The search index is kept as people change, whatever writes the change (a save or a bulk UPDATE)."""
    client = signed_in(admin)
    assert listed(client, q="ZELLER") == ["L-ANN"]
    ann = directory["ann"]
    ann.last_name = "Moreau"
    ann.save()
    assert listed(client, q="zeller") == []
    assert listed(client, q="moreau") == ["L-ANN"]
    type(ann).objects.filter(pk=directory["ben"].pk).update(email="ben.young@east.test")
    assert listed(client, q="south.test") == []
    assert listed(client, q="east.test") == ["L-BEN"]
    directory["cy"].delete()
    assert listed(client, q="north.test") == ["L-ANN"]


@pytest.mark.parametrize("text", ['"', "50%", "a_b", "'; --", "ann\\", "*", "ann OR ben", "NEAR(ann)"])
def test_people_search_takes_any_text_literally(directory, admin, text):
    """Quotes, wildcards and search-syntax words are matched as written, never interpreted."""
    assert listed(signed_in(admin), q=text) == []


def test_a_search_does_not_match_across_two_fields(directory, admin):
    """ "Zeller" then "ann@…": the fields are searched one by one, not as one joined text."""
    assert listed(signed_in(admin), q="zellerann") == []
    assert listed(signed_in(admin), q="annzeller") == []


def test_the_org_unit_filter_includes_sub_units_and_the_group_filter_its_members(directory, admin):
    client = signed_in(admin)
    assert listed(client, unit=str(directory["north"].pk)) == ["L-ANN", "L-CY"]
    assert listed(client, group=str(directory["nights"].pk)) == ["L-BEN"]


def test_people_sort_by_a_column_either_way(directory, admin):
    client = signed_in(admin)
    learners = ["L-ANN", "L-BEN", "L-CY"]
    assert [u for u in listed(client, sort="name") if u in learners] == ["L-CY", "L-BEN", "L-ANN"]
    assert [u for u in listed(client, sort="-user_id") if u in learners] == ["L-CY", "L-BEN", "L-ANN"]


def test_a_constrained_administrator_lists_only_their_units_and_gets_404_for_the_others(directory):
    viewer = constrained_to(directory["north"])
    client = signed_in(viewer)
    assert listed(client) == ["L-ANN", "L-CY"]
    assert client.get(reverse("web:learner", args=["L-ANN"])).status_code == 200
    assert client.get(reverse("web:learner", args=["L-BEN"])).status_code == 404
    assert client.get(reverse("web:learner", args=["NO-SUCH"])).status_code == 404


def test_someone_without_a_people_permission_is_refused(directory):
    client = signed_in(UserFactory(username="nobody"))
    assert client.get(reverse("web:people")).status_code == 403
    assert client.get(reverse("web:learner", args=["L-ANN"])).status_code == 403


def test_history_after_a_removal_and_its_restore_shows_removed_then_restored_with_job_links(
    alice, certification, holders
):
    learner = holders[0]
    removal = removed(alice, certification, [learner])
    assert not Award.objects.active().filter(user=learner).exists()
    services.restore_job(removal, alice)
    restore = worker.run_next("test-worker")

    page = signed_in(alice).get(reverse("web:learner", args=[learner.user_id])).content.decode()
    history = page[page.index('id="history"') :]
    restored_at = history.index("award.restored")
    removed_at = history.index("award.removed")
    assert restored_at < removed_at  # newest first
    assert f'href="/jobs/{restore.pk}/"' in history[restored_at:removed_at]
    assert f'href="/jobs/{removal.pk}/"' in history[removed_at:]
    assert "status: active → removed" in history
    assert "status: removed → active" in history
    assert "CERT-042 Basic Life Support" in history
    assert "alice" in history
    # The current certifications show the award back, with its expiry.
    assert "Basic Life Support" in page[: page.index('id="history"')]


def test_the_api_gives_a_learner_and_404_outside_the_constrained_administrators_reach(directory):
    client = APIClient()
    client.force_authenticate(constrained_to(directory["north"]))
    found = client.get("/api/v1/users/L-ANN/")
    assert found.status_code == 200
    body = found.json()
    assert (body["user_id"], body["org_units"], body["certifications"]) == ("L-ANN", ["NORTH"], [])
    assert body["licences"] is None  # no licence permission: not shown
    assert client.get("/api/v1/users/L-BEN/").status_code == 404
    assert client.get("/api/v1/users/L-BEN/history/").status_code == 404
    assert APIClient().get("/api/v1/users/L-ANN/").status_code == 401


def test_the_api_history_lists_a_removal_with_its_job_and_values(alice, certification, holders):
    removal = removed(alice, certification, holders[:1])
    client = APIClient()
    client.force_authenticate(alice)
    (event,) = client.get(f"/api/v1/users/{holders[0].user_id}/history/").json()["results"]
    assert (event["action"], event["job_id"], event["actor"]) == ("award.removed", removal.pk, "alice")
    assert (event["before"], event["after"]) == ({"status": "active"}, {"status": "removed"})
    assert event["subject"] == "CERT-042 Basic Life Support"


def test_awarded_users_link_each_holder_to_their_page(alice, certification, holders):
    page = signed_in(alice).get(reverse("web:certification-users", args=[certification.pk])).content.decode()
    assert f'<a href="/people/{holders[0].user_id}/">{holders[0].user_id}</a>' in page
