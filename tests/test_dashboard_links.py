"""The dashboard's counts open the lists they count; Awarded Users filters "expiring within N days"
and sorts by its columns."""

from __future__ import annotations

import datetime as dt
import re

from django.test import Client
from django.utils import timezone

from credentials.models import Award

from .factories import AwardFactory, CertificationFactory, UserFactory, make_csv, removal_rows
from .test_api import submit


def rows_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [award.user.user_id for award, *_ in response.context["rows"]]


def test_each_expiring_count_opens_awarded_users_expiring_within_those_days(alice):
    today = timezone.localdate()
    cert = CertificationFactory(code="CERT-EXP", title="Expiring soon")
    for n, days in enumerate((5, 25, 45, 80, 200)):
        AwardFactory(
            certification=cert,
            user=UserFactory(user_id=f"L-{n}"),
            issue_date=today - dt.timedelta(days=300),
            expiration_date=today + dt.timedelta(days=days),
        )
    AwardFactory(
        certification=cert, user=UserFactory(user_id="L-OLD"), expiration_date=today - dt.timedelta(days=3)
    )
    client = Client()
    client.force_login(alice)

    home = client.get("/").content.decode()
    links = re.findall(rf'href="(/certifications/{cert.pk}/users/\?status=expiring&amp;days=(\d+))"', home)
    assert [days for _, days in links] == ["30", "60", "90"]
    counts = {}
    for href, days in links:
        listed = client.get(href.replace("&amp;", "&"))
        counts[days] = rows_of(listed)
        assert f"expiring within {days} days" in listed.content.decode()
    assert counts == {"30": ["L-0", "L-1"], "60": ["L-0", "L-1", "L-2"], "90": ["L-0", "L-1", "L-2", "L-3"]}


def test_awarded_users_sort_by_each_sortable_column_both_ways(alice):
    cert = CertificationFactory(code="CERT-S")
    today = timezone.localdate()
    for user_id, issued in (("B-2", 3), ("A-1", 1), ("C-3", 2)):
        AwardFactory(
            certification=cert,
            user=UserFactory(user_id=user_id),
            issue_date=today - dt.timedelta(days=issued),
        )
    client = Client()
    client.force_login(alice)
    url = f"/certifications/{cert.pk}/users/"

    assert rows_of(client.get(url)) == ["A-1", "B-2", "C-3"]
    assert rows_of(client.get(url, {"sort": "-user_id"})) == ["C-3", "B-2", "A-1"]
    assert rows_of(client.get(url, {"sort": "issue_date"})) == ["B-2", "C-3", "A-1"]
    page = client.get(url, {"sort": "issue_date", "q": ""}).content.decode()
    assert 'aria-sort="ascending"' in page and "sort=-issue_date" in page  # its link reverses it
    assert rows_of(client.get(url, {"sort": "nonsense"})) == ["A-1", "B-2", "C-3"]
    assert Award.objects.count() == 3


def test_the_dashboard_draws_expirations_by_month_and_jobs_by_outcome_as_svg(alice, certification, holders):

    today = timezone.localdate()
    next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    Award.objects.filter(pk__in=[a.pk for a in Award.objects.all()[:3]]).update(expiration_date=next_month)
    submit(alice, make_csv(removal_rows(certification, holders[:1])), "One", validate_only=True)
    client = Client()
    client.force_login(alice)
    response = client.get("/")
    html = response.content.decode()

    months, jobs = response.context["charts"]
    assert len(months.bars) == 12 and months.bars[1].label == next_month.strftime("%b %y")
    assert months.bars[1].value >= 3 and months.bars[1].height == max(b.height for b in months.bars)
    verified = next(bar for bar in jobs.bars if bar.label == "Verified")
    assert verified.value == 1 and "status=verified" in verified.href
    assert html.count("<svg ") == 2 and "<script" not in html.split("<svg ")[1]
    since = (today - dt.timedelta(days=29)).isoformat()
    listed = client.get(verified.href)
    assert [job.title for job in listed.context["page"]] == ["One"]
    assert f"start={since}" in verified.href


def test_licences_and_jobs_sort_by_their_columns_both_ways(alice, certification, holders):

    from access.permissions import MANAGE_LICENSES
    from credentials.models import License, LicenseType

    from .factories import grant

    manager = grant(UserFactory(username="mona"), MANAGE_LICENSES)
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    bls = LicenseType.objects.create(code="BLS", name="Basic Life Support", issuing_authority="AHA")
    for username, licence_type, number in (("zed", rn, "RN-1"), ("amy", bls, ""), ("kim", rn, "RN-2")):
        License.objects.create(user=UserFactory(username=username), license_type=licence_type, number=number)
    client = Client()
    client.force_login(manager)

    def licence_rows(**params: str) -> list[str]:
        return [licence.user.username for licence, _ in client.get("/licences/", params).context["rows"]]

    assert licence_rows() == ["amy", "kim", "zed"]
    assert licence_rows(sort="-username") == ["zed", "kim", "amy"]
    assert licence_rows(sort="licence") == ["amy", "kim", "zed"]  # BLS first, then RN by username
    assert licence_rows(sort="-number") == ["kim", "zed", "amy"]

    for title in ("Bravo", "Alpha", "Charlie"):
        submit(alice, make_csv(removal_rows(certification, holders[:1])), title, validate_only=True)
    jobs = Client()
    jobs.force_login(alice)

    def job_titles(url: str, **params: str) -> list[str]:
        return [job.title for job in jobs.get(url, params).context["page"]]

    assert job_titles("/jobs/") == ["Charlie", "Alpha", "Bravo"]  # newest first
    assert job_titles("/jobs/", sort="title") == ["Alpha", "Bravo", "Charlie"]
    assert job_titles("/tools/certification-removal/", sort="-title") == ["Charlie", "Bravo", "Alpha"]
    page = jobs.get("/jobs/", {"sort": "title", "q": "a"}).content.decode()
    assert 'name="sort" value="title"' in page  # the filters keep the order
