"""The Catalogue's Import unenrolments dialog in a real browser (Playwright driving the system Chromium):
verify a file first, read the results, then run it for real; and the dialog's Cancel.

Full-page screenshots of the catalogue, the open dialog and the job page, at 1280 px and 375 px wide,
land in ``test-artifacts/screenshots/`` (ignored by git) for a person to look at.

The browser, the sign-in and the screenshots come from ``test_browser``: importing it runs its check for
the system Chromium and Playwright, so this module too is skipped outside CI when either is missing, and
is an error under CI=true.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from access.permissions import IMPORT_UNENROLMENTS, VIEW_CATALOGUE
from bulk import worker
from bulk.models import Job
from learning.models import Activity, Enrollment

# Playwright's names come through test_browser too, so that a missing Playwright is its skip (or, under
# CI=true, its error) rather than an ImportError here.
from . import test_browser as shared
from .csp_watch import watch
from .factories import UNENROLMENT_HEADER, ActivityFactory, UserFactory, enrol, grant, make_csv
from .test_browser import (
    HEIGHT,
    NARROW,
    WIDE,
    Page,
    csv_file,
    expect,
    expect_fits_the_screen,
    expect_scripts_ready,
    open_page,
    shot,
    sign_in,
)

# Its fixtures, by name (pytest finds fixtures among a module's names): the ORM allowed beside
# Playwright (autouse) and the one headless Chromium of the module.
allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

if TYPE_CHECKING:
    from playwright.sync_api import Download, Locator

pytestmark = pytest.mark.django_db(transaction=True)

CATALOGUE = "/catalogue/"
COMPLETED_ON = dt.date(2026, 3, 12)
VERIFIED_MESSAGE = "The file was verified: nothing was changed and no learner was emailed."
QUEUED_MESSAGE = "The job is queued; it will process shortly."
UNKNOWN_USER = "Username not recognised: no user account has the username 'jdoe7'."
UNKNOWN_REFERENCE = (
    "Activity external reference not recognised: no course or session in the catalogue has "
    "the external reference 'NOPE-1'."
)


# --- Set-up and helpers --------------------------------------------------------------------------


class Catalogue:
    """What the test sets up: an administrator, a course and a session, and their learners."""

    def __init__(self) -> None:
        self.cara = grant(
            UserFactory(username="cara", user_id="ADM-CARA", email="cara@example.test", first_name="Cara"),
            IMPORT_UNENROLMENTS,
            VIEW_CATALOGUE,
        )
        self.course = ActivityFactory(title="Fire Safety Awareness", external_reference="FS-101")
        self.session = ActivityFactory(
            type=Activity.Type.SESSION,
            title="Fire Warden Workshop, 12 March",
            external_reference="FW-0312",
            starts_at=dt.datetime(2026, 3, 12, 9, tzinfo=dt.UTC),
            ends_at=dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC),
        )
        learner = {
            name: UserFactory(username=name, email=f"{name}@example.test")
            for name in ("ann.lee", "ben.ng", "cat.obi", "dan.roe", "eve.sun")
        }
        self.ann, self.ben, self.cat, self.dan, self.eve = learner.values()
        enrol(self.course, [self.ann, self.ben, self.dan])  # dan is not in the file: he stays
        enrol(self.session, [self.cat], completed_on=COMPLETED_ON)  # eve is enrolled in nothing

    def upload(self) -> bytes:
        """Good rows (Yes and No, one completed), a user not enrolled, an unknown username, an unknown
        reference: rows 2 to 7 of the file."""
        return make_csv(
            [
                [self.ann.username, "FS-101", "Yes"],  # row 2: unenrolled, and emailed
                [self.ben.username, "FS-101", "No"],  # row 3: unenrolled
                [self.cat.username, "FW-0312", "No"],  # row 4: unenrolled, the completion kept
                [self.eve.username, "FS-101", "Yes"],  # row 5: skipped, not enrolled
                ["jdoe7", "FS-101", "Yes"],  # row 6: error, no such user
                [self.ann.username, "NOPE-1", "No"],  # row 7: error, no such activity
            ],
            UNENROLMENT_HEADER,
        )

    def statuses(self) -> dict[tuple[str, str | None], tuple[str, dt.date | None]]:
        """(username, reference) -> (status, completed_on) of every enrolment."""
        return {
            (username, reference): (status, completed_on)
            for username, reference, status, completed_on in Enrollment.objects.values_list(
                "user__username", "activity__external_reference", "status", "completed_on"
            )
        }


def activity_row(page: Page, title: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=title, exact=True))


def expect_catalogue_counts(page: Page, title: str, reference: str, counts: list[str]) -> None:
    """The row of an activity shows its external reference and Enrolled, Completed, Unenrolled (the last
    is hidden on a narrow screen, so its text, not what is shown, is compared)."""
    row = activity_row(page, title)
    expect(row.locator("code")).to_have_text(reference)
    expect(row.locator("td.num")).to_have_text(counts)


def downloaded_csv(page: Page, link: Locator) -> tuple[Download, list[dict[str, str]]]:
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    return download, list(csv.DictReader(io.StringIO(text)))


def column(page: Page, number: int) -> Locator:
    """A column of the job page's Rows table."""
    return page.locator(f"table tbody tr td:nth-child({number})")


