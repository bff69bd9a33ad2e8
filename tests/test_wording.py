"""One spelling across the product: British "licence" in its own sentences and labels; the published
labels administrators know from the commercial tools ("Export Available Licenses", the import file's
"License code" column) stay as published."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from django.test import Client

from people.models import User

from .test_demo import demo_loaded

PUBLISHED = (
    "Export Available Licenses",
    "Licenses and Certifications Spreadsheet",
    "Import Licenses and Certifications",
    "License code",
    "License Number",
)
AMERICAN = re.compile(r"\blicen[sc]es?\b", re.IGNORECASE)


class VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        for name, value in attrs:
            if name in ("title", "aria-label", "placeholder") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with demo_loaded(django_db_blocker):
        yield


def test_the_pages_spell_licence_the_british_way_outside_the_published_labels(demo, db):
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    learner = User.objects.filter(licenses__isnull=False).first()
    assert learner is not None
    pages = [
        "/",
        "/licences/",
        "/licences/add/",
        "/licences/import/",
        f"/people/{learner.user_id}/",
        "/jobs/",
        "/audit/",
    ]
    found = {}
    for url in pages:
        parser = VisibleText()
        parser.feed(client.get(url).content.decode())
        text = " ".join(" ".join(parser.parts).split())
        for label in PUBLISHED:
            text = text.replace(label, "")
        words = [m.group() for m in AMERICAN.finditer(text) if "licens" in m.group().lower()]
        if words:
            found[url] = words
    assert found == {}


def test_every_date_box_takes_and_shows_yyyy_mm_dd_as_the_tables_do(demo, db):
    from credentials.models import Award

    client = Client()
    client.force_login(User.objects.get(username="admin"))
    award = Award.objects.filter(status="active").select_related("certification").first()
    assert award is not None
    pages = [
        "/jobs/",
        "/tools/certification-removal/",
        "/audit/",
        "/licences/add/",
        f"/certifications/{award.certification_id}/awards/{award.pk}/edit/",
    ]
    boxes = 0
    for url in pages:
        html = client.get(url).content.decode()
        assert 'type="date"' not in html, f"{url} has a date box the browser shows in its own format"
        boxes += len(re.findall(r'<input[^>]*placeholder="YYYY-MM-DD"[^>]*>', html))
    assert boxes >= 9
