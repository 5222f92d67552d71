"""In Chromium, on a desktop and a phone screen: a reviewer opens a campaign from the campaigns page, decides a
sample of it, applies the sample's verdict to the rest, then reverts it; hostile request text stays text, nothing
scrolls sideways, the CSP holds.

Set OVERSIGHT_SCREENSHOTS to a folder to keep the screenshots for a look.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from reviews.models import Campaign, Decision, ItemStatus, ReviewItem
from tests.browser import BROWSER_TESTS, CSP_LISTENER, sign_in
from tests.campaigns.conftest import member

pytestmark = BROWSER_TESTS
SCREENS = [pytest.param((1440, 900), id="desktop"), pytest.param((390, 844), id="phone")]
# One word to the shingles (punctuation splits words), so the request stays a near-duplicate; a tag if unescaped.
HOSTILE = "<marquee>"


def _shoot(page: Any, name: str) -> None:
    folder = Path(os.environ.get("OVERSIGHT_SCREENSHOTS") or "/tmp")  # noqa: S108  (screenshots to look at)
    page.screenshot(path=str(folder / f"campaigns-{name}.png"), full_page=True)


def _no_sideways_scroll(page: Any, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"


@pytest.mark.parametrize("screen", SCREENS)
def test_a_sample_is_decided_applied_to_the_campaign_and_reverted(browser, live_server, reviewer, screen):
    for n in range(5):
        member(n)
    member(5, word=HOSTILE)
    campaign = Campaign.objects.get()
    width, height = screen
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.add_init_script(CSP_LISTENER)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    sign_in(page, live_server.url, "rita")

    page.goto(f"{live_server.url}/campaigns/")
    assert page.locator(f"#campaign-{campaign.pk} td.num").first.inner_text() == "6"
    _no_sideways_scroll(page, width)
    _shoot(page, f"list-{width}")
    page.click(f"#campaign-{campaign.pk} a")
    page.wait_for_url(f"**/campaigns/{campaign.pk}/")
    assert page.locator(".request").filter(has_text=HOSTILE).count() == 1  # the hostile word, as text
    assert page.locator("mark.changed").count() >= 4  # each other member's changed word, against the first
    assert page.locator(".request marquee").count() == 0

    for done in range(1, 4):
        form = page.locator("form.sample-decide").first
        form.locator("select").select_option("harmful_compliance")
        form.locator("button").click()
        page.locator("#sample-count").filter(has_text=str(done)).wait_for()
    _no_sideways_scroll(page, width)
    _shoot(page, f"sampled-{width}")

    page.click("#bulk-apply")
    page.locator(".notice").filter(has_text="Applied to 3 open members").wait_for()
    assert Decision.objects.filter(bulk__isnull=False).count() == 3
    assert not ReviewItem.objects.filter(status=ItemStatus.OPEN).exists()
    _shoot(page, f"applied-{width}")

    bulk = campaign.bulk_verdicts.get()
    page.click(f"#bulk-revert-{bulk.pk}")
    page.locator(".notice").filter(has_text="Reverted: 3 members are open again").wait_for()
    assert ReviewItem.objects.filter(status=ItemStatus.OPEN).count() == 3
    assert not Decision.objects.filter(bulk__isnull=False).exists()
    assert page.locator(f"#bulk-{bulk.pk} .badge.revoked").count() == 1
    _no_sideways_scroll(page, width)
    _shoot(page, f"reverted-{width}")

    assert len(dialogs) == 2  # the apply and the revert confirmations, nothing from the hostile text
    assert page.evaluate("window.__csp") == []
