"""Licences & Certifications in a real browser (Playwright driving the system Chromium): the list, Import
Data validating a file with errors, the downloaded results file, the fixed file validated clean, then
imported (uploaded again with Only validate the file unchecked, or with Import this file now); and the
downloads: Export Available Licenses and the template and example files in every format.

Full-page screenshots of the list, the import page with errors, the clean validation and the processed
job, at 1280 px and 375 px wide, land in ``test-artifacts/screenshots/`` (ignored by git) for a person to
look at.

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
from defusedxml import ElementTree
from openpyxl import load_workbook

from access.permissions import IMPORT_LICENSES, MANAGE_LICENSES
from bulk import worker
from bulk.models import Job
from credentials.models import License, LicenseType

# Playwright's names come through test_browser too, so that a missing Playwright is its skip (or, under
# CI=true, its error) rather than an ImportError here.
from . import test_browser as shared
from .factories import UserFactory, grant
from .test_browser import NARROW, WIDE, Page, expect, expect_fits_the_screen, open_page, shot, sign_in

# Its fixtures, by name (pytest finds fixtures among a module's names): the ORM allowed beside
# Playwright (autouse) and the one headless Chromium of the module.
allow_orm_beside_playwright = shared.allow_orm_beside_playwright
browser = shared.browser

if TYPE_CHECKING:
    from playwright.sync_api import Download, FilePayload, Locator, Route

pytestmark = pytest.mark.django_db(transaction=True)

LICENCES = "/licences/"
IMPORT = "/licences/import/"
HEADER = [
    "Username",
    "License code",
    "Number",
    "Issuing authority",
    "Issue date",
    "Expiration date",
    "Action",
]
# Dates relative to today, so that the licences stay Current (the list's default filter) whenever it runs.
TODAY = dt.date.today()
BEN_WAS = (TODAY - dt.timedelta(days=700), TODAY + dt.timedelta(days=120))  # issued, expires
ANN_GETS = (TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=700))
BEN_GETS = (TODAY - dt.timedelta(days=10), TODAY + dt.timedelta(days=1000))
BACK_TO_FRONT = (TODAY, TODAY - dt.timedelta(days=1))  # expires the day before it is issued


def iso(dates: tuple[dt.date, ...]) -> list[str]:
    return [d.isoformat() for d in dates]


# The good rows: ann's new RN licence, ben's RN-2 with new dates.
ANN_ADD = ["ann", "RN", "RN-1", "", *iso(ANN_GETS), "Add"]
BEN_EDIT = ["ben", "RN", "RN-2", "", *iso(BEN_GETS), "Edit"]
UNKNOWN_USER = "Username not recognised: no user account has the username 'ghost'."
UNKNOWN_CODE = "License code not recognised: 'XYZ' is not in the list of available licenses."
BACKWARDS = (
    f"The expiration date {BACK_TO_FRONT[1]:%Y-%m-%d} is before the issue date {BACK_TO_FRONT[0]:%Y-%m-%d}."
)
SAME_LICENCE = "The same licence is in row 3: one change per licence per file."
ALREADY_HELD = "'ben' already holds this licence (number 'RN-2'); use Edit to change it."
HONEST_NOTE = (
    "Please note: this does not necessarily mean that your file is perfect or is not missing "
    "information; it means there are no major errors that would prevent it from importing."
)
BEING_IMPORTED = (
    "The file is being imported. The counts below fill in as it runs; you will also receive an email."
)


# --- Set-up and helpers --------------------------------------------------------------------------


class Licensing:
    """What the test sets up: an administrator who may import and manage licences, the RN and BLS
    licence types, and the learners ann (no licence yet) and ben (RN-2, to be edited)."""

    def __init__(self) -> None:
        self.lena = grant(
            UserFactory(username="lena", first_name="Lena", last_name="Admin", email="lena@example.test"),
            IMPORT_LICENSES,
            MANAGE_LICENSES,
        )
        self.rn = LicenseType.objects.create(
            code="RN", name="Registered Nurse", issuing_authority="State Board of Nursing"
        )
        self.bls = LicenseType.objects.create(code="BLS", name="Basic Life Support", number_required=False)
        self.ann = UserFactory(username="ann", first_name="Ann", last_name="Lee")
        self.ben = UserFactory(username="ben", first_name="Ben", last_name="Ng")
        License.objects.create(
            user=self.ben,
            license_type=self.rn,
            number="RN-2",
            issuing_authority="State Board of Nursing",
            issue_date=BEN_WAS[0],
            expiration_date=BEN_WAS[1],
        )

    @staticmethod
    def licences() -> set[tuple[str, str, str, str, dt.date | None, dt.date | None, bool]]:
        """Every licence, deleted or not: (username, code, number, authority, issued, expires, deleted)."""
        return {
            (user, code, number, authority, issued, expires, deleted is not None)
            for user, code, number, authority, issued, expires, deleted in License.objects.values_list(
                "user__username",
                "license_type__code",
                "number",
                "issuing_authority",
                "issue_date",
                "expiration_date",
                "deleted_at",
            )
        }


def tab_file(name: str, rows: list[list[str]]) -> FilePayload:
    """A tab-delimited .txt file (the published format), as set_input_files takes it."""
    text = "\r\n".join("\t".join(row) for row in [HEADER, *rows]) + "\r\n"
    return {"name": name, "mimeType": "text/plain", "buffer": text.encode("utf-8")}


BAD_ROWS = [
    ANN_ADD,  # row 2: would import
    BEN_EDIT,  # row 3: would import
    ["ghost", "RN", "RN-9", "", "", "", "Add"],  # row 4: no such user
    ["ann", "XYZ", "X-1", "", "", "", "Add"],  # row 5: no such licence code
    ["ann", "BLS", "", "", *iso(BACK_TO_FRONT), "Add"],  # row 6: expires before issued
    ["ben", "RN", "RN-2", "", "", "", "Add"],  # row 7: ben's RN-2 again (and he holds it already)
]
GOOD_ROWS = [ANN_ADD, BEN_EDIT]


def download(page: Page, link: Locator) -> Download:
    with page.expect_download() as download_info:
        link.click()
    return download_info.value


def downloaded_csv(page: Page, link: Locator) -> tuple[Download, list[dict[str, str]]]:
    file = download(page, link)
    text = Path(file.path()).read_text(encoding="utf-8-sig")
    return file, list(csv.DictReader(io.StringIO(text)))


def licence_row(page: Page, username: str, code: str) -> Locator:
    """The list's row of a user's licence of a type (Username and License columns, exactly)."""
    return (
        page.locator("table tbody tr")
        .filter(has=page.locator("td:nth-child(1)", has_text=re.compile(f"^{re.escape(username)}$")))
        .filter(has=page.locator("td:nth-child(3)", has_text=re.compile(f"^{re.escape(code)}$")))
    )


def expect_licence(page: Page, username: str, code: str, cells: list[str]) -> None:
    """All the cells of the row but the actions: Username, Name, License, Number, Issuing authority,
    Issue date, Expiration date, Status (some are hidden on a narrow screen, so their text, not what is
    shown, is compared)."""
    row = licence_row(page, username, code)
    expect(row).to_have_count(1)
    expect(row.locator("td:not(:last-child)")).to_have_text(cells)


def choose_and_upload(page: Page, file: FilePayload, *, validate_only: bool) -> None:
    """Import Data's form: choose the file, see it named, set Only validate the file, Upload. The file may
    be chosen before the page's script has run: the script then names the file already chosen."""
    page.get_by_label("Choose File").set_input_files(file)
    expect(page.locator("[data-file-status]")).to_have_text(f"Selected: {file['name']}")
    page.get_by_label("Only validate the file").set_checked(validate_only)
    page.get_by_role("button", name="Upload").click()


