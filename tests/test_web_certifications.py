"""Certifications pages as an administrator sees them: the list with holder counts, a certification's
View Users page, and its Export to CSV, which the Certification Removal Tool accepts unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access.permissions import VIEW_CERTIFICATIONS
from bulk import services, worker
from bulk.models import Job
from credentials.models import Award, Certification
from people.models import User

from .factories import AwardFactory, CertificationFactory, UserFactory, award_many, grant

EXPORT_HEADER = "Certification ID,User ID,Username,First name,Last name,Issue date,Expiration date"


class _Tables(HTMLParser):
    """The body rows of a page's tables, as the text of their cells; visually hidden text left out."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self._in_tbody = False
        self._cell: list[str] | None = None
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self._hidden_depth:
            self._hidden_depth += 1
        elif "skip" in classes:
            self._hidden_depth = 1
        if tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.rows.append([])
        elif tag == "td" and self._in_tbody:
            self._cell = []
        elif tag == "a" and self._in_tbody:
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden_depth:
            self._hidden_depth -= 1
        if tag == "tbody":
            self._in_tbody = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._hidden_depth:
            self._cell.append(data)


def table(response) -> _Tables:
    assert response.status_code == 200
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser


@pytest.fixture
def viewer(db) -> User:
    """May view certifications, but not remove users from them."""
    return grant(UserFactory(username="vera", user_id="ADM-VERA"), VIEW_CERTIFICATIONS)


@pytest.fixture
def removed_holder(certification: Certification) -> User:
    """Held CERT-042 once; the award was removed."""
    award = AwardFactory(certification=certification, user=UserFactory(username="gone", last_name="Removed"))
    Award.objects.filter(pk=award.pk).update(status=Award.Status.REMOVED)
    return award.user


# The list ---------------------------------------------------------------------------------------


def test_list_shows_each_certification_with_its_holder_count(
    client, alice, certification, holders, removed_holder
):
    forever = CertificationFactory(code="CERT-100", title="Fire Safety Awareness", validity_days=None)
    AwardFactory(certification=forever, always_valid=True, expiration_date=None)
    CertificationFactory(code="CERT-200", title="Manual Handling", validity_days=1)
    client.force_login(alice)

    page = table(client.get(reverse("web:certifications")))

    assert page.rows == [
        ["CERT-042", "Basic Life Support", "365 days", "20"],  # the removed award is not counted
        ["CERT-100", "Fire Safety Awareness", "Always valid", "1"],
        ["CERT-200", "Manual Handling", "1 day", "0"],
    ]
    assert page.links == [
        reverse("web:certification-users", args=[certification.pk]),
        reverse("web:certification-users", args=[forever.pk]),
        reverse("web:certification-users", args=[Certification.objects.get(code="CERT-200").pk]),
    ]


def test_list_counts_holders_in_one_query_whatever_the_number_of_certifications(client, alice):
    client.force_login(alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("web:certifications")).status_code == 200
        return len(captured)

    for _ in range(2):
        award_many(CertificationFactory(), UserFactory.create_batch(2))
    queries()  # the first request of a session renews it (a write); the ones after do not
    few = queries()
    for _ in range(8):
        award_many(CertificationFactory(), UserFactory.create_batch(2))
    assert queries() == few


def test_list_searches_by_certification_id_or_title(client, alice, certification):
    CertificationFactory(code="FIRE-1", title="Fire Safety Awareness")
    client.force_login(alice)
    url = reverse("web:certifications")

    assert [row[0] for row in table(client.get(url, {"q": "life support"})).rows] == ["CERT-042"]
    assert [row[0] for row in table(client.get(url, {"q": "fire-"})).rows] == ["FIRE-1"]
    response = client.get(url, {"q": "nothing like it"})
    assert table(response).rows == [["No certifications match “nothing like it”."]]
    assert 'value="nothing like it"' in response.content.decode()


def test_list_paginates_by_25(client, alice):
    CertificationFactory.create_batch(30)
    client.force_login(alice)
    url = reverse("web:certifications")

    first = client.get(url)
    assert len(table(first).rows) == 25
    assert "Page 1 of 2 (30 in all)" in first.content.decode()
    assert len(table(client.get(url, {"page": 2})).rows) == 5


