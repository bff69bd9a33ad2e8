"""What the browser tests watch for: any Content-Security-Policy violation a page reports.

Chromium reports each blocked script, style or resource on the console ("Refused to … because it
violates the following Content Security Policy directive"), and fires ``securitypolicyviolation`` in
the page; both are recorded here, and the fixture ``no_csp_violations`` (conftest) fails the test.
"""

from __future__ import annotations

from typing import Any

VIOLATIONS: list[str] = []

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`
    + ` on ${document.location.pathname} (${event.sourceFile}:${event.lineNumber})`);
});
"""


def watch(context: Any) -> Any:
    """Record the violations of every page of a Playwright browser context; returns the context."""
    context.add_init_script(REPORT_VIOLATIONS)

    def on_console(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            VIOLATIONS.append(f"{message.page.url if message.page else '?'}: {text}")

    context.on("console", on_console)
    return context
