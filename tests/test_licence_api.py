"""The licences API: available licence types and their export, and learners' licences within reach."""

from __future__ import annotations

import pytest

from access.permissions import IMPORT_LICENSES, MANAGE_LICENSES
from credentials.models import License, LicenseType

from .factories import UserFactory, grant
from .test_api import token_client


@pytest.fixture
def rn(db):
    return LicenseType.objects.create(
        code="RN", name="Registered Nurse", issuing_authority="State Board of Nursing"
    )


@pytest.fixture
def api(db):
    return token_client(grant(UserFactory(username="lee"), MANAGE_LICENSES, IMPORT_LICENSES))


def test_license_types_are_listed_and_exported(api, rn):
    assert api.get("/api/v1/license-types/").json()["results"][0]["code"] == "RN"
    export = api.get("/api/v1/license-types/export/")
    assert export.status_code == 200 and b"RN,Registered Nurse,State Board of Nursing,Yes" in export.content


def test_licences_are_added_edited_listed_and_deleted(api, rn):
    UserFactory(username="ann")
    added = api.post(
        "/api/v1/licenses/",
        {"username": "ann", "license_code": "RN", "number": "RN-1", "issue_date": "2026-01-01"},
        format="json",
    )
    assert added.status_code == 201, added.content
    pk = added.json()["id"]
    assert added.json()["issuing_authority"] == "State Board of Nursing"

    again = api.post(
        "/api/v1/licenses/", {"username": "ann", "license_code": "RN", "number": "RN-1"}, format="json"
    )
    assert again.status_code == 400 and again.json()["errors"][0]["code"] == "license_exists"
    backwards = api.patch(f"/api/v1/licenses/{pk}/", {"expiration_date": "2025-01-01"}, format="json")
    assert backwards.status_code == 400
    assert (
        api.patch(f"/api/v1/licenses/{pk}/", {"expiration_date": "2028-01-01"}, format="json").status_code
        == 200
    )
    assert (
        api.get("/api/v1/licenses/", {"username": "ann"}).json()["results"][0]["expiration_date"]
        == "2028-01-01"
    )

    assert api.delete(f"/api/v1/licenses/{pk}/").status_code == 204
    assert License.objects.get(pk=pk).deleted_at is not None
    assert api.get("/api/v1/licenses/").json()["results"] == []


def test_licences_need_a_licence_permission(mallory, rn):
    api = token_client(mallory)
    assert api.get("/api/v1/license-types/").status_code == 403
    assert api.get("/api/v1/licenses/").status_code == 403
    importer = token_client(grant(UserFactory(), IMPORT_LICENSES))
    assert (
        importer.post("/api/v1/licenses/", {"username": "x", "license_code": "RN"}, format="json").status_code
        == 403
    )


def test_templates_come_in_every_format_the_kind_takes(api):
    import io

    from openpyxl import load_workbook

    workbook = api.get("/api/v1/job-kinds/license-import/template/", {"file_format": "xlsx"})
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content), read_only=True).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[0] == "Username"
    assert b"<rows>" in api.get("/api/v1/job-kinds/license-import/example/", {"file_format": "xml"}).content
    refused = api.get("/api/v1/job-kinds/license-import/template/", {"file_format": "pdf"})
    assert refused.status_code == 400 and "csv, txt, xml, xml-2003, xlsx" in refused.json()["detail"]


def test_a_licences_user_and_type_cannot_be_changed_through_the_api(api, rn):
    licence = License.objects.create(user=UserFactory(username="ann"), license_type=rn, number="RN-1")
    response = api.patch(f"/api/v1/licenses/{licence.pk}/", {"username": "ben"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "fixed_field"
