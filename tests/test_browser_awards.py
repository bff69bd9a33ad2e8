"""The Awarded Users page in a real browser (Playwright driving the system Chromium): the Award Users
dialog picking a group and a branch (an org unit with its sub-units), then each row's Edit, Unassign
and Reinstate.

Full-page screenshots of the Awarded Users page, the dialog's two steps and the Edit page, at 1280 px
and 375 px wide, land in ``test-artifacts/screenshots/`` (ignored by git) for a person to look at.

The browser, the sign-in and the screenshots come from ``test_browser``: importing it runs its check for
the system Chromium and Playwright, so this module too is skipped outside CI when either is missing, and
is an error under CI=true.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from access.permissions import AWARD_CERTIFICATIONS, VIEW_CERTIFICATIONS
from credentials.models import Award
from credentials.picks import IMMEDIATE_LIMIT
from people.models import User

# Playwright's names come through test_browser too, so that a missing Playwright is its skip (or, under
# CI=true, its error) rather than an ImportError here.
from . import test_browser as shared
from .factories import CertificationFactory, GroupFactory, OrgUnitFactory, UserFactory, award_many, grant
from .test_browser import (
    NARROW,
    WIDE,
    Page,
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
    from playwright.sync_api import Locator

pytestmark = pytest.mark.django_db(transaction=True)

ACTIVITY = "Regional resuscitation day"
EXTERNAL = Award.AssociationType.EXTERNAL_TRAINING


# --- Set-up and helpers --------------------------------------------------------------------------


def person(username: str, first: str, last: str) -> User:
    return UserFactory(username=username, user_id=f"U-{username.upper()}", first_name=first, last_name=last)


class Awarding:
    """What the test sets up: an administrator who may award, CERT-001 (valid 365 days), the group
    Night shift, the branch Theatres with its sub-unit Recovery, and noel, who already holds CERT-001."""

    def __init__(self) -> None:
        self.ada = grant(
            person("ada", "Ada", "Admin"),
            AWARD_CERTIFICATIONS,
            VIEW_CERTIFICATIONS,
        )
        self.certification = CertificationFactory(
            code="CERT-001", title="Basic Life Support", validity_days=365, renewal_window_days=30
        )
        self.nina = person("nina", "Nina", "Okafor")
        self.noel = person("noel", "Noel", "Price")
        self.nora = person("nora", "Nora", "Quinn")
        self.tess = person("tess", "Tess", "Rowe")
        self.rosa = person("rosa", "Rosa", "Sato")
        self.rafe = person("rafe", "Rafe", "Tan")
        self.olga = person("olga", "Olga", "Umar")  # in neither: not awarded

        self.night_shift = GroupFactory(name="Night shift")
        self.night_shift.members.add(self.nina, self.noel, self.nora)
        self.theatres = OrgUnitFactory(code="THR", name="Theatres", kind="Department")
        self.recovery = OrgUnitFactory(code="THR-REC", name="Recovery", kind="Ward", parent=self.theatres)
        self.tess.org_units.add(self.theatres)
        for member in (self.rosa, self.rafe, self.nora):  # nora is in the group too: counted once
            member.org_units.add(self.recovery)

        award_many(self.certification, [self.noel])

    @property
    def users_page(self) -> str:
        return f"/certifications/{self.certification.pk}/users/"

    @property
    def newcomers(self) -> set[str]:
        """Those the group and the branch (with its sub-unit) bring who do not hold CERT-001 yet."""
        return {"nina", "nora", "tess", "rosa", "rafe"}


def award_row(page: Page, username: str) -> Locator:
    """The Awarded Users row of a user (the Username column, exactly)."""
    return page.locator("table tbody tr").filter(has=page.locator("td:nth-child(2)", has_text=username))


def usernames(page: Page) -> Locator:
    return page.locator("table tbody tr td:nth-child(2)")


def open_row_menu(page: Page, username: str) -> Locator:
    """Open the row's "⋯" menu; returns the row."""
    row = award_row(page, username)
    row.get_by_label(f"Actions for {username}").click()
    expect(row.locator("details.row-menu")).to_have_attribute("open", "")
    return row


def message(page: Page) -> Locator:
    """The messages shown after a redirect (one status list at the top of the page)."""
    return page.locator("ul.messages")


