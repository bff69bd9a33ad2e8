"""Roles managed in the product: a role, a constrained grant and a member, each change audited; the
permissions offered are certdesk's, by readable name and tool; the preview and the effect agree."""

from __future__ import annotations

from django.test import Client

from access.models import Grant, Role
from access.permissions import MANAGE_ROLES, VIEW_CERTIFICATIONS
from audit.models import Event

from .factories import OrgUnitFactory, UserFactory, grant
from .test_api import token_client


def admin_page() -> Client:
    client = Client()
    client.force_login(grant(UserFactory(username="rhea"), MANAGE_ROLES))
    return client


def test_a_role_with_a_constrained_grant_and_a_member_reaches_only_its_units(db):
    div_a, div_b = (
        OrgUnitFactory(code="DIV-A", name="Division A"),
        OrgUnitFactory(code="DIV-B", name="Division B"),
    )
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    ann.org_units.add(div_a)
    ben.org_units.add(div_b)
    awarder = grant(UserFactory(username="ava", user_id="ADM-AVA"), VIEW_CERTIFICATIONS)
    client = admin_page()

    created = client.post("/access/roles/new/", {"name": "Division A awarder", "description": "Awards in A"})
    role = Role.objects.get(name="Division A awarder")
    assert created.status_code == 302 and created["Location"] == f"/access/roles/{role.pk}/"
    url = f"/access/roles/{role.pk}/"
    page = client.get(url).content.decode()
    assert '<optgroup label="Certifications">' in page and ">Award and edit certifications</option>" in page
    assert "Can add log entry" not in page  # Django's own permissions are not offered
    client.post(
        url,
        {
            "action": "add_grant",
            "permission": "credentials.award_certification",
            "scope": "org_units",
            "org_units": [div_a.pk],
        },
    )
    client.post(url, {"action": "add_member", "member": "ADM-AVA"})

    [granted] = role.grants.all()
    assert (granted.scope, list(granted.org_units.all()), list(role.members.all())) == (
        "org_units",
        [div_a],
        [awarder],
    )
    preview = client.get(url, {"preview": "ava"}).content.decode()
    assert "What" in preview and "Award and edit certifications" in preview and "in Division A" in preview
    listed = token_client(awarder).get("/api/v1/users/", {"kind": "certification-award"}).json()["results"]
    assert {u["username"] for u in listed} == {"ann"}  # the grant's effect: Division A only
    assert [e.action for e in Event.objects.order_by("id")] == [
        "role.created",
        "grant.added",
        "role.member_added",
    ]
    added = Event.objects.get(action="grant.added")
    assert added.actor.username == "rhea" and added.after["org_units"] == ["DIV-A"]
    assert added.after["constraint"] == "Restrict to Organizational Units"


def test_refused_grants_and_names_are_told_and_change_nothing(db):
    Role.objects.create(name="Auditors")
    role = Role.objects.create(name="Leads")
    client = admin_page()
    url = f"/access/roles/{role.pk}/"

    no_units = client.post(
        url, {"action": "add_grant", "permission": "bulk.manage_certification_removal", "scope": "org_units"}
    )
    foreign = client.post(url, {"action": "add_grant", "permission": "admin.add_logentry", "scope": "all"})
    taken = client.post(url, {"action": "save", "name": "auditors", "description": ""})
    stranger = client.post(url, {"action": "add_member", "member": "nobody"})

    assert no_units.status_code == 400 and "needs at least one unit" in no_units.content.decode()
    assert "Choose one of certdesk" in foreign.content.decode()
    assert "A role is already called &#x27;auditors&#x27;." in taken.content.decode()
    assert "No user has the username or User ID &#x27;nobody&#x27;." in stranger.content.decode()
    assert not Grant.objects.exists() and Role.objects.get(pk=role.pk).name == "Leads"
    assert not Event.objects.exists()


def test_replacing_removing_and_deleting_are_recorded(db):
    role = Role.objects.create(name="Leads")
    member = UserFactory(username="lee")
    role.members.add(member)
    client = admin_page()
    url = f"/access/roles/{role.pk}/"
    for scope in ("all", "own_units"):
        client.post(url, {"action": "add_grant", "permission": "credentials.manage_licenses", "scope": scope})
    [kept] = role.grants.all()
    assert kept.scope == "own_units"  # the same permission again replaced the grant
    client.post(url, {"action": "remove_grant", "grant": kept.pk})
    client.post(url, {"action": "remove_member", "user": member.pk})
    client.post(url, {"action": "delete"})

    assert not Role.objects.exists()
    assert [e.action for e in Event.objects.order_by("id")] == [
        "grant.added",
        "grant.changed",
        "grant.removed",
        "role.member_removed",
        "role.deleted",
    ]


def test_without_manage_roles_the_screen_is_refused_and_not_in_the_navigation(db):
    role = Role.objects.create(name="Leads")
    client = Client()
    client.force_login(grant(UserFactory(username="vic"), VIEW_CERTIFICATIONS))
    assert client.get("/access/roles/").status_code == 403
    assert client.post(f"/access/roles/{role.pk}/", {"action": "delete"}).status_code == 403
    assert 'href="/access/roles/"' not in client.get("/").content.decode()
    assert Role.objects.exists()
    assert 'href="/access/roles/"' in admin_page().get("/").content.decode()
