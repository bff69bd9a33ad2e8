"""The audit log in a real browser (system Chromium) at 1280 and 375 px: filtered to one
administrator's award changes, and exported to CSV with the same filters. No sideways scrolling."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from access.permissions import VIEW_AUDIT_LOG

# Playwright's names come through test_browser, so that a missing Playwright is its skip.
from . import test_browser as shared
from .factories import UserFactory, grant
from .test_browser import NARROW, WIDE, expect, expect_fits_the_screen, open_page, shot, sign_in
from .test_restore import removal as removed

allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_the_audit_log_filtered_to_one_administrator_and_exported(
    browser, live_server, width, alice, certification, holders
):
    job = removed(alice, certification, holders[:3])
    grant(UserFactory(username="audra", first_name="Audra"), VIEW_AUDIT_LOG)

    page = open_page(browser, live_server, width)
    sign_in(page, "audra")
    page.goto("/audit/")
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    page.get_by_label("Actor").fill("alice")
    page.get_by_label("Action").fill("award")
    page.get_by_role("button", name="Filter").click()

    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    for n in range(3):
        expect(rows.nth(n)).to_contain_text("award.removed")
        expect(rows.nth(n)).to_contain_text("status: active → removed")
        expect(rows.nth(n).get_by_role("link", name=f"Job {job.pk}")).to_be_visible()
    expect_fits_the_screen(page)
    shot(page, "audit-log")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export to CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("audit-log-")
    exported = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [row["Action"] for row in exported] == ["award.removed"] * 3
    assert {row["Actor"] for row in exported} == {"alice"}
    assert {row["Job ID"] for row in exported} == {str(job.pk)}
    page.context.close()