# --- 1. Verify first, read the results, then run it for real -----------------------------------


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_import_unenrolments_verify_first_read_the_results_then_run_it_for_real(
    browser, live_server, mailoutbox, width
):
    data = Catalogue()
    before = data.statuses()
    page = open_page(browser, live_server, width)
    try:
        sign_in(page, "cara")

        # The catalogue: every activity with its external reference and enrolment counts.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalogue").click()
        expect(page).to_have_url(f"{live_server.url}{CATALOGUE}")
        expect(page.get_by_role("heading", name="Catalogue", exact=True)).to_be_visible()
        expect_catalogue_counts(page, "Fire Safety Awareness", "FS-101", ["3", "0", "0"])
        expect_catalogue_counts(page, "Fire Warden Workshop, 12 March", "FW-0312", ["1", "1", "0"])
        expect(activity_row(page, "Fire Warden Workshop, 12 March")).to_contain_text("Session")
        shot(page, "catalogue")
        # The page fits the screen: a wide table scrolls inside its box, the page does not scroll sideways.
        expect_fits_the_screen(page)

        # Actions, Import unenrolments: opens the dialog over the catalogue, focused on the file (once
        # the page has loaded: clicked before its scripts have run, the link opens the form as a page).
        dialog = page.locator("dialog#import-dialog")
        expect(dialog).to_be_hidden()
        expect_scripts_ready(page)
        actions = page.get_by_role("complementary", name="Actions")
        actions.get_by_role("link", name="Import unenrolments").click()
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("open", "")
        expect(page.locator("dialog#import-dialog:modal")).to_be_visible()  # modal: the page behind is inert
        expect(page).to_have_url(f"{live_server.url}{CATALOGUE}")
        expect(dialog.get_by_role("heading", name="Import unenrolments")).to_be_visible()
        file_input = dialog.get_by_label("Import file", exact=True)
        expect(file_input).to_be_focused()
        verify_only = dialog.get_by_label("Verify import file only")
        expect(verify_only).to_be_checked()
        shot(page, "import-dialog")

        # The two "here" links: the template (the header alone) and an example.
        here = dialog.get_by_role("link", name="here", exact=True)
        expect(here).to_have_count(2)
        template, rows = downloaded_csv(page, here.nth(0))
        assert template.suggested_filename == "unenrolment-template.csv"
        assert Path(template.path()).read_text(encoding="utf-8-sig").splitlines() == [
            "Username,Activity external reference,Send unenrolment email"
        ]
        assert rows == []
        example, rows = downloaded_csv(page, here.nth(1))
        assert example.suggested_filename == "unenrolment-example.csv"
        assert list(rows[0]) == list(UNENROLMENT_HEADER)
        assert {row["Send unenrolment email"] for row in rows} == {"Yes", "No"}
        expect(dialog).to_be_visible()  # downloading leaves the dialog open

        # Upload the file, verify only (the default).
        file_input.set_input_files(csv_file("march-unenrolments.csv", data.upload()))
        expect(dialog.locator("#unenrolment-file-status")).to_have_text("Selected: march-unenrolments.csv")
        dialog.get_by_role("button", name="Upload").click()

        expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))  # the job exists once the page is there
        job = Job.objects.get()
        expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
        expect(page.get_by_role("heading", name="Unenrolments from march-unenrolments.csv")).to_be_visible()
        expect(page.get_by_role("status").filter(has_text=VERIFIED_MESSAGE)).to_be_visible()
        expect(page.locator("dl.facts")).to_contain_text(
            "Unenrolment (verification only: nothing has changed yet)"
        )
        status = page.locator("#job-progress .status")
        expect(status).to_have_text("Verified")
        counts = page.locator("#job-progress .counts span")
        expect(counts).to_have_text(["6 rows", "3 would unenrol", "1 skipped", "2 errors"])
        expect(column(page, 1)).to_have_text(["2", "3", "4", "5", "6", "7"])
        expect(column(page, 2)).to_have_text(["ann.lee", "ben.ng", "cat.obi", "eve.sun", "jdoe7", "ann.lee"])
        # Each row shows its activity and email choice, so two rows of one user are told apart.
        expect(column(page, 3)).to_have_text(["FS-101", "FS-101", "FW-0312", "FS-101", "FS-101", "NOPE-1"])
        expect(column(page, 4)).to_have_text(["Yes", "No", "No", "Yes", "Yes", "No"])
        expect(column(page, 5)).to_have_text(
            ["Would unenrol", "Would unenrol", "Would unenrol", "Skipped", "Error", "Error"]
        )
        expect(column(page, 6)).to_have_text(
            [
                "",
                "",
                "The completion is kept: the activity still shows as completed in reports.",
                "'eve.sun' is not enrolled in 'Fire Safety Awareness'.",
                UNKNOWN_USER,
                UNKNOWN_REFERENCE,
            ]
        )
        shot(page, "unenrolment-verified")

        # The results file says the same, row by row.
        results_link = page.get_by_role("link", name="Results file")
        download, results = downloaded_csv(page, results_link)
        assert download.suggested_filename == f"job-{job.pk}-results.csv"
        assert list(results[0]) == [*UNENROLMENT_HEADER, "Result", "Message"]
        assert [(r["Username"], r["Activity external reference"], r["Result"]) for r in results] == [
            ("ann.lee", "FS-101", "Would unenrol"),
            ("ben.ng", "FS-101", "Would unenrol"),
            ("cat.obi", "FW-0312", "Would unenrol"),
            ("eve.sun", "FS-101", "Skipped"),
            ("jdoe7", "FS-101", "Error"),
            ("ann.lee", "NOPE-1", "Error"),
        ]
        assert results[4]["Message"] == UNKNOWN_USER

        # Verifying changed nothing; only the administrator got an email (the results).
        assert data.statuses() == before
        assert Enrollment.objects.current().count() == 4
        assert [m.to for m in mailoutbox] == [["cara@example.test"]]
        assert worker.run_next("browser-test") is None  # nothing was queued

        # Run this import for real: the same file, not uploaded again.
        page.get_by_role("link", name="Run this import for real").click()
        # A last look before anything changes: what will happen, and who will be emailed.
        expect(page.get_by_role("heading", level=1)).to_contain_text("for real?")
        expect(page.locator("main")).to_contain_text("1 learner marked Yes will get the unenrolment email")
        shot(page, "unenrolment-confirm")
        page.get_by_role("button", name="Unenrol").click()
        expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
        expect(page.get_by_role("status").filter(has_text=QUEUED_MESSAGE)).to_be_visible()
        expect(status).to_have_text("Queued")
        expect(page.locator("#start-job")).to_have_count(0)
        expect(results_link).to_have_count(0)  # the file of what would happen is gone

        # The live server runs no worker: this test is the worker. The page polls every second and
        # reloads itself once the job has ended; nobody reloads it here.
        processed = worker.run_next("browser-test")
        assert processed is not None and processed.pk == job.pk
        expect(status).to_have_text("Processed", timeout=15_000)
        expect(results_link).to_be_visible(timeout=15_000)
        expect(page.get_by_text(QUEUED_MESSAGE)).to_have_count(0)  # the whole page was rendered again
        expect(counts).to_have_text(["6 rows", "3 unenrolled", "1 skipped", "2 errors"])
        expect(column(page, 5)).to_have_text(
            ["Unenrolled", "Unenrolled", "Unenrolled", "Skipped", "Error", "Error"]
        )
        expect(page.locator("dl.facts")).not_to_contain_text("verification only")
        shot(page, "unenrolment-processed")

        _, results = downloaded_csv(page, results_link)
        assert [r["Result"] for r in results] == [
            "Unenrolled",
            "Unenrolled",
            "Unenrolled",
            "Skipped",
            "Error",
            "Error",
        ]

        # The good rows are unenrolled; the completion is kept; nobody else changed.
        unenrolled = Enrollment.Status.UNENROLLED
        assert data.statuses() == {
            ("ann.lee", "FS-101"): (unenrolled, None),
            ("ben.ng", "FS-101"): (unenrolled, None),
            ("dan.roe", "FS-101"): (Enrollment.Status.ENROLLED, None),
            ("cat.obi", "FW-0312"): (unenrolled, COMPLETED_ON),
        }
        # The learner marked Yes got the unenrolment email; those marked No did not.
        learners = {m.to[0] for m in mailoutbox} - {"cara@example.test"}
        assert learners == {"ann.lee@example.test"}

        # The catalogue counts follow.
        page.goto(CATALOGUE)
        expect_catalogue_counts(page, "Fire Safety Awareness", "FS-101", ["1", "0", "2"])
        expect_catalogue_counts(page, "Fire Warden Workshop, 12 March", "FW-0312", ["0", "1", "1"])
    finally:
        page.context.close()