# View Users -------------------------------------------------------------------------------------


def test_view_users_shows_the_holders_with_their_dates(client, alice, certification, removed_holder):
    ann = UserFactory(user_id="U-ANN", username="ann", first_name="Ann", last_name="Archer")
    ben = UserFactory(user_id="U-BEN", username="ben", first_name="Ben", last_name="Baker")
    today = dt.date.today()
    issued, expires = today - dt.timedelta(days=295), today + dt.timedelta(days=70)
    AwardFactory(certification=certification, user=ann, issue_date=issued, expiration_date=expires)
    AwardFactory(
        certification=certification,
        user=ben,
        issue_date=dt.date(2026, 3, 5),
        always_valid=True,
        expiration_date=None,
        association_type="external_training",
        external_activity="Regional day",
    )
    client.force_login(alice)

    response = client.get(reverse("web:certification-users", args=[certification.pk]))

    assert table(response).rows == [
        [
            "U-ANN",
            "ann",
            "Ann",
            "Archer",
            issued.isoformat(),
            "70",
            expires.isoformat(),
            "Manually awarded",
            "Active",
        ],
        [
            "U-BEN",
            "ben",
            "Ben",
            "Baker",
            "2026-03-05",
            "—",
            "Always valid",
            "External training activity: Regional day",
            "Active",
        ],
    ]
    html = response.content.decode()
    assert "CERT-042 — Basic Life Support</h1>" in html
    assert "2 users hold this certification." in html
    assert removed_holder.username not in html
    for header in (
        "User ID",
        "Username",
        "First Name",
        "Last Name",
        "Issue Date",
        "Days left to renew",
        "Expiration Date",
        "Association type",
        "Status",
    ):
        assert re.search(rf">{header}( ▲| ▼)?(</a>)?</th>", html), header  # sortable ones are links
    assert f'href="{reverse("web:certification-export", args=[certification.pk])}"' in html


def test_view_users_searches_user_id_username_and_names(client, alice, certification):
    people = [
        UserFactory(user_id="U-1001", username="jsmith", first_name="Joan", last_name="Smith"),
        UserFactory(user_id="U-1002", username="pkhan", first_name="Priya", last_name="Khan"),
        UserFactory(user_id="X-7", username="mlopez", first_name="Maria", last_name="Lopez"),
    ]
    award_many(certification, people)
    client.force_login(alice)
    url = reverse("web:certification-users", args=[certification.pk])

    def found(search: str) -> list[str]:
        return [row[1] for row in table(client.get(url, {"q": search})).rows]

    assert found("U-100") == ["jsmith", "pkhan"]  # User ID
    assert found("MLOP") == ["mlopez"]  # username, any case
    assert found("priya") == ["pkhan"]  # first name
    assert found("smith") == ["jsmith"]  # last name (and username)
    nobody = table(client.get(url, {"q": "nobody"})).rows
    assert nobody == [["No users who hold this certification match “nobody”."]]


def test_view_users_paginates_60_holders_on_2_pages(client, alice, certification):
    award_many(certification, UserFactory.create_batch(60))
    client.force_login(alice)
    url = reverse("web:certification-users", args=[certification.pk])

    first = client.get(url)
    assert len(table(first).rows) == 50
    assert "Page 1 of 2 (60 in all)" in first.content.decode()
    second = client.get(url, {"page": 2})
    assert len(table(second).rows) == 10
    seen = {row[0] for row in table(first).rows} | {row[0] for row in table(second).rows}
    assert len(seen) == 60

    searched = client.get(url, {"q": "user"}).content.decode()  # every factory username
    assert 'href="?q=user&amp;page=2"' in searched  # the next page keeps the search


