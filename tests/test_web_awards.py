"""The Awarded Users page and its actions: Award Users in two steps (at once up to 100, a background
job above), Edit, Unassign and Reinstate, and who may do what."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from access.models import Grant, Role
from access.permissions import AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS
from bulk import worker
from bulk.models import Job
from credentials.models import Award

from .factories import CertificationFactory, GroupFactory, OrgUnitFactory, UserFactory, award_many, grant

TODAY = dt.date.today()


@pytest.fixture
def ada(db):
    return grant(UserFactory(username="ada", user_id="ADM-ADA"), AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS)


@pytest.fixture
def ada_client(ada) -> Client:
    client = Client()
    client.force_login(ada)
    return client


@pytest.fixture
def bls(db):
    return CertificationFactory(
        code="CERT-001", title="Basic Life Support", validity_days=365, renewal_window_days=30
    )


def test_awarded_users_show_days_left_expiration_association_and_status(ada_client, bls):
    soon, gone, forever, expired = UserFactory.create_batch(4)
    Award.objects.create(
        user=soon, certification=bls, issue_date=TODAY, expiration_date=TODAY + dt.timedelta(days=20)
    )
    Award.objects.create(
        user=forever,
        certification=bls,
        issue_date=TODAY,
        always_valid=True,
        association_type="external_training",
        external_activity="Regional day",
    )
    Award.objects.create(
        user=expired,
        certification=bls,
        issue_date=TODAY - dt.timedelta(days=400),
        expiration_date=TODAY - dt.timedelta(days=35),
    )
    Award.objects.create(
        user=gone, certification=bls, issue_date=TODAY, expiration_date=TODAY, status="removed"
    )

    page = ada_client.get(f"/certifications/{bls.pk}/users/")
    rows = {a.user.username: (state, days) for a, state, days, _ in page.context["rows"]}
    assert rows == {
        soon.username: ("active", 20),
        forever.username: ("active", None),
        expired.username: ("expired", -35),
    }
    html = page.content.decode()
    assert (
        "(renewal open)" in html
        and "Always valid" in html
        and "External training activity: Regional day" in html
    )

    removed = ada_client.get(f"/certifications/{bls.pk}/users/", {"status": "removed"})
    assert [a.user.username for a, *_ in removed.context["rows"]] == [gone.username]
    assert "Reinstate" in removed.content.decode()
    expired_only = ada_client.get(f"/certifications/{bls.pk}/users/", {"status": "expired"})
    assert [a.user.username for a, *_ in expired_only.context["rows"]] == [expired.username]


def test_award_users_in_two_steps_for_a_group_and_a_branch(ada_client, bls):
    group, branch, sub_branch = (
        GroupFactory(name="Night shift"),
        OrgUnitFactory(name="Theatres"),
        OrgUnitFactory(),
    )
    sub_branch.parent = branch
    sub_branch.save()
    in_group, in_branch, in_sub = UserFactory(), UserFactory(), UserFactory()
    group.members.add(in_group)
    branch.members.add(in_branch)
    sub_branch.members.add(in_sub)
    award_many(bls, [in_sub])

    found = ada_client.get(f"/certifications/{bls.pk}/award/search/", {"q": "thea"}).content.decode()
    assert "Branch: Theatres" in found
    step_two = ada_client.post(
        f"/certifications/{bls.pk}/award/",
        {"step": "pick", "groups": [group.pk], "org_units": [branch.pk], "include_sub_units": "on"},
    )
    summary = step_two.content.decode()
    assert (
        "<strong>3</strong> users selected: <strong>2</strong> will be awarded, 1 already holds CERT-001"
        in summary
    )
    assert step_two.context["form"].initial["expiration_date"] == TODAY + dt.timedelta(days=365)

    done = ada_client.post(
        f"/certifications/{bls.pk}/award/",
        {
            "step": "confirm",
            "groups": [group.pk],
            "org_units": [branch.pk],
            "include_sub_units": "on",
            "issue_date": "2026-06-01",
            "expiration_date": "2027-06-01",
            "association_type": "manual",
        },
        follow=True,
    )
    assert "2 users were awarded CERT-001. 1 already held it and was skipped." in done.content.decode()
    assert (
        Award.objects.filter(certification=bls, status="active", issue_date=dt.date(2026, 6, 1)).count() == 2
    )


def test_award_users_above_100_lands_on_the_background_job(ada_client, bls):
    group = GroupFactory()
    group.members.add(*UserFactory.create_batch(101))
    response = ada_client.post(
        f"/certifications/{bls.pk}/award/",
        {
            "step": "confirm",
            "groups": [group.pk],
            "issue_date": TODAY.isoformat(),
            "always_valid": "on",
            "association_type": "manual",
        },
        HTTP_HX_REQUEST="true",
    )
    job = Job.objects.get()
    assert response.status_code == 204 and response["HX-Redirect"] == f"/jobs/{job.pk}/"
    assert job.status == Job.Status.QUEUED and job.total == 101
    worker.run_next("test-worker")
    assert Award.objects.filter(certification=bls, always_valid=True).count() == 101
    page = ada_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "101</strong> awarded" in page


def test_step_two_refuses_terms_that_cannot_stand(ada_client, bls):
    user = UserFactory()
    response = ada_client.post(
        f"/certifications/{bls.pk}/award/",
        {
            "step": "confirm",
            "users": [user.pk],
            "issue_date": "2026-06-01",
            "expiration_date": "2026-05-01",
            "association_type": "external_training",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "is before the issue date" in html and "Name the external training activity" in html
    assert not Award.objects.exists()


def test_picking_nobody_is_explained(ada_client, bls):
    response = ada_client.post(f"/certifications/{bls.pk}/award/", {"step": "pick"})
    assert response.status_code == 400
    assert "Pick at least one user, group or branch." in response.content.decode()


def test_edit_saves_and_refuses_an_expiration_before_the_issue_date(ada_client, bls):
    [award] = award_many(bls, [UserFactory()])
    url = f"/certifications/{bls.pk}/awards/{award.pk}/edit/"

    refused = ada_client.post(
        url, {"issue_date": "2026-05-01", "expiration_date": "2026-04-01", "association_type": "manual"}
    )
    assert refused.status_code == 400
    assert "before the issue date" in refused.content.decode()

    saved = ada_client.post(
        url, {"issue_date": "2026-05-01", "always_valid": "on", "association_type": "manual"}, follow=True
    )
    assert "is saved" in saved.content.decode()
    award.refresh_from_db()
    assert (award.issue_date, award.expiration_date, award.always_valid) == (dt.date(2026, 5, 1), None, True)


def test_unassign_after_confirmation_then_reinstate(ada_client, bls):
    [award] = award_many(bls, [user := UserFactory()])
    url = f"/certifications/{bls.pk}/awards/{award.pk}/unassign/"
    assert "will no longer hold CERT-001" in ada_client.get(url).content.decode()
    award.refresh_from_db()
    assert award.status == "active"  # asking is not doing

    ada_client.post(url)
    award.refresh_from_db()
    assert award.status == "removed"

    ada_client.post(f"/certifications/{bls.pk}/awards/{award.pk}/reinstate/")
    award.refresh_from_db()
    assert award.status == "active" and award.user == user


def test_viewers_see_awarded_users_but_no_award_actions(db, bls, mallory):
    [award] = award_many(bls, [UserFactory()])
    viewer = grant(UserFactory(), VIEW_CERTIFICATIONS)
    client = Client()
    client.force_login(viewer)
    html = client.get(f"/certifications/{bls.pk}/users/").content.decode()
    assert "Award Users" not in html and "Unassign" not in html
    for url in (
        f"/certifications/{bls.pk}/award/",
        f"/certifications/{bls.pk}/award/search/?q=ab",
        f"/certifications/{bls.pk}/awards/{award.pk}/edit/",
        f"/certifications/{bls.pk}/awards/{award.pk}/unassign/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/certifications/{bls.pk}/awards/{award.pk}/unassign/").status_code == 403
    award.refresh_from_db()
    assert award.status == "active"


def test_a_constrained_awarder_cannot_reach_awards_outside_their_units(db, bls):
    north, south = OrgUnitFactory(name="North"), OrgUnitFactory(name="South")
    role = Role.objects.create(name="North awarder")
    from django.contrib.auth.models import Permission

    for codename in ("award_certification", "view_certification"):
        Grant.objects.create(
            role=role, permission=Permission.objects.get(codename=codename), scope=Grant.Scope.OWN_UNITS
        )
    nadia = UserFactory()
    nadia.org_units.add(north)
    role.members.add(nadia)
    inside, outside = UserFactory(), UserFactory()
    inside.org_units.add(north)
    outside.org_units.add(south)
    theirs, other = award_many(bls, [inside, outside])
    client = Client()
    client.force_login(nadia)

    rows = {
        a.pk: manageable
        for a, _, _, manageable in client.get(f"/certifications/{bls.pk}/users/").context["rows"]
    }
    assert rows == {theirs.pk: True, other.pk: False}
    assert client.get(f"/certifications/{bls.pk}/awards/{other.pk}/edit/").status_code == 404
    assert client.post(f"/certifications/{bls.pk}/awards/{other.pk}/unassign/").status_code == 404
    other.refresh_from_db()
    assert other.status == "active"
    found = client.get(f"/certifications/{bls.pk}/award/search/", {"q": outside.username}).content.decode()
    assert f'value="{outside.pk}"' not in found and "Nothing matches" in found


def test_the_dashboard_card_counts_certifications_expiring_in_30_60_and_90_days(ada_client, bls):
    other = CertificationFactory(code="CERT-002", title="Fire Safety")
    for days, certification in ((10, bls), (29, bls), (45, bls), (80, other), (200, other), (-5, bls)):
        Award.objects.create(
            user=UserFactory(),
            certification=certification,
            issue_date=TODAY - dt.timedelta(days=300),
            expiration_date=TODAY + dt.timedelta(days=days),
        )
    Award.objects.create(
        user=UserFactory(),
        certification=bls,
        issue_date=TODAY,
        expiration_date=TODAY + dt.timedelta(days=5),
        status="removed",
    )

    page = ada_client.get("/")

    assert page.status_code == 200
    card = page.context["expiring"]
    assert card["totals"] == {30: 2, 60: 3, 90: 4}
    assert [
        (r["certification__code"], r["within_30"], r["within_60"], r["within_90"]) for r in card["rows"]
    ] == [
        ("CERT-001", 2, 3, 3),
        ("CERT-002", 0, 0, 1),
    ]
    assert "Certifications expiring" in page.content.decode()


def test_the_dashboard_has_no_expiry_card_without_the_view_permission(db):
    from access.permissions import IMPORT_UNENROLMENTS

    importer = grant(UserFactory(), IMPORT_UNENROLMENTS)
    client = Client()
    client.force_login(importer)
    page = client.get("/")
    assert page.status_code == 200 and page.context["expiring"] is None
    assert "Certifications expiring" not in page.content.decode()


def test_in_the_dialog_a_step_with_errors_is_shown_not_dropped(ada_client, bls):
    # htmx swaps in only successful answers: the dialog must get its errors as a 200 fragment.
    response = ada_client.post(f"/certifications/{bls.pk}/award/", {"step": "pick"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Pick at least one user, group or branch." in html and "<html" not in html


def test_the_terms_form_shows_dates_as_a_date_input_expects_them(ada_client, bls):
    [award] = award_many(bls, [UserFactory()])
    html = ada_client.get(f"/certifications/{bls.pk}/awards/{award.pk}/edit/").content.decode()
    assert f'value="{award.issue_date.isoformat()}"' in html


def test_unassigning_an_already_removed_award_leaves_the_users_current_award_alone(ada_client, bls):
    user = UserFactory()
    [old] = award_many(bls, [user])
    Award.objects.filter(pk=old.pk).update(status="removed")
    [current] = award_many(bls, [user])

    ada_client.post(f"/certifications/{bls.pk}/awards/{old.pk}/unassign/")

    current.refresh_from_db()
    assert current.status == "active"


def test_a_constrained_awarder_picks_only_groups_and_branches_in_reach(db, bls):
    from django.contrib.auth.models import Permission

    mine = GroupFactory(name="Ward team")
    GroupFactory(name="Ward secret")
    role = Role.objects.create(name="Group awarder")
    grant_row = Grant.objects.create(
        role=role, permission=Permission.objects.get(codename="award_certification"), scope=Grant.Scope.GROUPS
    )
    grant_row.groups.add(mine)
    OrgUnitFactory(name="Ward 9")
    nadia = UserFactory()
    role.members.add(nadia)
    client = Client()
    client.force_login(nadia)
    found = client.get(f"/certifications/{bls.pk}/award/search/", {"q": "ward"}).content.decode()
    assert "Group: Ward team" in found
    assert "Ward secret" not in found and "Ward 9" not in found


def test_certifications_can_be_awarded_from_a_file_validated_first(ada_client, bls):
    import io

    from .factories import make_csv

    users = UserFactory.create_batch(2)
    header = (
        "Certification ID",
        "User ID",
        "Issue date",
        "Expiration date",
        "Always valid",
        "Association type",
        "External activity",
    )
    data = make_csv(
        [
            ["CERT-001", users[0].user_id, "2026-06-01", "", "", "", ""],
            ["CERT-001", "U-NOPE", "", "", "", "", ""],
        ],
        header,
    )
    assert 'href="/certifications/award-from-file/"' in ada_client.get("/certifications/").content.decode()
    page = ada_client.get("/certifications/award-from-file/").content.decode()
    assert 'href="/jobs/kinds/certification-award/template.xlsx"' in page

    upload = io.BytesIO(data)
    upload.name = "awards.csv"
    checked = ada_client.post(
        "/certifications/award-from-file/",
        {"title": "June awards", "file": upload, "validate_only": "on"},
        follow=True,
    )

    job = Job.objects.get()
    assert job.status == Job.Status.VERIFIED and not Award.objects.exists()
    html = checked.content.decode()
    assert "nothing was awarded" in html and "User ID not recognised" in html
    ada_client.post(f"/jobs/{job.pk}/start/")
    worker.run_next("test-worker")
    assert Award.objects.get().user == users[0]


def test_awarding_from_a_file_needs_the_permission(db, mallory):
    client = Client()
    client.force_login(mallory)
    assert client.get("/certifications/award-from-file/").status_code == 403
