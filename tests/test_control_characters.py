"""NUL and the other control characters, wherever a request carries them (query string, form fields,
multipart fields, JSON, the path), are answered 400 naming the parameter, never 500: PostgreSQL
refuses NUL in text, so without the check a search for %00 fails inside the database."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from access.permissions import (
    AWARD_CERTIFICATIONS,
    COMPLETE_ENROLMENTS,
    EDIT_ACTIVITIES,
    EDIT_EMAIL_TEMPLATES,
    IMPORT_LICENSES,
    IMPORT_UNENROLMENTS,
    MANAGE_CERTIFICATION_REMOVAL,
    MANAGE_LICENSES,
    RECORD_EXTERNAL_TRAINING,
    VIEW_CATALOGUE,
    VIEW_CERTIFICATIONS,
)
from bulk import services
from bulk.models import Job
from credentials.models import Award, License, LicenseType

from .factories import (
    UNENROLMENT_HEADER,
    ActivityFactory,
    CertificationFactory,
    UserFactory,
    award_many,
    enrol,
    grant,
    make_csv,
    removal_rows,
)
from .test_api import token_client

FORM_ENCODED = "application/x-www-form-urlencoded"
WHAT_TO_DO = "Remove the control character and try again."
REFUSED = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]
AWARD_HEADER = (
    "Certification ID",
    "User ID",
    "Issue date",
    "Expiration date",
    "Always valid",
    "Association type",
    "External activity",
)
LICENCE_HEADER = (
    "Username",
    "License code",
    "Number",
    "Issuing authority",
    "Issue date",
    "Expiration date",
    "Action",
)


def message(name: str, code: int = 0, what: str = "Parameter") -> str:
    return f"{what} '{name}' contains a control character (U+{code:04X}), which is not accepted."


@pytest.fixture
def boss(db):
    """An administrator holding every certdesk permission, unconstrained."""
    return grant(
        UserFactory(username="boss", user_id="ADM-BOSS", email="boss@example.test"),
        MANAGE_CERTIFICATION_REMOVAL,
        VIEW_CERTIFICATIONS,
        IMPORT_UNENROLMENTS,
        VIEW_CATALOGUE,
        EDIT_ACTIVITIES,
        EDIT_EMAIL_TEMPLATES,
        AWARD_CERTIFICATIONS,
        COMPLETE_ENROLMENTS,
        RECORD_EXTERNAL_TRAINING,
        IMPORT_LICENSES,
        MANAGE_LICENSES,
    )


@pytest.fixture
def web(boss) -> Client:
    client = Client()
    client.force_login(boss)
    return client


@pytest.fixture
def api(boss) -> APIClient:
    return token_client(boss)


@pytest.fixture
def world(boss) -> dict:
    """One of everything the pages and endpoints list: a certification held by ann, her licence, an
    activity she is enrolled in, and a removal job."""
    ann = UserFactory(username="ann", user_id="U-ANN")
    certification = CertificationFactory(code="CERT-042", title="Basic Life Support")
    [award] = award_many(certification, [ann])
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    licence = License.objects.create(user=ann, license_type=rn, number="RN-1")
    course = ActivityFactory(title="Fire Safety", external_reference="FS-101")
    enrol(course, [ann])
    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, [ann])),
        "removal.csv",
        actor=boss,
        title="Audit clean-up",
    ).job
    return {
        "ann": ann,
        "certification": certification,
        "award": award,
        "licence": licence,
        "course": course,
        "job": job,
    }


def text(response) -> str:
    """The page as a reader sees it: tags dropped, entities undone, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")
    return re.sub(r"\s+", " ", html)


def filled(template: str, world: dict) -> str:
    return template.format(
        job=world["job"].pk,
        certification=world["certification"].pk,
        course=world["course"].pk,
        licence=world["licence"].pk,
    )


# --- The endpoints and pages reported ---------------------------------------------------------------

REPORTED_API = [
    ("/api/v1/users/", "search"),
    ("/api/v1/jobs/", "search"),
    ("/api/v1/certifications/", "search"),
    ("/api/v1/enrollments/", "username"),
    ("/api/v1/licenses/", "username"),
]


