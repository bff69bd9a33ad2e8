"""A list longer than CERTDESK_EXACT_COUNT_ROWS says "more than" instead of counting every row, and
still pages on: Next, a deep page and the API's pages all reach rows past the count."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from credentials.models import Award, License, LicenseType
from people.models import OrgUnit, User

from .factories import CertificationFactory, UserFactory, award_many

HOLDERS = 260


@pytest.fixture
def holders_list(db, settings):
    """Awarded Users (50 a page) of a certification with 260 holders, counted exactly up to 40 rows
    and then to one page past the page asked for."""
    settings.CERTDESK_EXACT_COUNT_ROWS = 40
    settings.CERTDESK_COUNT_PAGES_AHEAD = 1
    certification = CertificationFactory(code="CERT-BIG")
    award_many(certification, [UserFactory(user_id=f"H{n:04d}") for n in range(HOLDERS)])
    root = User.objects.create_superuser("root", "root@example.test", "x", user_id="ROOT")
    client = Client()
    client.force_login(root)
    return lambda page: client.get(
        f"/certifications/{certification.pk}/users/", {"page": page}
    ).content.decode()


def shown(body: str) -> list[str]:
    return re.findall(r">(H\d{4})<", body)


def test_the_first_page_of_a_long_list_says_more_than_instead_of_counting_every_row(holders_list):
    body = holders_list(1)
    assert "Page 1 of many (more than 100 in all)" in body
    assert "More than 100 users hold this certification." in body
    assert shown(body)[:2] == ["H0000", "H0001"]
    assert 'rel="next"' in body


def test_a_deep_page_of_a_long_list_shows_its_rows_and_the_way_on(holders_list):
    body = holders_list(3)
    assert "Page 3 of many (more than 200 in all)" in body
    assert shown(body)[0] == "H0100"
    assert 'rel="next"' in body and 'rel="prev"' in body


def test_near_its_end_a_long_list_is_counted_exactly_and_its_last_page_ends_it(holders_list):
    assert "Page 5 of 6 (260 in all)" in holders_list(5)
    last = holders_list(6)
    assert shown(last)[-1] == f"H{HOLDERS - 1:04d}"
    assert 'rel="next"' not in last


def test_a_short_list_is_counted_exactly(db, settings):
    settings.CERTDESK_EXACT_COUNT_ROWS = 40
    certification = CertificationFactory()
    award_many(certification, UserFactory.create_batch(60))
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "x", user_id="ROOT"))
    assert (
        "Page 1 of 2 (60 in all)" in client.get(f"/certifications/{certification.pk}/users/").content.decode()
    )


def test_the_api_says_whether_its_count_is_exact(db, settings):
    settings.CERTDESK_EXACT_COUNT_ROWS = 40
    settings.CERTDESK_COUNT_PAGES_AHEAD = 1
    certification = CertificationFactory()
    award_many(certification, UserFactory.create_batch(HOLDERS))
    api = APIClient()
    root = User.objects.create_superuser("root", "root@example.test", "x", user_id="ROOT")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=root).key}")
    url = f"/api/v1/certifications/{certification.pk}/awards/"
    first = api.get(url).json()  # 50 a page: counted to 100 rows
    assert (first["count"], first["count_exact"], len(first["results"])) == (100, False, 50)
    assert first["next"]
    last = api.get(url, {"page": 6}).json()  # counted to 350: all 260 found
    assert (last["count"], last["count_exact"], len(last["results"])) == (HOLDERS, True, 10)
    assert last["next"] is None


@pytest.mark.parametrize("sort", ["user_id", "-user_id", "username", "-username"])
def test_a_certification_held_by_many_lists_its_holders_in_order_and_nobody_else(db, settings, sort):
    """Above CERTDESK_SORTED_ROWS_AT_MOST holders the page walks the users in order instead of
    sorting the holders: the same holders, in the same order, without removed awards or other
    certifications' holders."""
    settings.CERTDESK_SORTED_ROWS_AT_MOST = 5
    certification, other = CertificationFactory(code="CERT-BIG"), CertificationFactory(code="CERT-OTHER")
    holders = [UserFactory(user_id=f"H{n:04d}", username=f"holder{(n * 7) % 30:02d}") for n in range(30)]
    award_many(certification, holders[:20])
    award_many(other, holders[20:])
    Award.objects.filter(certification=certification, user__in=holders[:3]).update(status="removed")
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "x", user_id="ROOT"))
    body = client.get(f"/certifications/{certification.pk}/users/", {"sort": sort}).content.decode()
    key = (lambda u: u.user_id) if sort.lstrip("-") == "user_id" else (lambda u: u.username)
    expected = sorted(holders[3:20], key=key, reverse=sort.startswith("-"))
    assert shown(body) == [u.user_id for u in expected]
    assert "17 users hold this certification." in body


def _licences_page(client: Client, settings, walk_above: int, **query: object) -> list[str]:
    settings.CERTDESK_SORTED_ROWS_AT_MOST = walk_above
    body = client.get("/licences/", query).content.decode()
    return re.findall(r"<td>(L\d{3}-\d)</td>", body)


@pytest.mark.parametrize(
    "query",
    [{}, {"page": 2}, {"page": 3}, {"status": "expired"}, {"unit": "DIV"}, {"sort": "-username"}],
    ids=["first page", "second page", "last page", "expired", "a unit", "username descending"],
)
def test_a_long_licence_list_walked_in_username_order_shows_what_the_sorted_list_shows(db, settings, query):
    """Licences (50 a page) of 40 learners with up to four each: a list longer than
    CERTDESK_SORTED_ROWS_AT_MOST is paged by walking the learners in username order, and every page
    holds the same licences in the same order as sorting them all gives."""
    division = OrgUnit.objects.create(code="DIV", name="Division")
    types = [LicenseType.objects.create(code=f"T{n}", name=f"Type {n}") for n in range(4)]
    today = dt.date.today()
    for n in range(40):
        # usernames in another order than the users' ids, some learners without any licence
        learner = UserFactory(username=f"learner{(n * 17) % 40:02d}", user_id=f"P{n:03d}")
        if n % 2:
            learner.org_units.add(division)
        for t in types[: n % 5]:
            License.objects.create(
                user=learner,
                license_type=t,
                number=f"L{n:03d}-{t.code[1]}",
                expiration_date=today + dt.timedelta(days=-5 if (n + int(t.code[1])) % 3 == 0 else 400),
            )
    if "unit" in query:
        query = {**query, "unit": division.pk}
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "x", user_id="ROOT"))
    sorted_whole = _licences_page(client, settings, 10_000, **query)
    assert sorted_whole, "the page lists licences"
    assert _licences_page(client, settings, 3, **query) == sorted_whole
