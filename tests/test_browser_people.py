"""People and a learner's page in a real browser (system Chromium) at 1280 and 375 px: finding a
learner, their history after a removal and its restore, and unenrolling one learner by hand from an
activity's page. No page scrolls sideways; screenshots of each page."""

from __future__ import annotations

import pytest

from access.permissions import COMPLETE_ENROLMENTS, IMPORT_UNENROLMENTS, VIEW_CATALOGUE
from bulk import services, worker
from learning.models import Enrollment

# Playwright's names come through test_browser, so that a missing Playwright is its skip.
from . import test_browser as shared
from .factories import ActivityFactory, UserFactory, enrol, grant
from .test_browser import NARROW, WIDE, expect, expect_fits_the_screen, open_page, shot, sign_in
from .test_people import removed

allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

pytestmark = pytest.mark.django_db(transaction=True)
WIDTHS = pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])


@WIDTHS
def test_a_learners_page_shows_the_removal_and_its_restore_newest_first(
    browser, live_server, width, alice, certification, holders
):
    learner = holders[0]
    removal = removed(alice, certification, [learner])
    services.restore_job(removal, alice)
    restore = worker.run_next("test-worker")

    page = open_page(browser, live_server, width)
    sign_in(page, "alice")
    page.goto("/people/")
    page.get_by_label("Search").fill(learner.user_id)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("status")).to_have_text("1 person.")
    expect_fits_the_screen(page)
    shot(page, "people")

    page.get_by_role("link", name=learner.user_id, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(learner.display_name)
    history = page.locator("section", has=page.get_by_role("heading", name="History")).locator("tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("award.restored")
    expect(history.nth(0)).to_contain_text("status: removed → active")
    expect(history.nth(1)).to_contain_text("award.removed")
    expect(history.nth(1)).to_contain_text("status: active → removed")
    expect(history.nth(0).get_by_role("link", name=f"Job {restore.pk}")).to_be_visible()
    expect(history.nth(1).get_by_role("link", name=f"Job {removal.pk}")).to_be_visible()
    certifications = page.locator("section", has=page.get_by_role("heading", name="Certifications"))
    expect(certifications.locator("tbody tr")).to_contain_text(["CERT-042 Basic Life Support"])
    expect_fits_the_screen(page)
    shot(page, "learner")

    history.nth(1).get_by_role("link", name=f"Job {removal.pk}").click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{removal.pk}/")
    page.context.close()


@WIDTHS
def test_unenrolling_one_learner_by_hand_from_the_activity_page(browser, live_server, width):
    grant(UserFactory(username="ines"), VIEW_CATALOGUE, IMPORT_UNENROLMENTS, COMPLETE_ENROLMENTS)
    course = ActivityFactory(title="Fire Safety Awareness")
    ann, ben = UserFactory(user_id="L-ANN", first_name="Ann"), UserFactory(user_id="L-BEN", first_name="Ben")
    enrol(course, [ann, ben])

    page = open_page(browser, live_server, width)
    sign_in(page, "ines")
    page.goto(f"/catalogue/activities/{course.pk}/")
    learners = page.locator("section", has=page.get_by_role("heading", name="Learners")).locator("tbody tr")
    expect(learners).to_have_count(2)
    expect_fits_the_screen(page)
    shot(page, "activity-learners")

    ann_row = learners.filter(has_text="L-ANN")
    ann_row.get_by_role("button", name=f"Unenrol {ann.display_name} from Fire Safety Awareness").click()
    expect(page.get_by_text(f"{ann.display_name} is unenrolled from Fire Safety Awareness.")).to_be_visible()
    expect(learners.filter(has_text="L-ANN")).to_contain_text("Unenrolled")
    expect(learners.filter(has_text="L-BEN")).to_contain_text("Enrolled")
    assert Enrollment.objects.get(user=ann).status == Enrollment.Status.UNENROLLED
    expect(
        learners.filter(has_text="L-ANN").get_by_role(
            "button", name=f"Enrol again {ann.display_name}", exact=False
        )
    ).to_be_visible()
    expect_fits_the_screen(page)
    shot(page, "activity-learner-unenrolled")
    page.context.close()
