"""The web pages in a real browser (Playwright driving the system Chromium): what an administrator
sees from sign-in to the downloaded results file, the job list's search and date filters, and a
constrained administrator who neither sees nor reaches another division's job.

Full-page screenshots of the main pages, at 1280 px and 375 px wide, land in
``test-artifacts/screenshots/`` (ignored by git) for a person to look at.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing_tools() -> list[str]:
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"the system Chromium ({CHROMIUM})")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    return missing


if _missing := _missing_tools():
    reason = "browser tests need " + " and ".join(_missing)
    if IN_CI:
        # CI must run the browser tests: a missing browser is a broken build, never a silent skip.
        raise RuntimeError(f"{reason}; CI=true, so this is an error, not a skip")
    pytest.skip(f"{reason}; skipped outside CI", allow_module_level=True)

from django.contrib.auth.models import Permission  # noqa: E402
from django.utils import timezone  # noqa: E402
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

from access.models import Grant, Role  # noqa: E402
from bulk import services, worker  # noqa: E402
from bulk.models import Job  # noqa: E402
from people.models import User  # noqa: E402

from .csp_watch import watch  # noqa: E402
from .factories import OrgUnitFactory, UserFactory, make_csv, removal_rows  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "secret-pass-123"  # the factories' password
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDE, NARROW, HEIGHT = 1280, 375, 900
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
INVALID_USERS = "User IDs included in the file are invalid or the users are not enrolled in the certification"
TOOL = "/tools/certification-removal/"


# --- Fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def allow_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API runs an asyncio event loop in the test thread (it switches to it with
    greenlets while it waits for the browser). Django sees that running loop and refuses every ORM
    call from this thread with SynchronousOnlyOperation, although nothing here is asynchronous: the
    tests, the fixtures and the database flush between tests all run synchronously, one at a time.
    So the guard is lifted for this module only, and put back afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(allow_orm_beside_playwright: None) -> Iterator[Browser]:
    """One headless system Chromium for the module; never a downloaded browser."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Browser, live_server, width: int = WIDE) -> Page:
    """A fresh context (no cookies) and page, at the given width, addressed relative to the server."""
    context = watch(
        browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": HEIGHT}, accept_downloads=True
        )
    )
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    page = open_page(browser, live_server)
    yield page
    page.context.close()


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot, saved as test-artifacts/screenshots/<name>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = (page.viewport_size or {"width": 0})["width"]
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person does."""
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def expect_scripts_ready(page: Page) -> None:
    """Wait until the page's scripts have run, as a person waits for a page to finish loading. They are
    all deferred, so they have run once DOMContentLoaded has fired (htmx processes the page in its
    handler). Before that, a link that opens a dialog opens its form as a page of its own (the page
    works without its scripts), and what is typed into an htmx search box is not searched."""
    page.wait_for_load_state("domcontentloaded")


def expect_fits_the_screen(page: Page) -> None:
    """The page does not scroll sideways (a wide table scrolls inside its box). Waited for, not read
    once: the layout is only final once the stylesheet has applied."""
    try:
        page.wait_for_function("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    except PlaywrightTimeoutError:
        width = (page.viewport_size or {"width": 0})["width"]
        raise AssertionError(f"{page.url} scrolls sideways at {width} px") from None


def expect_titles(page: Page, titles: list[str]) -> None:
    """The Job Title cell of every row of the job list (waited for: the list is a new page)."""
    expect(page.locator("table tbody tr td:first-child")).to_have_text(titles)


def csv_file(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": data}


# --- 1. From sign-in to the downloaded results -------------------------------------------------


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_a_removal_from_sign_in_to_the_downloaded_results(
    browser, live_server, alice, certification, holders, width
):
    outsider = UserFactory(user_id="jdoe7")  # exists, but does not hold CERT-042
    leaving = holders[:5]
    page = open_page(browser, live_server, width)
    try:
        # Sign in: the first page a signed-out visitor sees.
        page.goto("/")
        expect(page).to_have_url(f"{live_server.url}/login/?next=/")
        shot(page, "sign-in")
        sign_in(page, "alice")

        # The navigation holds both tools; Certifications shows how many hold CERT-042.
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Certifications").click()
        expect(page.get_by_role("heading", name="Certifications", exact=True)).to_be_visible()
        cert_row = page.get_by_role("row").filter(has_text="CERT-042")
        expect(cert_row).to_contain_text("Basic Life Support")
        expect(cert_row.get_by_role("link")).to_have_text("20 users — View Users of CERT-042")

        nav.get_by_role("link", name="Certification Removal Tool").click()
        expect(page.get_by_role("heading", name="Certification Removal Tool")).to_be_visible()
        expect(page.get_by_role("cell", name="No certification removal jobs match.")).to_be_visible()

        page.get_by_role("link", name="Create New Certification Removal Job").click()
        expect(page.get_by_role("heading", name="Create a Certification Removal Job")).to_be_visible()

        # Job Title with its live counter.
        title = page.get_by_label("Job Title")
        counter = page.locator("#title-counter")
        expect(counter).to_have_text("0 of 100 characters")
        title.press_sequentially("Audit clean-up")
        expect(counter).to_have_text("14 of 100 characters")
        page.get_by_label("Enter Comment").fill("After the March audit")

        # A file with bad rows: every offending row is listed, nothing is created.
        bad = make_csv(
            [
                *removal_rows(certification, leaving[:2]),
                [certification.code, outsider.user_id],  # row 4
                [certification.code, "NOBODY-1"],  # row 5
            ]
        )
        page.get_by_label("Upload CSV").set_input_files(csv_file("bad.csv", bad))
        expect(page.locator("#file-status")).to_have_text("Selected: bad.csv")
        page.get_by_role("button", name="Upload and validate").click()

        errors = page.get_by_role("alert").filter(has_text="The file was not accepted")
        expect(errors).to_be_visible()
        expect(errors.locator(".headlines li")).to_have_text([INVALID_USERS])
        expect(errors).to_contain_text("2 problems found.")
        expect(errors.locator(".problem-list li")).to_have_text(
            [
                "Row 4, column User ID, value 'jdoe7': 'jdoe7' is not enrolled in certification CERT-042.",
                "Row 5, column User ID, value 'NOBODY-1': No user has the User ID 'NOBODY-1'.",
            ]
        )
        expect(title).to_have_value("Audit clean-up")
        expect(page.get_by_label("Enter Comment")).to_have_value("After the March audit")
        expect(page.locator("#file-status")).to_have_text(
            "Choose the file again: a browser does not keep it after the page is sent."
        )
        shot(page, "create-rejected")
        assert not Job.objects.exists()

        # The corrected file: the summary names the certification and counts the users.
        good = make_csv(removal_rows(certification, leaving))
        page.get_by_label("Upload CSV").set_input_files(csv_file("good.csv", good))
        page.get_by_role("button", name="Upload and validate").click()

        expect(page.get_by_role("heading", name="File validated")).to_be_visible()
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("Audit clean-up")
        expect(facts).to_contain_text("After the March audit")
        expect(facts).to_contain_text("CERT-042 — Basic Life Support")
        expect(facts).to_contain_text("5 users will be removed from the certification")
        expect(page.get_by_role("button", name="Remove")).to_have_count(0)
        shot(page, "file-validated")

        page.get_by_role("button", name="Create").click()
        expect(page.get_by_role("heading", name="Confirm", exact=True)).to_be_visible()
        expect(page.get_by_text("If the details are correct, click Remove.")).to_be_visible()
        expect(facts).to_contain_text("5 users will be removed from the certification")
        shot(page, "confirm")

        page.get_by_role("button", name="Remove").click()
        job = Job.objects.get()
        expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
        expect(page.get_by_role("heading", name="Audit clean-up")).to_be_visible()
        queued_message = page.get_by_text("The removal job is queued; it will process shortly.")
        expect(queued_message).to_be_visible()
        status = page.locator("#job-progress .status")
        expect(status).to_have_text("Queued")
        expect(page.get_by_role("link", name="Results file")).to_have_count(0)

        # The live server runs no worker: this test is the worker. The page polls every second and
        # reloads itself once the job has ended; nobody reloads it here.
        processed = worker.run_next("browser-test")
        assert processed is not None and processed.pk == job.pk
        expect(status).to_have_text("Processed", timeout=15_000)
        expect(page.get_by_role("link", name="Results file")).to_be_visible(timeout=15_000)
        expect(queued_message).to_have_count(0)  # the whole page was rendered again
        progress = page.locator("#job-progress")
        expect(progress).to_contain_text("5 rows")
        expect(progress).to_contain_text("5 removed")
        expect(progress).to_contain_text("0 errors")
        expect(page.locator("table tbody tr td:nth-child(4)")).to_have_text(["Removed"] * 5)
        shot(page, "job-processed")

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Results file").click()
        download = download_info.value
        assert download.suggested_filename == f"job-{job.pk}-results.csv"
        results = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
        assert [row["User ID"] for row in results] == [u.user_id for u in leaving]
        assert {row["Certification ID"] for row in results} == {"CERT-042"}
        assert [row["Result"] for row in results] == ["Removed"] * len(leaving)

        # The job list shows it processed; View Users no longer lists the five.
        page.locator(".breadcrumbs").get_by_role("link", name="Certification Removal Tool").click()
        row = page.get_by_role("row").filter(has_text="Audit clean-up")
        expect(row).to_contain_text("Alice")
        expect(row.locator(".status")).to_have_text("Processed")
        shot(page, "removal-tool")

        nav.get_by_role("link", name="Certifications").click()
        expect(cert_row.get_by_role("link")).to_have_text("15 users — View Users of CERT-042")
        shot(page, "certifications")
        cert_row.get_by_role("link").click()
        expect(page.get_by_role("heading", name="CERT-042 — Basic Life Support")).to_be_visible()
        expect(page.get_by_text("15 users hold this certification.")).to_be_visible()
        user_ids = page.locator("table tbody tr td:first-child")
        expect(user_ids).to_have_text(sorted(u.user_id for u in holders[5:]))  # by User ID
        shot(page, "view-users")
    finally:
        page.context.close()


# --- 2. Search and date filters ------------------------------------------------------------------


def test_search_and_date_filters_narrow_the_list(page, live_server, alice, certification, holders):
    noon = timezone.make_aware(dt.datetime(2026, 3, 10, 12, 0))
    for title, created in (
        ("March audit", noon),
        ("April audit", noon + dt.timedelta(days=31)),
        ("Leavers", noon + dt.timedelta(days=45)),
    ):
        job = services.submit(
            "certification-removal",
            make_csv(removal_rows(certification, holders[:1])),
            "removal.csv",
            actor=alice,
            title=title,
            validate_only=True,
        ).job
        Job.objects.filter(pk=job.pk).update(created_at=created)

    sign_in(page, "alice")
    page.goto(TOOL)
    expect_titles(page, ["Leavers", "April audit", "March audit"])
    expect(page.locator("table tbody tr td:nth-child(3)")).to_have_text(
        ["2026-04-24 12:00 UTC", "2026-04-10 12:00 UTC", "2026-03-10 12:00 UTC"]  # times say their zone
    )

    search = page.get_by_role("searchbox", name="Search for Job")
    search.fill("audit")
    search.press("Enter")
    expect(page).to_have_url(f"{live_server.url}{TOOL}?q=audit&date=&start=&end=&status=")
    expect_titles(page, ["April audit", "March audit"])
    expect(search).to_have_value("audit")

    # Each filter is set on the cleared list, not on the page being left.
    page.get_by_role("link", name="Clear filters").click()
    expect(page).to_have_url(f"{live_server.url}{TOOL}")
    page.get_by_label("Select Date").fill("2026-03-10")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{live_server.url}{TOOL}?q=&date=2026-03-10&start=&end=&status=")
    expect_titles(page, ["March audit"])

    page.get_by_role("link", name="Clear filters").click()
    expect(page).to_have_url(f"{live_server.url}{TOOL}")
    page.get_by_label("Start date").fill("2026-04-01")
    page.get_by_label("End date").fill("2026-04-30")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{live_server.url}{TOOL}?q=&date=&start=2026-04-01&end=2026-04-30&status=")
    expect_titles(page, ["Leavers", "April audit"])

    # A range the wrong way round says so, and lists nothing.
    page.get_by_label("Start date").fill("2026-05-01")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_have_text("The start date must not be after the end date.")
    expect_titles(page, ["No certification removal jobs match."])


# --- 3. Constraints ------------------------------------------------------------------------------


def division_admin(username: str, role: Role) -> User:
    """An administrator in a division of their own, holding the constrained role."""
    user = UserFactory(username=username, user_id=f"ADM-{username.upper()}", first_name=username.title())
    user.org_units.add(OrgUnitFactory(code=f"DIV-{username.upper()}", kind="Division"))
    role.members.add(user)
    return User.objects.get(pk=user.pk)


def test_a_constrained_admin_neither_sees_nor_reaches_another_divisions_job(
    page, live_server, certification, holders
):
    role = Role.objects.create(name="Division administrator")
    Grant.objects.create(
        role=role,
        permission=Permission.objects.get(
            content_type__app_label="bulk", codename="manage_certification_removal"
        ),
        scope=Grant.Scope.OWN_UNITS,
    )
    amy, ben = division_admin("amy", role), division_admin("ben", role)
    data = make_csv(removal_rows(certification, holders[:2]))
    for actor, title in ((amy, "Amy's job"), (ben, "Ben's job")):
        services.submit("certification-removal", data, "r.csv", actor=actor, title=title, validate_only=True)
    theirs = Job.objects.get(title="Ben's job")

    sign_in(page, "amy")
    page.goto(TOOL)
    expect_titles(page, ["Amy's job"])
    expect(page.get_by_text("Ben's job")).to_have_count(0)

    response = page.goto(f"{live_server.url}/jobs/{theirs.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("Ben's job")).to_have_count(0)
    for path in ("progress/", "results/", "original/"):
        assert page.request.get(f"/jobs/{theirs.pk}/{path}").status == 404, path