def validation(page: Page) -> Locator:
    return page.locator("#validation-result")


def expect_clean_validation(page: Page) -> None:
    result = validation(page)
    expect(result.get_by_role("heading", name="No major errors were found")).to_be_visible()
    expect(result).to_contain_text("2 rows would import: 1 add, 1 edit, 0 deletes.")
    expect(result).to_contain_text(HONEST_NOTE)
    expect(result.get_by_role("link", name="Download the results file")).to_have_count(0)


def expect_processed(page: Page, job: Job) -> None:
    """The job page, left alone, polls itself to Processed and shows what was imported."""
    processed = worker.run_next("browser-test")
    assert processed is not None and processed.pk == job.pk
    status = page.locator("#job-progress .status")
    expect(status).to_have_text("Processed", timeout=15_000)
    expect(page.get_by_role("link", name="Results file")).to_be_visible(timeout=15_000)
    expect(page.locator("#job-progress .counts span")).to_have_text(
        ["2 rows", "2 imported", "0 skipped", "0 errors"]
    )
    expect(page.locator("table tbody tr td:nth-child(2)")).to_have_text(["ann", "ben"])  # Username
    expect(page.locator("table tbody tr td:nth-child(9)")).to_have_text(["Imported", "Imported"])  # Result


def expect_imported(data: Licensing, before: set) -> None:
    """ann's new licence (the type's authority filled in) and ben's edited dates; nothing else."""
    authority = "State Board of Nursing"
    assert data.licences() == {
        ("ann", "RN", "RN-1", authority, *ANN_GETS, False),
        ("ben", "RN", "RN-2", authority, *BEN_GETS, False),
    }
    assert before == {("ben", "RN", "RN-2", authority, *BEN_WAS, False)}