def search_and_flag(page: Page, dialog: Locator, text: str, label: str) -> None:
    """Type into the dialog's search box, a key at a time (no Enter), and flag the result."""
    search = dialog.get_by_label("Search users, groups and branches")
    search.fill("")
    search.press_sequentially(text, delay=30)
    result = dialog.locator("#award-results").get_by_label(label)
    expect(result).to_be_visible()
    expect(result).not_to_be_checked()
    # Flagging moves the result under Selected (a new checked copy), so a click, not check(): check()
    # would wait for the result itself, now gone, to show as checked.
    result.click()
    expect(dialog.locator("#award-selected").get_by_label(label)).to_be_checked()
    expect(result).to_have_count(0)


# --- 1. Award Users, then Edit, Unassign and Reinstate -------------------------------------------


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_award_users_to_a_group_and_a_branch_then_edit_unassign_and_reinstate(browser, live_server, width):
    data = Awarding()
    cert = data.certification
    today = timezone.localdate()
    page = open_page(browser, live_server, width)
    try:
        sign_in(page, "ada")

        # Certifications, then CERT-001: one holder so far.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Certifications").click()
        page.get_by_role("link", name="1 user — View Users of CERT-001").click()
        users_url = f"{live_server.url}{data.users_page}"
        expect(page).to_have_url(users_url)
        expect(page.get_by_role("heading", name="CERT-001 — Basic Life Support")).to_be_visible()
        expect(page.get_by_text("1 user holds this certification.")).to_be_visible()
        expect(usernames(page)).to_have_text(["noel"])

        # Award Users opens the dialog over the page, focused on the search box (once the page has
        # loaded: clicked before its scripts have run, the link opens Award Users as a page of its own).
        dialog = page.locator("dialog#award-dialog")
        expect(dialog).to_be_hidden()
        expect_scripts_ready(page)
        page.get_by_role("link", name="Award Users").click()
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("open", "")
        expect(page.locator("dialog#award-dialog:modal")).to_be_visible()  # modal: the page behind is inert
        expect(page).to_have_url(users_url)
        expect(dialog.get_by_role("heading", name="Award Users")).to_be_visible()
        expect(dialog).to_contain_text("Step 1 of 2")
        search = dialog.get_by_label("Search users, groups and branches")
        expect(search).to_be_focused()
        selected = dialog.locator("#award-selected")
        expect(selected).to_contain_text("Nothing selected yet.")

        # Results appear as one types (no Enter); what is flagged moves under Selected.
        search_and_flag(page, dialog, "Night", "Group: Night shift")
        expect(selected.get_by_label("Group: Night shift")).to_be_checked()
        expect(selected).not_to_contain_text("Nothing selected yet.")
        search_and_flag(page, dialog, "theatres", "Branch: Theatres")
        expect(dialog.locator("#award-results")).not_to_contain_text("Night shift")  # a new search
        expect(selected.locator("li")).to_have_text(["Group: Night shift", "Branch: Theatres (THR)"])
        expect(selected.get_by_role("checkbox")).to_have_count(2)
        for box in selected.get_by_role("checkbox").all():
            expect(box).to_be_checked()
        expect(dialog.get_by_label("Include the sub-units of the selected branches")).to_be_checked()
        shot(page, "award-dialog-pick")

        # Next: step 2 replaces step 1 inside the dialog.
        dialog.get_by_role("button", name="Next").click()
        expect(dialog).to_contain_text("Step 2 of 2")
        expect(dialog).to_be_visible()
        expect(page).to_have_url(users_url)
        summary = dialog.locator("#award-summary")
        expect(summary).to_have_text(
            "6 users selected: 5 will be awarded, 1 already holds CERT-001 and will be skipped."
        )
        expect(summary).not_to_contain_text("background job")
        expect(dialog.get_by_label("Issue date")).to_have_value(today.isoformat())
        expect(dialog.get_by_label("Expiration date")).to_have_value(
            (today + dt.timedelta(days=365)).isoformat()
        )
        expect(dialog.get_by_label("Always valid")).not_to_be_checked()
        association = dialog.get_by_label("Association type", exact=True)
        expect(association).to_have_value(Award.AssociationType.MANUAL)
        association.select_option(label="External training activity")
        dialog.get_by_role("textbox", name="External training activity").fill(ACTIVITY)
        shot(page, "award-dialog-terms")
        assert not Award.objects.filter(association_type=EXTERNAL).exists()  # nothing yet

        # Confirm: the Awarded Users page again, with the new holders.
        dialog.get_by_role("button", name="Confirm").click()
        expect(message(page)).to_have_text(
            "5 users were awarded CERT-001. 1 already held it and was skipped."
        )
        expect(page).to_have_url(users_url)
        expect(dialog).to_be_hidden()
        expect(page.get_by_text("6 users hold this certification.")).to_be_visible()
        expect(usernames(page)).to_have_text(sorted(data.newcomers | {"noel"}))  # by User ID, U-<username>
        expiry = (today + dt.timedelta(days=365)).isoformat()
        expect(award_row(page, "rosa")).to_contain_text(expiry)
        expect(award_row(page, "rosa").locator("td:nth-child(8)")).to_have_text(
            f"External training activity: {ACTIVITY}"
        )
        expect(award_row(page, "olga")).to_have_count(0)
        awarded = Award.objects.filter(certification=cert, association_type=EXTERNAL)
        assert set(awarded.values_list("user__username", flat=True)) == data.newcomers
        assert {(a.issue_date, a.expiration_date, a.always_valid, a.external_activity) for a in awarded} == {
            (today, today + dt.timedelta(days=365), False, ACTIVITY)
        }
        assert Award.objects.get(user=data.noel).association_type == Award.AssociationType.MANUAL  # skipped
        shot(page, "awarded-users")
        # The page fits the screen: the table scrolls inside its box, the page does not scroll sideways.
        expect_fits_the_screen(page)

        # Edit rosa's award: an expiration before the issue date is refused, and says so.
        menu = open_row_menu(page, "rosa")
        shot(page, "awarded-users-row-menu")  # for a person to look at where the open menu lands
        menu.get_by_role("link", name="Edit").click()
        expect(page.get_by_role("heading", name="Edit CERT-001 for Rosa Sato (rosa)")).to_be_visible()
        expect(page.get_by_label("Issue date")).to_have_value(today.isoformat())
        expect(page.get_by_label("Association type", exact=True)).to_have_value(EXTERNAL)
        expect(page.get_by_label("External training activity")).to_have_value(ACTIVITY)
        shot(page, "award-edit")
        day_before = (today - dt.timedelta(days=1)).isoformat()
        page.get_by_label("Expiration date").fill(day_before)
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("alert")).to_contain_text(
            f"The expiration date {day_before} is before the issue date {today.isoformat()}."
        )
        expect(page.get_by_label("Expiration date")).to_have_value(day_before)  # kept to correct
        assert Award.objects.get(user=data.rosa).expiration_date == today + dt.timedelta(days=365)

        # Ticking Always valid clears the expiration date and disables it; unticking gives it back.
        always, expiration = page.get_by_label("Always valid"), page.get_by_label("Expiration date")
        always.check()
        expect(expiration).to_be_disabled()
        expect(expiration).to_have_value("")
        always.uncheck()
        expect(expiration).to_be_enabled()
        expect(expiration).to_have_value(day_before)
        always.check()
        expect(expiration).to_be_disabled()
        page.get_by_role("button", name="Confirm").click()
        expect(message(page)).to_have_text("The award of rosa is saved.")
        expect(page).to_have_url(users_url)
        rosa = award_row(page, "rosa")
        expect(rosa.locator("td:nth-child(7)")).to_have_text("Always valid")
        expect(rosa.locator("td:nth-child(6)")).to_have_text("—")  # no days left to count
        edited = Award.objects.get(user=data.rosa)
        assert (edited.always_valid, edited.expiration_date, edited.external_activity) == (
            True,
            None,
            ACTIVITY,
        )

        # Unassign rafe's award, after a confirmation page.
        open_row_menu(page, "rafe").get_by_role("link", name="Unassign").click()
        expect(page.get_by_role("heading", name="Unassign CERT-001 from Rafe Tan?")).to_be_visible()
        expect(page.locator("main")).to_contain_text("rafe will no longer hold CERT-001")
        page.get_by_role("button", name="Unassign").click()
        expect(message(page)).to_have_text(
            "CERT-001 is unassigned from rafe. Reinstate it from the Removed list."
        )
        expect(page).to_have_url(users_url)
        expect(page.get_by_text("5 users hold this certification.")).to_be_visible()
        expect(award_row(page, "rafe")).to_have_count(0)
        assert Award.objects.get(user=data.rafe).status == Award.Status.REMOVED

        # The Removed list shows it, with Reinstate.
        page.get_by_label("Status").select_option(label="Removed (unassigned)")
        page.get_by_role("search", name="Search users").get_by_role("button", name="Search").click()
        expect(page).to_have_url(f"{users_url}?q=&status=removed&days=30")
        expect(usernames(page)).to_have_text(["rafe"])
        expect(award_row(page, "rafe").locator("td:nth-child(9)")).to_have_text("Removed")
        reinstate = open_row_menu(page, "rafe").get_by_role("button", name="Reinstate")
        expect(award_row(page, "rafe").get_by_role("link", name="Edit")).to_have_count(0)
        reinstate.click()
        expect(message(page)).to_have_text("CERT-001 is active again for rafe.")
        expect(page).to_have_url(f"{users_url}?status=removed")
        expect(award_row(page, "rafe")).to_have_count(0)  # no longer removed
        assert Award.objects.get(user=data.rafe).status == Award.Status.ACTIVE

        # Back on the current holders: rafe is active again, with his award as it was.
        page.goto(data.users_page)
        expect(page.get_by_text("6 users hold this certification.")).to_be_visible()
        expect(award_row(page, "rafe").locator("td:nth-child(9)")).to_have_text("Active")
        expect(award_row(page, "rafe")).to_contain_text(expiry)
        expect_fits_the_screen(page)
    finally:
        page.context.close()