def test_remove_users_button_only_for_those_who_may_remove(client, alice, viewer, certification, holders):
    url = reverse("web:certification-users", args=[certification.pk])
    removal = f'href="{reverse("web:removal-new")}?certification=CERT-042"'

    client.force_login(alice)
    html = client.get(url).content.decode()
    assert removal in html
    assert "Remove users from this certification" in html

    client.force_login(viewer)
    html = client.get(url).content.decode()
    assert "Remove users from this certification" not in html
    assert removal not in html
    assert "Export to CSV" in html


# Export to CSV ----------------------------------------------------------------------------------


def test_export_is_an_attachment_of_the_active_holders(client, alice, certification, holders, removed_holder):
    client.force_login(alice)

    response = client.get(reverse("web:certification-export", args=[certification.pk]))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="CERT-042-awarded-users.csv"'
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0] == EXPORT_HEADER
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert sorted(row[1] for row in rows) == sorted(u.user_id for u in holders)
    assert {row[0] for row in rows} == {"CERT-042"}
    assert {(row[5], row[6]) for row in rows} == {("2026-01-15", "2027-01-15")}
    assert removed_holder.user_id not in text


def test_an_export_named_outside_ascii_keeps_its_name_on_the_page_and_in_the_api(client, alice):
    # RFC 5987: a browser saves the file under the certification's own code, accents and all.
    certification = CertificationFactory(code="SÉCU-1")
    client.force_login(alice)

    page = client.get(reverse("web:certification-export", args=[certification.pk]))
    api = client.get(f"/api/v1/certifications/{certification.pk}/awards/export/")

    assert page.status_code == api.status_code == 200
    expected = "attachment; filename*=utf-8''S%C3%89CU-1-awarded-users.csv"
    assert page["Content-Disposition"] == api["Content-Disposition"] == expected


def test_exported_file_uploaded_unchanged_removes_exactly_those_holders(
    client, alice, certification, holders, removed_holder
):
    other = CertificationFactory(code="CERT-777")
    award_many(other, holders[:5])
    client.force_login(alice)
    response = client.get(reverse("web:certification-export", args=[certification.pk]))
    data = b"".join(response.streaming_content)

    services.submit("certification-removal", data, "export.csv", actor=alice, title="x", start=True)
    job = worker.run_next("w")

    assert job is not None
    assert job.status == Job.Status.PROCESSED
    assert job.succeeded == len(holders) and job.failed == 0
    assert not Award.objects.active().filter(certification=certification).exists()
    removed = Award.objects.filter(certification=certification, removed_by_job=job)
    assert sorted(removed.values_list("user_id", flat=True)) == sorted(u.pk for u in holders)
    assert Award.objects.get(user=removed_holder).removed_by_job is None  # removed before, untouched
    assert Award.objects.active().filter(certification=other).count() == 5


# Access -----------------------------------------------------------------------------------------


def test_without_the_permission_every_page_is_forbidden(client, mallory, certification, holders):
    client.force_login(mallory)
    for url in (
        reverse("web:certifications"),
        reverse("web:certification-users", args=[certification.pk]),
        reverse("web:certification-export", args=[certification.pk]),
    ):
        assert client.get(url).status_code == 403, url


def test_signed_out_visitors_are_sent_to_sign_in(client, certification):
    response = client.get(reverse("web:certification-users", args=[certification.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unknown_certification_is_not_found(client, alice, certification):
    client.force_login(alice)
    missing = certification.pk + 1000
    assert client.get(reverse("web:certification-users", args=[missing])).status_code == 404
    assert client.get(reverse("web:certification-export", args=[missing])).status_code == 404


def test_navigation_shows_certifications(client, alice, viewer):
    client.force_login(alice)
    html = client.get(reverse("web:certifications")).content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    assert f'href="{reverse("web:certifications")}"' in nav
    links = dict(re.findall(r"<a ([^>]*)>([^<]*)</a>", nav)[i][::-1] for i in range(2))
    assert 'aria-current="page"' in links["Certifications"]  # the current page is marked
    assert "aria-current" not in links["Certification Removal Tool"]

    client.force_login(viewer)
    html = client.get(reverse("web:certifications")).content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    assert ">Certifications</a>" in nav
    assert "Certification Removal Tool" not in nav