# --- 1. Validate with errors, download the results, fix, validate clean, import ----------------


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_validate_with_errors_download_the_results_fix_validate_clean_and_import(
    browser, live_server, mailoutbox, width
):
    data = Licensing()
    before = data.licences()
    page = open_page(browser, live_server, width)
    try:
        sign_in(page, "lena")

        # Licences & Certifications (under Users): ben's RN licence, and nothing of ann's yet.
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Licences & Certifications"
        ).click()
        expect(page).to_have_url(f"{live_server.url}{LICENCES}")
        expect(page.get_by_role("heading", name="Licences & Certifications", level=1)).to_be_visible()
        expect(page.get_by_role("status").filter(has_text="licence")).to_have_text("1 licence.")
        expect_licence(
            page,
            "ben",
            "RN",
            ["ben", "Ben Ng", "RN", "RN-2", "State Board of Nursing", *iso(BEN_WAS), "Current"],
        )
        expect(licence_row(page, "ann", "RN")).to_have_count(0)
        shot(page, "licences")
        # The page fits the screen: the wide table scrolls inside its box, the page does not scroll sideways.
        expect_fits_the_screen(page)

        # Import Data: Only validate the file is checked to begin with.
        page.get_by_role("link", name="Import Data").click()
        expect(page).to_have_url(f"{live_server.url}{IMPORT}")
        expect(page.get_by_role("heading", name="Import Data", level=1)).to_be_visible()
        validate_only = page.get_by_label("Only validate the file")
        expect(validate_only).to_be_checked()
        expect_fits_the_screen(page)

        # A file with two good rows and four bad ones, validated only.
        choose_and_upload(page, tab_file("board-march.txt", BAD_ROWS), validate_only=True)
        expect(page).to_have_url(re.compile(r"/licences/import/\?job=\d+$"))
        job = Job.objects.get()
        assert job.status == Job.Status.VERIFIED
        expect(page).to_have_url(f"{live_server.url}{IMPORT}?job={job.pk}")
        result = validation(page)
        expect(result.get_by_role("heading", name="Errors were found in the file")).to_be_visible()
        expect(result).to_be_focused()  # keyboard and screen-reader users are taken to it
        expect(result).to_contain_text("4 of 6 rows have errors; the other 2 would import.")
        error_rows = result.locator("table tbody tr")
        expect(error_rows.locator("td:nth-child(1)")).to_have_text(["4", "5", "6", "7"])
        expect(error_rows.locator("td:nth-child(2)")).to_have_text(["ghost", "ann", "ann", "ben"])
        # Each error row names its licence, so two rows of one user are told apart.
        expect(error_rows.locator("td:nth-child(3)")).to_have_text(["RN", "XYZ", "BLS", "RN"])
        expect(error_rows.locator("td:nth-child(6)")).to_have_text(
            [UNKNOWN_USER, UNKNOWN_CODE, BACKWARDS, SAME_LICENCE]
        )
        expect(validate_only).to_be_checked()  # still checked for the next try
        shot(page, "licence-import-errors")
        expect_fits_the_screen(page)

        # The results file: the rows as uploaded, each with a Result and a Message.
        results_file, results = downloaded_csv(
            page, result.get_by_role("link", name="Download the results file")
        )
        assert results_file.suggested_filename == f"job-{job.pk}-results.csv"
        assert list(results[0]) == [*HEADER, "Result", "Message"]
        assert [[r[c] for c in HEADER] for r in results] == BAD_ROWS
        assert [(r["Result"], r["Message"]) for r in results] == [
            ("Would import", ""),
            ("Would import", ""),
            ("Error", UNKNOWN_USER),
            ("Error", UNKNOWN_CODE),
            ("Error", BACKWARDS),
            ("Error", SAME_LICENCE),
        ]

        # Validating changed nothing, and queued nothing.
        assert data.licences() == before
        assert worker.run_next("browser-test") is None

        # The fixed file (the bad rows removed), validated again: clean, with the honest note.
        choose_and_upload(page, tab_file("board-march.txt", GOOD_ROWS), validate_only=True)
        expect_clean_validation(page)
        expect(result).to_be_focused()
        expect(page.get_by_text("Errors were found in the file")).to_have_count(0)
        shot(page, "licence-import-clean")
        assert data.licences() == before
        assert worker.run_next("browser-test") is None

        # The same file uploaded with Only validate the file unchecked: it is imported.
        choose_and_upload(page, tab_file("board-march.txt", GOOD_ROWS), validate_only=False)
        expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
        imported = Job.objects.order_by("-pk").first()
        assert imported is not None and Job.objects.count() == 3
        expect(page).to_have_url(f"{live_server.url}/jobs/{imported.pk}/")
        expect(page.get_by_role("heading", name="Licences from board-march.txt", level=1)).to_be_visible()
        expect(page.locator("ul.messages")).to_have_text(BEING_IMPORTED)
        expect(page.locator("#job-progress .status")).to_have_text("Queued")

        # The live server runs no worker: this test is the worker; nobody reloads the page.
        expect_processed(page, imported)
        shot(page, "licence-import-processed")
        expect_imported(data, before)
        # Only the administrator was emailed: the results of each validation, then of the import.
        job_title = "Licence import job “Licences from board-march.txt”"
        assert [(m.to, m.subject) for m in mailoutbox] == [
            (["lena@example.test"], f"{job_title}: Verified"),
            (["lena@example.test"], f"{job_title}: Verified"),
            (["lena@example.test"], f"{job_title}: Processed"),
        ]

        # The list shows ann's new licence and ben's new dates.
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Licences & Certifications"
        ).click()
        expect(page.get_by_role("status").filter(has_text="licence")).to_have_text("2 licences.")
        expect_licence(
            page,
            "ann",
            "RN",
            ["ann", "Ann Lee", "RN", "RN-1", "State Board of Nursing", *iso(ANN_GETS), "Current"],
        )
        expect_licence(
            page,
            "ben",
            "RN",
            ["ben", "Ben Ng", "RN", "RN-2", "State Board of Nursing", *iso(BEN_GETS), "Current"],
        )
    finally:
        page.context.close()


