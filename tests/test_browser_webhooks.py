"""Webhooks in a real browser (system Chromium): an administrator adds an endpoint, sees its signing
secret, and finds it listed; the pages fit a phone's width. Screenshots of both."""

from __future__ import annotations

import pytest

from webhooks.models import Endpoint

# Playwright's names come through test_browser, so that a missing Playwright is its skip.
from . import test_browser as shared
from .factories import UserFactory, grant
from .test_browser import NARROW, WIDE, expect, expect_fits_the_screen, open_page, shot, sign_in

allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_an_administrator_adds_an_endpoint_and_sees_its_secret(browser, live_server, width):
    grant(UserFactory(username="wendy", first_name="Wendy"), "webhooks.manage_webhooks")

    page = open_page(browser, live_server, width)
    sign_in(page, "wendy")
    page.get_by_role("link", name="Webhooks Admin").click()  # the dashboard's tile
    page.get_by_label("URL").fill("https://hooks.example.org/certdesk")
    page.get_by_label("Description").fill("Compliance system")
    page.get_by_label("job.processed").check()
    page.get_by_label("job.failed").check()
    page.get_by_role("button", name="Add endpoint").click()

    expect(page.locator("ul.messages")).to_contain_text(
        "Endpoint https://hooks.example.org/certdesk is added"
    )
    endpoint = Endpoint.objects.get()
    expect(page.locator("#secret-value")).to_have_text(endpoint.secret)
    assert endpoint.events == ["job.processed", "job.failed"]
    expect(page.locator("#deliveries")).to_be_visible()
    expect_fits_the_screen(page)
    shot(page, "webhook-endpoint")
    page.locator(".breadcrumbs").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("link", name="https://hooks.example.org/certdesk")).to_be_visible()
    expect_fits_the_screen(page)
    shot(page, "webhooks")
    page.context.close()
