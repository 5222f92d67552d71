"""Shared set-up of the browser tests: Debian's Chromium through Playwright's sync API.

A test module sets `pytestmark = BROWSER_TESTS` and takes the `browser` fixture (tests/conftest.py).
Importing this module skips the importer when the `playwright` package is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
playwright_sync = pytest.importorskip("playwright.sync_api")

BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

# Runs before any page script, outside the page's CSP (Playwright injects it): the violations the page sees.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@contextmanager
def chromium() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def sign_in(page: Any, origin: str, username: str) -> None:
    """Through the login form, with the personas' password (tests/conftest.py)."""
    page.goto(f"{origin}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{origin}/")


def start_reviewing(page: Any, queue_pk: int, ready: str = "#workspace") -> None:
    """Press the queue's "Start reviewing" and wait for the page it lands on to be ready for keys: `ready` shown and
    the deferred scripts that bind the shortcuts run (the heading can paint before they have)."""
    page.locator(f"#queue-{queue_pk}").get_by_role("button", name="Start reviewing").click()
    page.wait_for_selector(ready)
    page.wait_for_load_state("load")