@pytest.mark.parametrize(("path", "param"), REPORTED_API)
def test_a_nul_in_an_api_filter_is_a_400_in_the_one_error_shape(api, world, path, param):
    response = api.get(f"{path}?{param}=%00")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == {
        "detail": f"{message(param)} {WHAT_TO_DO}",
        "errors": [
            {
                "code": "invalid_characters",
                "message": message(param),
                "row": None,
                "column": param,
                "value": None,
            }
        ],
        "errors_total": 1,
        "errors_not_shown": 0,
    }
    assert api.get(path, {param: "ann"}).status_code == 200


REPORTED_WEB = ["/jobs/", "/licences/", "/catalogue/"]


@pytest.mark.parametrize("path", REPORTED_WEB)
def test_a_nul_in_a_page_search_is_a_400_page_saying_what_to_do(web, world, path):
    response = web.get(f"{path}?q=%00")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = text(response)
    assert message("q") in page and WHAT_TO_DO in page
    assert "Sign out" in page  # the project's own page, navigation and all
    assert f'href="{path}"' in response.content.decode()  # back to the page without the search
    assert web.get(path, {"q": "ann"}).status_code == 200


# --- Every list endpoint and page that takes a parameter -----------------------------------------

API_PARAMETERS = [
    ("/api/v1/jobs/", "search", "audit"),
    ("/api/v1/jobs/", "kind", "certification-removal"),
    ("/api/v1/jobs/", "status", "draft"),
    ("/api/v1/jobs/", "created_after", "2026-01-01"),
    ("/api/v1/jobs/", "created_before", "2099-01-01"),
    ("/api/v1/jobs/", "page", "1"),
    ("/api/v1/jobs/{job}/rows/", "outcome", "pending"),
    ("/api/v1/job-kinds/certification-removal/template/", "file_format", "csv"),
    ("/api/v1/job-kinds/certification-removal/example/", "file_format", "csv"),
    ("/api/v1/certifications/", "search", "CERT"),
    ("/api/v1/certifications/{certification}/awards/", "search", "ann"),
    ("/api/v1/users/", "search", "ann"),
    ("/api/v1/groups/", "page", "1"),
    ("/api/v1/org-units/", "page", "1"),
    ("/api/v1/activities/", "search", "Fire"),
    ("/api/v1/activities/", "type", "course"),
    ("/api/v1/enrollments/", "activity", "{course}"),
    ("/api/v1/enrollments/", "activity_reference", "FS-101"),
    ("/api/v1/enrollments/", "username", "ann"),
    ("/api/v1/enrollments/", "status", "enrolled"),
    ("/api/v1/enrollments/", "unenrolled_by_job", "{job}"),
    ("/api/v1/license-types/", "page", "1"),
    ("/api/v1/licenses/", "license_code", "RN"),
    ("/api/v1/licenses/", "username", "ann"),
]


@pytest.mark.parametrize(("path", "param", "normal"), API_PARAMETERS)
def test_every_api_parameter_refuses_a_nul_and_takes_a_normal_value(api, world, path, param, normal):
    url = filled(path, world)

    refused = api.get(url, {param: "ann\x00"})
    assert refused.status_code == 400, refused.content
    assert [e["column"] for e in refused.json()["errors"]] == [param]
    assert refused.json()["errors"][0]["message"] == message(param)

    assert api.get(url, {param: filled(normal, world)}).status_code == 200


WEB_PARAMETERS = [
    ("/jobs/", "q", "audit"),
    ("/jobs/", "kind", "certification-removal"),
    ("/jobs/", "status", "draft"),
    ("/jobs/", "date", "2026-01-01"),
    ("/jobs/", "start", "2026-01-01"),
    ("/jobs/", "end", "2099-01-01"),
    ("/jobs/", "page", "1"),
    ("/jobs/{job}/", "outcome", "pending"),
    ("/tools/certification-removal/", "q", "audit"),
    ("/tools/certification-removal/new/", "certification", "CERT-042"),
    ("/certifications/", "q", "CERT"),
    ("/certifications/{certification}/users/", "q", "ann"),
    ("/certifications/{certification}/users/", "status", "removed"),
    ("/certifications/{certification}/award/", "q", "ann"),
    ("/certifications/{certification}/award/search/", "q", "ann"),
    ("/licences/", "q", "RN"),
    ("/licences/", "type", "RN"),
    ("/licences/", "status", "expiring"),
    ("/licences/", "days", "30"),
    ("/licences/", "unit", "1"),
    ("/catalogue/", "q", "Fire"),
    ("/catalogue/", "type", "course"),
    ("/catalogue/unenrolment-imports/", "q", "audit"),
]


