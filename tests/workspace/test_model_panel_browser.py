"""The item page's model panel in headless Debian Chromium, on a desktop and a phone screen: the verdict grid,
the top categories, the fallback marked, retired models folded away, nothing overflowing, the CSP holding.

Set OVERSIGHT_SCREENSHOTS to a folder to keep the screenshots for a look.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from reviews.models import Score, ScoringModel
from tests.browser import BROWSER_TESTS, CSP_LISTENER, sign_in
from tests.workspace.test_workspace_views import make_item

pytestmark = BROWSER_TESTS

HOSTILE_SLUG = '<img src="/boom-slug" onerror="alert(1)">'
GRID = {"harmful_compliance": 0.07, "appropriate_refusal": 0.11, "over_refusal": 0.74, "appropriate_help": 0.08}
SCREENS = [pytest.param((1440, 900), id="desktop"), pytest.param((390, 844), id="phone")]


def _scored_item() -> int:
    item = make_item()  # carries the detectors' fallback score
    cid = item.conversation_id
    retired = ScoringModel.objects.create(version=1, encoder="e", labels=[], status="retired")
    active = ScoringModel.objects.create(version=2, encoder="e", labels=[], status="active")
    categories = {"cyber": 0.12, "fraud": 0.05, "privacy": 0.31, "harassment": 0.02, HOSTILE_SLUG: 0.2}
    Score.objects.create(conversation_id=cid, producer="model-v1", scoring_model=retired, categories={}, risk=0.93)
    Score.objects.create(
        conversation_id=cid, producer="model-v2", scoring_model=active, categories=categories, risk=0.07, verdicts=GRID
    )
    return item.pk


@pytest.mark.parametrize("screen", SCREENS)
def test_model_panel_reads_on_desktop_and_phone_under_the_csp(browser, live_server, reviewer, tmp_path, screen):
    item = _scored_item()
    width, height = screen
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.add_init_script(CSP_LISTENER)
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, live_server.url, "rita")

    page.goto(f"{live_server.url}/items/{item}/")
    panel = page.locator("#model-panel")
    panel.scroll_into_view_if_needed()

    current = panel.locator(".score").first
    assert "model v2" in current.inner_text() and "active" in current.inner_text()
    assert current.locator(".verdict-list meter").count() == 4
    assert current.locator(".verdict-over_refusal .num").inner_text() == "0.74"
    names = current.locator(".risk-list bdi").all_inner_texts()
    assert names[0] == "Privacy and PII"  # the highest first, by its taxonomy name
    assert HOSTILE_SLUG in names  # shown as text
    assert "Risk is P(harmful compliance)" in panel.inner_text()
    assert "detectors' own" in panel.inner_text()
    retired = panel.locator("details.retired-scores")
    assert not retired.locator(".score").is_visible()  # folded away
    _shoot(page, panel, tmp_path, f"model-panel-{width}x{height}")
    retired.locator("summary").click()
    assert retired.locator(".score").is_visible() and "0.93" in retired.inner_text()

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    assert page.evaluate("window.__csp") == [] and dialogs == []
    assert not any("boom" in url for url in requests)


def _shoot(page: Any, panel: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("OVERSIGHT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}-page.png"))
    panel.screenshot(path=str(folder / f"{name}.png"))
