"""The approval flow in a real browser (system Chromium) with two administrators: alice's removal of
more rows than the policy allows waits; vera, who may approve, sees it and approves it; it runs.
Screenshots of the waiting job as each of them sees it."""

from __future__ import annotations

import pytest

from access.permissions import APPROVE_JOBS, MANAGE_CERTIFICATION_REMOVAL, VIEW_CERTIFICATIONS
from bulk import worker
from bulk.models import Job

# Playwright's names come through test_browser, so that a missing Playwright is its skip.
from . import test_browser as shared
from .factories import UserFactory, grant, make_csv, removal_rows
from .test_api import submit
from .test_browser import NARROW, WIDE, expect, expect_fits_the_screen, open_page, shot, sign_in

allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_a_large_removal_waits_for_a_second_administrator_who_approves_it(
    browser, live_server, width, settings, alice, certification, holders
):
    settings.CERTDESK_APPROVAL_MAX_ROWS = 3
    grant(
        UserFactory(username="vera", first_name="Vera"),
        MANAGE_CERTIFICATION_REMOVAL,
        VIEW_CERTIFICATIONS,
        APPROVE_JOBS,
    )
    job = submit(alice, make_csv(removal_rows(certification, holders[:5])), "Leavers, March")

    page = open_page(browser, live_server, width)
    sign_in(page, "alice")
    page.goto(f"/tools/certification-removal/{job.pk}/confirm/?step=confirm")
    page.get_by_role("button", name="Remove").click()
    expect(page.locator("ul.messages")).to_contain_text("It would change 5 rows")
    expect(page.locator("#job-progress .status")).to_have_text("Awaiting approval")
    approval = page.locator("#approval")
    expect(approval).to_contain_text("they have been emailed")
    expect(approval.get_by_role("button", name="Approve and run")).to_have_count(0)
    expect_fits_the_screen(page)
    shot(page, "approval-creator")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "vera")
    page.goto("/jobs/?status=awaiting_approval")
    page.get_by_role("link", name="Leavers, March").first.click()
    expect(approval).to_contain_text("It would change 5 rows")
    expect_fits_the_screen(page)
    shot(page, "approval-approver")
    # Before deciding, she reviews what it will change, checked now.
    approval.get_by_role("link", name="Review what it will change").click()
    expect(page.locator("#preview-counts")).to_contain_text("5 would remove")
    expect(page.locator("#changes")).to_be_visible()
    expect(page.get_by_role("cell", name="Active → Removed").first).to_be_visible()
    expect_fits_the_screen(page)
    shot(page, "approval-preview")
    page.get_by_role("link", name="Back to the job").click()
    approval.get_by_role("button", name="Approve and run").click()
    expect(page.locator("ul.messages")).to_contain_text("Approved: the job is queued")
    expect(page.locator("#job-progress .status")).to_have_text("Queued")

    assert worker.run_next("browser-test").pk == job.pk
    expect(page.locator("#job-progress .status")).to_have_text("Processed", timeout=15_000)
    assert Job.objects.get(pk=job.pk).succeeded == 5
    page.context.close()
