"""Roles in a real browser (system Chromium) at 1280 and 375 px: create a role, give it a permission
restricted to one division, add a member, preview what they may do, and see its effect as them."""

from __future__ import annotations

import pytest

from access.permissions import MANAGE_ROLES
from credentials.models import License, LicenseType

# Playwright's names come through test_browser, so that a missing Playwright is its skip.
from . import test_browser as shared
from .factories import OrgUnitFactory, UserFactory, grant
from .test_browser import NARROW, WIDE, expect, expect_fits_the_screen, open_page, shot, sign_in

allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_a_role_with_a_constrained_grant_takes_effect_for_its_member(browser, live_server, width):
    div_a, div_b = OrgUnitFactory(name="Division A"), OrgUnitFactory(name="Division B")
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    for username, unit in (("ann.a", div_a), ("ben.b", div_b)):
        learner = UserFactory(username=username)
        learner.org_units.add(unit)
        License.objects.create(user=learner, license_type=rn, number=f"RN-{username}")
    grant(UserFactory(username="rhea"), MANAGE_ROLES)
    UserFactory(username="sue", first_name="Sue", last_name="Pervisor")

    page = open_page(browser, live_server, width)
    sign_in(page, "rhea")
    page.goto("/access/roles/")
    page.get_by_role("link", name="New role").click()
    page.get_by_label("Name", exact=True).fill("Division A licences")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Division A licences")

    page.get_by_label("Permission", exact=True).select_option(label="Manage licences")
    page.get_by_label("Constraint", exact=True).select_option(label="Restrict to Organizational Units")
    page.get_by_label("Org units (for Restrict to Organizational Units)").select_option(label="Division A")
    page.get_by_role("button", name="Give permission").click()
    expect(page.locator("ul.messages")).to_contain_text("may now manage licences")
    page.get_by_label("Add a member").fill("sue")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("link", name="Preview what sue may do").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Manage licences")
    expect(preview).to_contain_text("1 person in Division A")
    expect_fits_the_screen(page)
    shot(page, "role")
    page.goto("/access/roles/")
    expect(page.locator("tbody tr")).to_contain_text(["Division A licences"])
    expect_fits_the_screen(page)
    shot(page, "roles")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "sue")
    page.goto("/licences/")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ann.a")
    page.context.close()