# --- 2. Cancel, and the dialog without JavaScript ------------------------------------------------


def test_cancel_closes_the_dialog_and_uploads_nothing(browser, live_server):
    Catalogue()
    page = open_page(browser, live_server)
    try:
        sign_in(page, "cara")
        page.goto(CATALOGUE)
        dialog = page.locator("dialog#import-dialog")
        open_link = page.get_by_role("complementary", name="Actions").get_by_role(
            "link", name="Import unenrolments"
        )

        open_link.click()
        expect(dialog).to_be_visible()
        dialog.get_by_label("Import file", exact=True).set_input_files(csv_file("x.csv", b"Username\n"))
        dialog.get_by_role("link", name="Cancel").click()
        expect(dialog).to_be_hidden()
        expect(dialog).not_to_have_attribute("open", "")
        expect(page).to_have_url(f"{live_server.url}{CATALOGUE}")

        # It opens again, and Escape closes it too.
        open_link.click()
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert not Job.objects.exists()
    finally:
        page.context.close()


def test_without_javascript_the_link_opens_the_form_as_a_page(browser, live_server):
    Catalogue()
    context = watch(
        browser.new_context(
            base_url=live_server.url,
            viewport={"width": WIDE, "height": HEIGHT},
            java_script_enabled=False,
        )
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, "cara")
        page.goto(CATALOGUE)
        page.get_by_role("complementary", name="Actions").get_by_role(
            "link", name="Import unenrolments"
        ).click()
        expect(page).to_have_url(f"{live_server.url}/catalogue/import-unenrolments/")
        expect(page.get_by_role("heading", name="Import unenrolments", level=1)).to_be_visible()
        expect(page.get_by_label("Verify import file only")).to_be_checked()
        page.get_by_role("link", name="Cancel").click()
        expect(page).to_have_url(f"{live_server.url}{CATALOGUE}")
    finally:
        context.close()