@pytest.mark.parametrize(("path", "param", "normal"), WEB_PARAMETERS)
def test_every_page_filter_refuses_a_nul_and_takes_a_normal_value(web, world, path, param, normal):
    url = filled(path, world)

    refused = web.get(url, {param: "ann\x00"})
    assert refused.status_code == 400
    assert message(param) in text(refused) and WHAT_TO_DO in text(refused)

    assert web.get(url, {param: normal}).status_code == 200


def test_the_licence_import_page_refuses_a_nul_in_its_job_parameter(web, world):
    refused = web.get("/licences/import/", {"job": "\x00"})
    assert refused.status_code == 400 and message("job") in text(refused)


@pytest.mark.parametrize("code", REFUSED, ids=[f"U+{c:04X}" for c in REFUSED])
def test_every_c0_control_but_tab_lf_cr_and_del_is_refused(api, world, code):
    response = api.get("/api/v1/users/", {"search": f"a{chr(code)}b"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message("search", code)


@pytest.mark.parametrize("allowed", ["\t", "\n", "\r", "\r\n", "é", "\u00a0", "\u200b", "😀"])
def test_tab_line_breaks_and_other_text_are_accepted(api, web, world, allowed):
    assert api.get("/api/v1/users/", {"search": f"a{allowed}b"}).status_code == 200
    assert web.get("/jobs/", {"q": f"a{allowed}b"}).status_code == 200


def test_every_offending_parameter_is_listed_at_once(api, web, world):
    response = api.get("/api/v1/jobs/?search=%00&kind=%01&status=draft")

    body = response.json()
    assert response.status_code == 400 and body["errors_total"] == 2
    assert {e["column"] for e in body["errors"]} == {"search", "kind"}
    assert body["detail"].startswith("2 parameters or fields contain a control character")

    page = text(web.get("/licences/?q=%00&type=%1F"))
    assert message("q") in page and message("type", 0x1F) in page


def test_a_control_character_in_a_parameter_name_is_refused(api, web, world):
    response = api.get("/api/v1/users/?se%00arch=ann")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "The name of parameter 'se\\u0000arch' contains a control character (U+0000), which is not accepted."
    )
    assert web.get("/jobs/?%07=1").status_code == 400


def test_a_nul_in_the_path_is_refused(api, web, world):
    response = api.get("/api/v1/job-kinds/%00/template/")
    assert response.status_code == 400
    assert "The address contains a control character (U+0000)" in response.json()["detail"]
    assert response.json()["errors"][0]["column"] is None

    page = web.get("/jobs/kinds/certification-removal/tem%00plate.csv")
    assert page.status_code == 400 and "The address contains a control character" in text(page)
    assert 'href="/jobs/kinds' not in page.content.decode()  # no link back to the refused address


@pytest.mark.parametrize(
    "query",
    ["search=%ff", "search=%C0%80", "search=%zz", "search=%", "search=%e2%82", "%ff=1", "search=a%2", "&&=&"],
)
def test_malformed_percent_encoding_and_invalid_utf8_are_not_a_500(api, web, world, query):
    assert api.get(f"/api/v1/users/?{query}").status_code == 200
    assert web.get(f"/jobs/?{query.replace('search', 'q')}").status_code == 200


def test_an_address_that_is_not_utf8_is_not_a_500(web, world):
    assert web.get("/jobs/%ff/").status_code == 404
    assert web.get("/jobs/kinds/%C0%80/template.csv").status_code == 404


def test_a_refused_request_needs_no_sign_in_to_be_answered(db):
    assert Client().get("/jobs/?q=%00").status_code == 400
    assert APIClient().get("/api/v1/users/?search=%00").status_code == 400


# --- Web upload forms: the title and the other fields ---------------------------------------------


def removal_form(world: dict, title: str) -> tuple[str, dict]:
    data = make_csv(removal_rows(world["certification"], [world["ann"]]))
    return "/tools/certification-removal/new/", {
        "title": title,
        "comment": "",
        "file": SimpleUploadedFile("removal.csv", data, content_type="text/csv"),
    }


def unenrolment_form(world: dict, title: str) -> tuple[str, dict]:
    data = make_csv([["ann", "FS-101", "No"]], UNENROLMENT_HEADER)
    return "/catalogue/import-unenrolments/", {
        "title": title,
        "verify_only": "on",
        "file": SimpleUploadedFile("unenrol.csv", data, content_type="text/csv"),
    }


def licence_form(world: dict, title: str) -> tuple[str, dict]:
    data = make_csv([["ann", "RN", "RN-2", "", "", "", "Add"]], LICENCE_HEADER)
    return "/licences/import/", {
        "title": title,  # the page has no title field: the job is named after the file
        "validate_only": "on",
        "file": SimpleUploadedFile("board.csv", data, content_type="text/csv"),
    }


def award_form(world: dict, title: str) -> tuple[str, dict]:
    data = make_csv([["CERT-042", "U-ANN", "2026-06-01", "", "", "", ""]], AWARD_HEADER)
    return "/certifications/award-from-file/", {
        "title": title,
        "validate_only": "on",
        "file": SimpleUploadedFile("awards.csv", data, content_type="text/csv"),
    }


UPLOAD_FORMS = [removal_form, unenrolment_form, licence_form, award_form]


@pytest.mark.parametrize("form", UPLOAD_FORMS, ids=lambda f: f.__name__)
def test_a_nul_in_a_job_title_on_an_upload_form_is_a_400_and_creates_no_job(web, world, form):
    jobs = Job.objects.count()
    url, fields = form(world, "June\x00 clean-up")

    response = web.post(url, fields)

    assert response.status_code == 400
    assert message("title", what="Field") in text(response) and WHAT_TO_DO in text(response)
    assert Job.objects.count() == jobs


@pytest.mark.parametrize("form", UPLOAD_FORMS, ids=lambda f: f.__name__)
def test_a_normal_job_title_on_an_upload_form_still_makes_a_job(web, world, form):
    jobs = Job.objects.count()
    url, fields = form(world, "June clean-up")

    response = web.post(url, fields)

    assert response.status_code == 302, text(response)
    assert Job.objects.count() == jobs + 1


def test_a_control_character_in_the_comment_is_refused_but_tab_and_line_breaks_are_kept(web, world):
    url, fields = removal_form(world, "June clean-up")
    refused = web.post(url, {**fields, "comment": "After the audit\x0c"})
    assert refused.status_code == 400 and message("comment", 0x0C, "Field") in text(refused)
    assert Job.objects.count() == 1

    url, fields = removal_form(world, "June clean-up")
    comment = "After the audit:\r\n\tward 7\n\tward 9"
    accepted = web.post(url, {**fields, "comment": comment})
    assert accepted.status_code == 302, text(accepted)
    assert Job.objects.latest("pk").comment == comment


def test_csrf_still_guards_the_upload_forms_and_the_other_forms(boss, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)
    url, fields = removal_form(world, "June clean-up")

    assert client.post(url, fields).status_code == 403
    assert (
        client.post("/licences/add/", {"username": "ann", "license_type": 1, "number": "RN-9"}).status_code
        == 403
    )
    assert Job.objects.count() == 1 and License.objects.count() == 1


def test_a_nul_in_the_sign_in_form_is_a_400(world):
    form = urlencode({"username": "ann\x00", "password": "secret-pass-123"})
    response = Client().post("/login/", form, content_type=FORM_ENCODED)
    assert response.status_code == 400 and message("username", what="Field") in text(response)


def test_a_multipart_field_read_by_the_csrf_check_is_answered_the_same_way(boss, world):
    """A form that is not one of the upload views has its multipart body read by CsrfViewMiddleware,
    outside any view: the refusal raised there is still answered with the page, not Django's own."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)
    licence = world["licence"]
    url = f"/licences/{licence.pk}/edit/"
    client.get(url)
    token = client.cookies["csrftoken"].value
    fields = {"csrfmiddlewaretoken": token, "username": "ann", "license_type": licence.license_type_id}

    response = client.post(url, {**fields, "number": "RN\x00-1"})  # the test client sends multipart

    assert response.status_code == 400
    assert message("number", what="Field") in text(response) and WHAT_TO_DO in text(response)
    licence.refresh_from_db()
    assert licence.number == "RN-1"
    assert client.post(url, {**fields, "number": "RN-7"}).status_code == 302


def test_a_form_encoded_field_is_refused_and_nothing_is_saved(web, world):
    licence = world["licence"]
    form = urlencode({"username": "ann", "license_type": licence.license_type_id, "number": "RN\x00-1"})
    response = web.post(f"/licences/{licence.pk}/edit/", form, content_type=FORM_ENCODED)

    assert response.status_code == 400 and message("number", what="Field") in text(response)
    licence.refresh_from_db()
    assert licence.number == "RN-1"


# --- The API's bodies: JSON, form-encoded and multipart ------------------------------------------


def test_a_nul_in_a_json_patch_of_a_licence_is_a_400_and_changes_nothing(api, world):
    licence = world["licence"]

    response = api.patch(f"/api/v1/licenses/{licence.pk}/", {"number": "RN\u00002"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "code": "invalid_characters",
            "message": message("number", what="Field"),
            "row": None,
            "column": "number",
            "value": None,
        }
    ]
    licence.refresh_from_db()
    assert licence.number == "RN-1"
    accepted = api.patch(f"/api/v1/licenses/{licence.pk}/", {"number": "RN-2\t"}, format="json")
    assert accepted.status_code == 200, accepted.content


def test_a_nul_in_a_json_patch_of_an_award_is_a_400_and_changes_nothing(api, world):
    award = world["award"]
    before = Award.objects.filter(pk=award.pk).values().get()

    response = api.patch(
        f"/api/v1/awards/{award.pk}/",
        {"association_type": "external_training", "external_activity": "Regional\u0000day"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "external_activity"
    assert Award.objects.filter(pk=award.pk).values().get() == before


def test_nested_json_strings_and_keys_are_checked(api, world):
    response = api.post(
        f"/api/v1/certifications/{world['certification'].pk}/awards/",
        {"users": ["ann", "b\u0001b"], "a\u0000": 1},
        format="json",
    )

    assert response.status_code == 400
    assert [e["column"] for e in response.json()["errors"]] == ["a\\u0000", "users[1]"]
    assert Award.objects.count() == 1


def test_json_that_does_not_parse_is_left_to_the_view(api, world):
    url = f"/api/v1/licenses/{world['licence'].pk}/"
    raw_nul = api.generic("PATCH", url, b'{"number": "RN\x002"}', content_type="application/json")
    broken = api.generic("PATCH", url, b'{"number": "\\u0000', content_type="application/json")
    deep = api.generic("PATCH", url, b"[" * 100_000, content_type="application/json")

    assert {raw_nul.status_code, broken.status_code, deep.status_code} == {400}
    world["licence"].refresh_from_db()
    assert world["licence"].number == "RN-1"


def test_a_form_encoded_api_body_is_checked(api, world):
    licence = world["licence"]
    response = api.patch(f"/api/v1/licenses/{licence.pk}/", "number=RN%002", content_type=FORM_ENCODED)
    assert response.status_code == 400 and response.json()["errors"][0]["column"] == "number"
    licence.refresh_from_db()
    assert licence.number == "RN-1"


def test_a_control_character_in_a_multipart_api_upload_is_a_400_and_creates_no_job(api, world):
    data = make_csv(removal_rows(world["certification"], [world["ann"]]))

    def upload(title: str):
        file = SimpleUploadedFile("removal.csv", data, content_type="text/csv")
        form = {"kind": "certification-removal", "title": title, "file": file}
        return api.post("/api/v1/jobs/", form, format="multipart")

    refused = upload("June\x01")
    assert refused.status_code == 400
    assert refused.json()["errors"][0] == {
        "code": "invalid_characters",
        "message": message("title", 0x01, "Field"),
        "row": None,
        "column": "title",
        "value": None,
    }
    assert Job.objects.count() == 1

    assert upload("June").status_code == 201
    assert Job.objects.count() == 2


def test_the_file_contents_are_not_checked_here(web, world):
    """A file's cells are the job engine's to judge, row by row, with their own messages."""
    url, fields = removal_form(world, "June clean-up")
    fields["file"] = io.BytesIO(b"Certification ID,User ID\nCERT-042,U-ANN\x01\n")
    fields["file"].name = "removal.csv"

    response = web.post(url, fields)

    page = text(response)
    assert "Create a Certification Removal Job" in page  # the engine's answer, on the form's own page
    assert "The request was not accepted" not in page


def test_the_api_error_is_json_even_for_a_page_client(world):
    response = Client().get("/api/v1/certifications/?search=%00", HTTP_ACCEPT="text/html")
    assert response.status_code == 400 and json.loads(response.content)["errors"][0]["column"] == "search"