# --- 2. More than the immediate limit: the summary announces a background job --------------------


def test_more_than_a_hundred_users_the_summary_announces_a_background_job(browser, live_server):
    data = Awarding()
    many = User.objects.bulk_create(
        User(username=f"porter{n:03d}", user_id=f"U-PORTER{n:03d}") for n in range(IMMEDIATE_LIMIT + 1)
    )
    porters = GroupFactory(name="Porters")
    porters.members.add(*many)
    page = open_page(browser, live_server)
    try:
        sign_in(page, "ada")
        page.goto(data.users_page)
        page.get_by_role("link", name="Award Users").click()
        dialog = page.locator("dialog#award-dialog")
        search_and_flag(page, dialog, "Porters", "Group: Porters")
        dialog.get_by_role("button", name="Next").click()
        summary = dialog.locator("#award-summary")
        expect(summary).to_contain_text("101 users selected: 101 will be awarded.")
        expect(summary).to_contain_text(
            f"More than {IMMEDIATE_LIMIT} users: the award will run as a background job, "
            "with its progress and a results file."
        )
        assert not Award.objects.filter(user__in=many).exists()
    finally:
        page.context.close()


# --- The row menu: reachable, and every item clickable on the first and the last row -----------

# Scroll the page, never the table: what is beyond the table's own sideways scroll stays so.
INTO_VIEW = "el => window.scrollBy(0, el.getBoundingClientRect().top - window.innerHeight / 2)"
CLICKABLE = """el => {
    const box = el.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return hit !== null && (hit === el || el.contains(hit));
}"""