# --- 2. Import this file now, after a clean validation -------------------------------------------


def test_import_this_file_now_after_a_clean_validation(browser, live_server):
    data = Licensing()
    before = data.licences()
    page = open_page(browser, live_server)
    try:
        sign_in(page, "lena")
        page.goto(IMPORT)

        # Adding a licence ben holds already says to use Edit.
        choose_and_upload(
            page, tab_file("ben.txt", [ANN_ADD, ["ben", "RN", "RN-2", "", "", "", "Add"]]), validate_only=True
        )
        result = validation(page)
        expect(result.get_by_role("heading", name="Errors were found in the file")).to_be_visible()
        expect(result.locator("table tbody tr td:nth-child(6)")).to_have_text([ALREADY_HELD])

        # Edit it is: clean, so Import this file now, without uploading it again.
        choose_and_upload(page, tab_file("ben.txt", GOOD_ROWS), validate_only=True)
        expect_clean_validation(page)
        job = Job.objects.order_by("-pk").first()
        assert job is not None and job.status == Job.Status.VERIFIED
        result.get_by_role("link", name="Import this file now").click()

        expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/start/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Run “Licences from ben.txt” for real?")
        expect(page.locator(".counts-list li")).to_have_text(["2 would import", "0 skipped", "0 errors"])
        assert data.licences() == before
        page.get_by_role("button", name="Start job").click()

        expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
        expect(page.locator("#job-progress .status")).to_have_text("Queued")
        expect_processed(page, job)
        expect_imported(data, before)
        assert Job.objects.count() == 2  # the validated job ran: no second upload
    finally:
        page.context.close()


# --- 3. A file chosen before the page's script has run ---------------------------------------------


