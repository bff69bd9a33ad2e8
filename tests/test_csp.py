"""Content-Security-Policy: every page carries it, and no page holds code the policy would block.

The pages are found by following the links of the demo organisation's pages, as a superuser and as
a division administrator, so a page added later is covered without being listed here. The browser
tests do the other half: any violation a page reports in Chromium fails them (``tests/csp_watch.py``).
"""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from people.models import User

from .processes import cli_env
from .test_demo import demo_loaded

DIRECTIVES = {
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}
MAX_PAGES = 150
NEVER_FOLLOW = ("/logout/", "/static/")
# Data blocks are not run, so the policy does not apply to them (the admin's json_script).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class InlineCode(HTMLParser):
    """Collects what a default-src 'self' policy blocks in a page, and the page's own links."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not named.get("src") and named.get("type") not in DATA_SCRIPT_TYPES:
            self.blocked.append("an inline <script>")
        if tag == "style":
            self.blocked.append("a <style> element")
        for name, value in attrs:
            if name == "style":
                self.blocked.append(f'<{tag} style="{value}">')
            elif name.startswith("on"):
                self.blocked.append(f'<{tag} {name}="{value}">')
            elif name == "href" and value and value.startswith("javascript:"):
                self.blocked.append(f'<{tag} href="{value}">')
        if tag == "a" and named.get("href", "").startswith("/"):
            self.links.append(named["href"] or "")


def policy_of(response) -> set[str]:  # type: ignore[no-untyped-def]
    header = response.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy header"
    return {part.strip() for part in header.split(";")}


def inline_code(response) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    if not response.get("Content-Type", "").startswith("text/html"):
        return [], []
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.blocked, parser.links


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with demo_loaded(django_db_blocker):
        yield


def crawl(client: Client, start: list[str]) -> dict[str, list[str]]:
    """Every page reachable by links from ``start`` (one URL per path), with what it would have blocked."""
    seen: set[str] = set()
    queue = deque(start)
    found: dict[str, list[str]] = {}
    while queue and len(found) < MAX_PAGES:
        url = queue.popleft()
        path = url.split("?")[0].split("#")[0]
        if path in seen or path.startswith(NEVER_FOLLOW):
            continue
        seen.add(path)
        response = client.get(url)
        assert policy_of(response) >= DIRECTIVES, f"{url}: {response['Content-Security-Policy']}"
        blocked, links = inline_code(response)
        found[url] = blocked
        queue.extend(links)
    return found


@pytest.mark.parametrize("username", ["admin", "alice"])
def test_every_page_carries_the_policy_and_holds_no_inline_code(demo, db, username):
    client = Client()
    client.force_login(User.objects.get(username=username))
    pages = crawl(client, ["/", "/admin/", "/admin/people/user/", "/api/docs/"])

    assert len(pages) > 25, f"the crawl found only {sorted(pages)}"
    assert {url: blocked for url, blocked in pages.items() if blocked} == {}


def test_the_pages_without_a_session_and_the_error_pages_carry_it_too(demo, db):
    anonymous = Client()
    for url, status in (("/login/", 200), ("/admin/login/", 200), ("/jobs/", 302), ("/no-such-page/", 404)):
        response = anonymous.get(url)
        assert response.status_code == status
        assert policy_of(response) >= DIRECTIVES
        assert inline_code(response)[0] == []
    signed_in = Client()
    signed_in.force_login(User.objects.get(username="sam"))
    refused = signed_in.get("/tools/certification-removal/")
    assert refused.status_code == 403
    assert policy_of(refused) >= DIRECTIVES
    assert policy_of(signed_in.get("/api/v1/jobs/999999/"))  # the API's answers carry it as well


def test_the_api_docs_keep_their_script_in_a_file_of_their_own(demo, db):
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    page = client.get("/api/docs/")
    assert inline_code(page)[0] == []
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def policy_printed(**environment: str) -> str:
    """The header a server configured by these variables sends (a new process: settings are read once)."""
    code = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='127.0.0.1').get('/login/');"
        "print(r.get('Content-Security-Policy', '-')); print(r.get('Content-Security-Policy-Report-Only', '-'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env={**cli_env(), **environment, "DJANGO_SETTINGS_MODULE": "certdesk.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    enforced, report_only = done.stdout.strip().splitlines()[-2:]
    return f"{enforced}\n{report_only}"


def test_an_operator_can_collect_reports_and_try_the_policy_in_report_only_mode():
    enforced, report_only = policy_printed(CERTDESK_CSP_REPORT_URI="/csp-reports/").split("\n")
    assert "report-uri /csp-reports/" in enforced and report_only == "-"

    enforced, report_only = policy_printed(CERTDESK_CSP_REPORT_ONLY="1").split("\n")
    assert enforced == "-" and "default-src 'self'" in report_only