@pytest.mark.parametrize("width", [WIDE, NARROW], ids=["1280px", "375px"])
def test_the_row_menu_of_the_first_and_last_rows_is_reachable_and_every_item_clickable(
    browser, live_server, width
):
    ada = grant(person("ada", "Ada", "Admin"), VIEW_CERTIFICATIONS, AWARD_CERTIFICATIONS)
    assert ada.is_active
    cert = CertificationFactory(code="CERT-001", title="Basic Life Support " + "with a long title " * 3)
    holders = [person(f"holder{n:02d}", "Firstname", f"Lastname-with-a-long-name-{n}") for n in range(12)]
    award_many(cert, holders)
    page = open_page(browser, live_server, width)
    try:
        sign_in(page, "ada")
        page.goto(f"/certifications/{cert.pk}/users/")
        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(12)
        expect_fits_the_screen(page)
        for row in (rows.first, rows.last):
            summary = row.locator("details.row-menu summary")
            # Reachable without scrolling the table sideways: the actions cell stays at its right edge.
            summary.evaluate(INTO_VIEW)
            expect(summary).to_be_in_viewport(ratio=1)
            assert summary.evaluate(CLICKABLE), "the ⋯ button is covered or cut off"
            summary.click()
            for name in ("Edit", "Unassign"):
                item = row.get_by_role("link", name=name)
                item.evaluate(INTO_VIEW)
                expect(item).to_be_in_viewport(ratio=1)
                assert item.evaluate(CLICKABLE), f"{name} is clipped by the table's box"
            shot(page, "awarded-users-row-menu-open")
            summary.click()  # close it again
        rows.last.locator("details.row-menu summary").click()
        rows.last.get_by_role("link", name="Unassign").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Unassign")
    finally:
        page.context.close()