def test_a_file_chosen_before_the_page_script_has_run_is_still_named(browser, live_server):
    """A person may choose the file before the page's script has run (a slow connection, a busy
    machine), so before it listens for the choice: once it runs, it names the file already chosen."""
    Licensing()
    page = open_page(browser, live_server)
    file = tab_file("early.txt", GOOD_ROWS)
    status = page.locator("[data-file-status]")

    def choose_first(route: Route) -> None:
        # The page is there, its script is not yet: choose the file, then let the script load.
        page.get_by_label("Choose File").set_input_files(file)
        expect(status).to_have_text("")
        route.continue_()

    try:
        sign_in(page, "lena")
        # Only the import page's own load: later pages load the script as usual.
        page.route("**/static/web/create-job.js", choose_first, times=1)
        page.goto(IMPORT)
        expect(status).to_have_text("Selected: early.txt")
        page.get_by_role("button", name="Upload").click()
        expect_clean_validation(page)
    finally:
        page.unroute_all(behavior="ignoreErrors")
        page.context.close()


# --- 4. Export Available Licenses, and the template and example files -----------------------------


def test_export_available_licenses_and_the_template_files_download(browser, live_server):
    Licensing()
    page = open_page(browser, live_server)
    try:
        sign_in(page, "lena")
        page.goto(LICENCES)

        # Export Available Licenses: the codes an import file uses.
        export, rows = downloaded_csv(page, page.get_by_role("link", name="Export Available Licenses"))
        assert export.suggested_filename == "available-licenses.csv"
        assert rows == [
            {
                "License code": "BLS",
                "Name": "Basic Life Support",
                "Issuing authority": "",
                "Number required": "No",
            },
            {
                "License code": "RN",
                "Name": "Registered Nurse",
                "Issuing authority": "State Board of Nursing",
                "Number required": "Yes",
            },
        ]
        expect(page).to_have_url(f"{live_server.url}{LICENCES}")  # downloading stays on the page

        # Import Data links to the same export, and to the template and example in every format.
        page.get_by_role("link", name="Import Data").click()
        form = page.locator("form").filter(has=page.get_by_label("Choose File"))
        _, again = downloaded_csv(page, form.get_by_role("link", name="Export Available Licenses"))
        assert again == rows

        samples = form.locator("p.hint").filter(has_text="Template:").get_by_role("link")
        names = ["CSV", "TXT", "XML", "XML-2003", "XLSX"]
        expect(samples).to_have_text(names * 2)  # Template: …, then Example: …
        for offset, which in enumerate(("template", "example")):
            # Chromium lets one page start about ten downloads, however they are clicked: the examples
            # are downloaded from a fresh copy of the page.
            page.goto(IMPORT)
            for index, name in enumerate(names):
                file = download(page, samples.nth(offset * len(names) + index))
                suffix = "-2003.xml" if name == "XML-2003" else f".{name.lower()}"
                assert file.suggested_filename == f"license-import-{which}{suffix}", name
                table = sample_table(name, Path(file.path()).read_bytes())
                assert table[0] == HEADER, (which, name)
                if which == "template":
                    assert table[1:] == [], name  # the header alone (plain XML: one empty row)
                else:
                    assert [r[0] for r in table[1:]] == ["amelia.smith1", "oliver.jones2", "isla.taylor3"], (
                        name
                    )
                    assert [r[-1] for r in table[1:]] == ["Add", "Edit", "Delete"], name
        expect(page).to_have_url(f"{live_server.url}{IMPORT}")
    finally:
        page.context.close()


def sample_table(name: str, content: bytes) -> list[list[str]]:
    """The rows of a downloaded template or example, header first, whatever its format."""
    if name in ("CSV", "TXT"):
        text = content.decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text), delimiter="\t" if name == "TXT" else ","))
    if name == "XLSX":
        sheet = load_workbook(io.BytesIO(content), read_only=True).active
        assert sheet is not None
        return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    root = ElementTree.fromstring(content)
    if name == "XML-2003":
        ns = {"ss": "urn:schemas-microsoft-com:office:spreadsheet"}
        return [
            [d.text or "" for d in row.iterfind("ss:Cell/ss:Data", ns)]
            for row in root.iter(f"{{{ns['ss']}}}Row")
        ]
    # Plain XML: <rows><row><username>…</username>…</row></rows>; the header is the tags.
    rows = list(root)
    tags = ["-".join(h.lower().split()) for h in HEADER]
    assert [child.tag for child in rows[0]] == tags
    return [
        HEADER,
        *[[(row.findtext(tag) or "") for tag in tags] for row in rows if any(c.text for c in row)],
    ]
