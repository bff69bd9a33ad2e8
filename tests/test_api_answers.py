"""What the API answers when it refuses, as its schema says: one shape per refusal, strict inputs, pages
as page objects and files in their own content types (each found by the schemathesis run)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from credentials.models import Award, License, LicenseType
from learning.models import Activity

from .factories import AwardFactory, UserFactory
from .test_api import token_client


@pytest.fixture
def root(db) -> APIClient:
    return token_client(UserFactory(username="root", is_superuser=True, is_staff=True))


@pytest.fixture
def licence(db) -> License:
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    return License.objects.create(user=UserFactory(username="ann"), license_type=rn, number="RN-1")


def problems(response) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [(e["code"], e["column"]) for e in response.json()["errors"]]


def test_an_address_under_the_api_that_matches_nothing_is_a_json_404(root):
    for path in ("/api/v1/licenses/null/", "/api/v1/no-such-list/", "/api/v1/awards/-1/"):
        response = root.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert "/api/docs/" in response.json()["detail"]


def test_a_misspelt_field_is_refused_by_name_and_changes_nothing(root, licence):
    response = root.patch(f"/api/v1/licenses/{licence.pk}/", {"expiry_date": "2030-01-01"}, format="json")

    assert response.status_code == 400
    assert problems(response) == [("invalid", "expiry_date")]
    assert (
        "its fields are number, issuing_authority, issue_date, expiration_date" in response.json()["detail"]
    )
    licence.refresh_from_db()
    assert licence.expiration_date is None


def test_a_json_value_of_the_wrong_type_is_refused_not_converted(root, licence):
    response = root.patch(f"/api/v1/licenses/{licence.pk}/", {"number": 5}, format="json")

    assert response.status_code == 400
    assert "number must be text, not int 5" in response.json()["detail"]
    licence.refresh_from_db()
    assert licence.number == "RN-1"


def test_a_licences_owner_still_cannot_change_and_says_why(root, licence):
    response = root.patch(f"/api/v1/licenses/{licence.pk}/", {"username": "ben"}, format="json")

    assert response.status_code == 400 and problems(response) == [("fixed_field", "username")]
    assert "cannot change: delete it and add another" in response.json()["detail"]


@pytest.mark.parametrize("page", ["0", "abc", "", "-3"])
def test_a_page_that_is_not_a_whole_number_from_1_is_refused(root, licence, page):
    response = root.get(f"/api/v1/licenses/?page={page}")

    assert response.status_code == 400 and problems(response) == [("invalid", "page")]
    assert f"not '{page}'" in response.json()["detail"]


def test_the_licences_list_is_a_page_object_and_a_page_past_the_end_is_404(root, licence):
    listed = root.get("/api/v1/licenses/").json()
    assert listed["count"] == 1 and listed["next"] is None
    assert [row["number"] for row in listed["results"]] == ["RN-1"]

    assert root.get("/api/v1/licenses/?page=2").status_code == 404


def test_a_type_or_status_that_is_not_one_is_refused_with_the_choices(root):
    Activity.objects.create(type="course", title="Hand hygiene", external_reference="HH-1")

    wrong_type = root.get("/api/v1/activities/?type=webinar")
    blank_status = root.get("/api/v1/enrollments/?status=")
    blank_date = root.get("/api/v1/jobs/?created_before=")

    assert wrong_type.status_code == 400 and "type must be one of course" in wrong_type.json()["detail"]
    assert blank_status.status_code == 400 and "status must be one of" in blank_status.json()["detail"]
    assert blank_date.status_code == 400 and "YYYY-MM-DD, not ''" in blank_date.json()["detail"]
    assert root.get("/api/v1/activities/?type=course").json()["count"] == 1


def test_unassigning_an_award_twice_is_a_conflict(root):
    award = AwardFactory()
    assert root.delete(f"/api/v1/awards/{award.pk}/").status_code == 204

    again = root.delete(f"/api/v1/awards/{award.pk}/")

    assert again.status_code == 409 and problems(again) == [("not_active", None)]
    assert Award.objects.get(pk=award.pk).status == "removed"


def test_a_serializers_refusal_comes_in_the_problems_shape(root):
    response = root.post("/api/v1/external-training/", {"user_id": "U1"}, format="json")

    assert response.status_code == 400
    assert set(problems(response)) == {("required", "external_activity"), ("required", "completed_on")}
    assert response.json()["errors_total"] == 2


def test_a_job_is_uploaded_as_a_multipart_form_only(root):
    response = root.post("/api/v1/jobs/", {"kind": "certification-removal", "title": "x"}, format="json")
    assert response.status_code == 415 and "application/json" in response.json()["detail"]


def test_the_schema_documents_the_refusals_pages_and_file_types():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    licences = paths["/api/v1/licenses/"]["get"]["responses"]
    assert licences["200"]["content"]["application/json"]["schema"]["$ref"].endswith("PaginatedLicenseList")
    assert {"400", "401", "403", "404", "429"} <= set(licences)
    assert "Retry-After" in licences["429"]["headers"]
    template = paths["/api/v1/job-kinds/{kind}/template/"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "text/plain", "application/xml"} <= set(template)
    assert "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in template
    assert "409" in paths["/api/v1/awards/{id}/"]["delete"]["responses"]
