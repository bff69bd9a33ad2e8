"""Users, Licences & Certifications: the list and its filters, add/edit/delete by hand, Import Data with
Only validate the file, Export Available Licenses, and who may manage whose licences."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client

from access.models import Grant, Role
from access.permissions import IMPORT_LICENSES, MANAGE_LICENSES
from bulk import worker
from bulk.models import Job
from credentials.models import License, LicenseType

from .factories import OrgUnitFactory, UserFactory, grant, make_csv

HEADER = (
    "Username",
    "License code",
    "Number",
    "Issuing authority",
    "Issue date",
    "Expiration date",
    "Action",
)
TODAY = dt.date.today()


@pytest.fixture
def rn(db):
    return LicenseType.objects.create(
        code="RN", name="Registered Nurse", issuing_authority="State Board of Nursing"
    )


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(grant(UserFactory(username="lee"), IMPORT_LICENSES, MANAGE_LICENSES))
    return client


def upload(name: str, data: bytes) -> io.BytesIO:
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def test_the_list_filters_by_type_status_unit_and_user(admin_client, rn):
    bls = LicenseType.objects.create(code="BLS", name="Basic Life Support", number_required=False)
    ward = OrgUnitFactory(name="Ward 7")
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    ward.members.add(ann)
    License.objects.create(
        user=ann, license_type=rn, number="RN-1", expiration_date=TODAY + dt.timedelta(days=10)
    )
    License.objects.create(
        user=ben, license_type=rn, number="RN-2", expiration_date=TODAY - dt.timedelta(days=1)
    )
    License.objects.create(user=ben, license_type=bls, expiration_date=TODAY + dt.timedelta(days=200))
    License.objects.create(
        user=ann, license_type=bls, deleted_at=TODAY and dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )

    def listed(**params: str) -> list[tuple[str, str]]:
        page = admin_client.get("/licences/", params)
        return [(lic.user.username, lic.license_type.code) for lic, _ in page.context["rows"]]

    assert listed() == [("ann", "RN"), ("ben", "BLS")]  # current: not expired, not deleted
    assert listed(status="expired") == [("ben", "RN")]
    assert listed(status="expiring", days="30") == [("ann", "RN")]
    assert listed(status="all", type="RN") == [("ann", "RN"), ("ben", "RN")]
    assert listed(status="all", unit=str(ward.pk)) == [("ann", "RN")]
    assert listed(status="all", q="RN-2") == [("ben", "RN")]


def test_the_search_finds_a_piece_of_a_licence_number_in_any_case_as_numbers_change(admin_client, rn):
    """Licence numbers have a search index of their own; it follows every write, by hand or in bulk."""
    ann, ben = (
        UserFactory(
            username=name, user_id=f"L-{name}", first_name=name, last_name="Doe", email=f"{name}@x.test"
        )
        for name in ("ann", "ben")
    )
    first = License.objects.create(user=ann, license_type=rn, number="RN-48213")
    License.objects.create(user=ben, license_type=rn, number="RN-77001")

    def listed(text: str) -> list[str]:
        page = admin_client.get("/licences/", {"status": "all", "q": text})
        return sorted(lic.number for lic, _ in page.context["rows"])

    assert listed("rn-4821") == ["RN-48213"]
    assert listed("821") == ["RN-48213"]
    assert listed("RN-") == ["RN-48213", "RN-77001"]
    assert listed("70") == ["RN-77001"]  # shorter than a trigram: matched field by field
    first.number = "RN-99999"
    first.save()
    assert listed("4821") == []
    assert listed("9999") == ["RN-99999"]
    License.objects.filter(number="RN-77001").update(number="RN-55501")
    assert listed("7700") == []
    assert listed("5550") == ["RN-55501"]
    first.delete()
    assert listed("9999") == []
    for text in ['"', "50%", "RN_4", "'; --", "*", "RN OR 555", "NEAR(RN)"]:
        assert listed(text) == [], text


def test_add_edit_and_delete_a_licence_by_hand(admin_client, rn):
    UserFactory(username="ann")
    added = admin_client.post(
        "/licences/add/",
        {
            "username": "ann",
            "license_type": rn.pk,
            "number": "RN-1",
            "issue_date": "2026-01-01",
            "expiration_date": "2027-01-01",
        },
        follow=True,
    )
    assert "The licence is saved." in added.content.decode()
    licence = License.objects.get()
    assert licence.issuing_authority == "State Board of Nursing"

    twice = admin_client.post("/licences/add/", {"username": "ann", "license_type": rn.pk, "number": "RN-1"})
    assert twice.status_code == 400 and "already holds a RN licence numbered" in twice.content.decode()
    backwards = admin_client.post(
        f"/licences/{licence.pk}/edit/",
        {
            "username": "ann",
            "license_type": rn.pk,
            "number": "RN-1",
            "issue_date": "2026-01-01",
            "expiration_date": "2025-01-01",
        },
    )
    assert backwards.status_code == 400 and "before the issue date" in backwards.content.decode()

    admin_client.post(f"/licences/{licence.pk}/delete/")
    licence.refresh_from_db()
    assert licence.deleted_at is not None  # kept as history
    assert "RN-1" not in admin_client.get("/licences/").content.decode()


def test_validate_with_errors_then_fix_validate_clean_and_import(admin_client, rn):
    UserFactory(username="ann")
    bad = make_csv(
        [["ann", "RN", "RN-1", "", "", "", "Add"], ["ghost", "RN", "RN-2", "", "", "", "Add"]], HEADER
    )

    checked = admin_client.post(
        "/licences/import/", {"file": upload("board.csv", bad), "validate_only": "on"}, follow=True
    )

    page = checked.content.decode()
    assert "Errors were found in the file" in page and "Username not recognised" in page
    job = Job.objects.get()
    results = admin_client.get(f"/jobs/{job.pk}/results/")
    table = list(csv.reader(io.StringIO(b"".join(results.streaming_content).decode("utf-8-sig"))))
    assert [row[-2] for row in table[1:]] == ["Would import", "Error"]
    assert not License.objects.exists()

    good = make_csv([["ann", "RN", "RN-1", "", "", "", "Add"]], HEADER)
    clean = admin_client.post(
        "/licences/import/", {"file": upload("board.csv", good), "validate_only": "on"}, follow=True
    )
    assert "No major errors were found" in clean.content.decode()
    assert "does not necessarily mean that your file is perfect" in clean.content.decode()
    assert not License.objects.exists()

    imported = admin_client.post("/licences/import/", {"file": upload("board.csv", good)}, follow=True)
    assert "The file is being imported" in imported.content.decode()
    worker.run_next("test-worker")
    assert License.objects.current().get().number == "RN-1"


def test_a_validated_file_can_be_imported_without_uploading_it_again(admin_client, rn):
    UserFactory(username="ann")
    good = make_csv([["ann", "RN", "RN-1", "", "", "", "Add"]], HEADER)
    admin_client.post(
        "/licences/import/", {"file": upload("board.txt", good.replace(b",", b"\t")), "validate_only": "on"}
    )
    job = Job.objects.get()
    admin_client.post(f"/jobs/{job.pk}/start/")
    worker.run_next("test-worker")
    assert License.objects.current().count() == 1


def test_export_available_licenses_lists_the_codes(admin_client, rn):
    LicenseType.objects.create(code="=CMD", name="Formula", number_required=False)
    response = admin_client.get("/licences/available-licenses.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["License code", "Name", "Issuing authority", "Number required"]
    assert ["RN", "Registered Nurse", "State Board of Nursing", "Yes"] in rows
    assert ["'=CMD", "Formula", "", "No"] in rows  # a formula is neutralised


@pytest.mark.parametrize("fmt", ["csv", "txt", "xml", "xml-2003", "xlsx"])
def test_templates_and_examples_download_in_every_format(admin_client, fmt):
    for which in ("template", "example"):
        response = admin_client.get(f"/licences/{which}.{fmt}")
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith(f'attachment; filename="license-import-{which}')


def test_a_supervisor_manages_only_the_licences_of_their_own_units(db, rn):
    north, south = OrgUnitFactory(name="North"), OrgUnitFactory(name="South")
    role = Role.objects.create(name="Supervisor")
    from django.contrib.auth.models import Permission

    Grant.objects.create(
        role=role, permission=Permission.objects.get(codename="manage_licenses"), scope=Grant.Scope.OWN_UNITS
    )
    sue = UserFactory(username="sue")
    sue.org_units.add(north)
    role.members.add(sue)
    mine, theirs = UserFactory(username="mine"), UserFactory(username="theirs")
    mine.org_units.add(north)
    theirs.org_units.add(south)
    kept = License.objects.create(user=theirs, license_type=rn, number="RN-9")
    License.objects.create(user=mine, license_type=rn, number="RN-8")
    client = Client()
    client.force_login(sue)

    assert [lic.number for lic, _ in client.get("/licences/").context["rows"]] == ["RN-8"]
    assert client.get(f"/licences/{kept.pk}/edit/").status_code == 404
    assert client.post(f"/licences/{kept.pk}/delete/").status_code == 404
    refused = client.post("/licences/add/", {"username": "theirs", "license_type": rn.pk, "number": "RN-7"})
    assert "No learner you manage has the username &#x27;theirs&#x27;" in refused.content.decode()
    assert client.get("/licences/import/").status_code == 403  # managing is not importing
    kept.refresh_from_db()
    assert kept.deleted_at is None


def test_without_a_licence_permission_the_pages_are_refused(mallory, rn):
    client = Client()
    client.force_login(mallory)
    for url in (
        "/licences/",
        "/licences/add/",
        "/licences/import/",
        "/licences/available-licenses.csv",
        "/licences/template.csv",
    ):
        assert client.get(url).status_code == 403, url


def test_editing_a_licence_keeps_its_user_and_type(admin_client, rn):
    other_type = LicenseType.objects.create(code="LPN", name="Licensed Practical Nurse")
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    licence = License.objects.create(user=ann, license_type=rn, number="RN-1")

    admin_client.post(
        f"/licences/{licence.pk}/edit/",
        {"username": "ben", "license_type": other_type.pk, "number": "RN-1", "issue_date": "2026-01-01"},
    )

    licence.refresh_from_db()
    assert (licence.user, licence.license_type, str(licence.issue_date)) == (ann, rn, "2026-01-01")
    assert ben.licenses.count() == 0


@pytest.mark.parametrize("odd", ["²", "99999999999999999999999", "-1", "x"])
def test_odd_query_values_are_ignored_or_404_never_500(admin_client, rn, odd):
    assert admin_client.get("/licences/", {"unit": odd, "days": odd, "status": "expiring"}).status_code == 200
    assert admin_client.get("/licences/import/", {"job": odd}).status_code == 404
