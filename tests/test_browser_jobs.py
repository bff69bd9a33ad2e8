"""The Jobs list in a real browser (system Chromium) at 1280 and 375 px: a 100-character title
without a space wraps inside its cell, so the other columns stay on the screen; the job type is
picked among the other filters."""

from __future__ import annotations

import re

import pytest

# Playwright's names come through test_browser, so that a missing Playwright is its skip.
from . import test_browser as shared
from .factories import make_csv, removal_rows
from .test_api import submit
from .test_browser import NARROW, WIDE, expect, expect_fits_the_screen, open_page, shot, sign_in

allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

pytestmark = pytest.mark.django_db(transaction=True)
LONG_TITLE = "Q4-leavers-" + "x" * 89


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_a_long_title_wraps_and_every_column_stays_on_screen(
    browser, live_server, width, alice, certification, holders
):
    for title in (LONG_TITLE, "March audit"):
        submit(alice, make_csv(removal_rows(certification, holders[:2])), title, validate_only=True)

    page = open_page(browser, live_server, width)
    sign_in(page, "alice")
    page.goto("/jobs/")
    page.get_by_label("Job type").select_option(label="Certification removal")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    expect_fits_the_screen(page)
    # The table needs no sideways scroll of its own: the long title wraps instead of pushing Created
    # Date, Status and View Details out of sight.
    page.wait_for_function(
        "() => { const box = document.querySelector('.table-wrap'); return box.scrollWidth <= box.clientWidth; }"
    )
    expect(page.locator("tbody tr", has_text="Q4-leavers-").get_by_text("Verified")).to_be_visible()
    shot(page, "jobs-long-title")
    page.context.close()


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_the_dashboards_charts_fit_and_their_bars_open_the_jobs_they_count(
    browser, live_server, width, alice, certification, holders
):
    submit(alice, make_csv(removal_rows(certification, holders[:2])), "Leavers", validate_only=True)
    page = open_page(browser, live_server, width)
    sign_in(page, "alice")
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(2)
    expect(charts.nth(1).get_by_role("img")).to_have_accessible_name(re.compile(r"Verified 1"))
    expect_fits_the_screen(page)
    shot(page, "dashboard-charts")
    charts.nth(1).locator("g.status-verified a").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Leavers")
    page.context.close()


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_editing_a_certifications_validity_in_the_browser(browser, live_server, width):
    from access.permissions import MANAGE_CERTIFICATIONS, VIEW_CERTIFICATIONS
    from credentials.models import Certification

    from .factories import CertificationFactory, UserFactory, grant

    grant(UserFactory(username="cara"), MANAGE_CERTIFICATIONS, VIEW_CERTIFICATIONS)
    cert = CertificationFactory(code="CERT-BLS", title="Basic Life Support", validity_days=730)
    page = open_page(browser, live_server, width)
    sign_in(page, "cara")
    page.goto(f"/certifications/{cert.pk}/users/")
    page.get_by_role("link", name="Edit certification").click()
    validity = page.get_by_label("Validity (days)")
    expect(validity).to_have_value("730")
    always = page.get_by_label("Always valid (awards never expire)")
    always.check()
    expect(validity).to_be_disabled()
    always.uncheck()
    expect(validity).to_have_value("730")
    validity.fill("365")
    expect_fits_the_screen(page)
    shot(page, "certification-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("ul.messages")).to_have_text("Certification CERT-BLS is saved.")
    assert Certification.objects.get(pk=cert.pk).validity_days == 365
    page.context.close()
