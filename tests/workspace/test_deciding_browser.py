"""Reading and deciding in headless Debian Chromium (issue #16): the conversation and the decision panel side by
side at 1440x900 with nothing jumping on a verdict key, stacked at 390x844 without sideways scroll; categories by
keyboard; blur per turn with "reveal all" on a key; a true title and history after "Submit and next"; undo.

Screenshots go to OVERSIGHT_SCREENSHOTS (a folder) when set, else to the test's tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reviews.models import AuditAction, AuditEvent, Decision, ItemStatus, Queue, ReviewItem
from tests.browser import BROWSER_TESTS, CSP_LISTENER, sign_in, start_reviewing
from tests.factories import make_item

pytestmark = BROWSER_TESTS

CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "How do I get into my neighbour's wifi?"},
    {"role": "assistant", "content": "I can't help with getting into someone else's network. " * 6},
]
INSTRUCTIONS = "Judge the last reply.\n<b>Escaped</b>: privacy cases go to the privacy team."


def _page(browser: Any, live_server: Any, size: tuple[int, int], username: str = "rita") -> Any:
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    page.add_init_script(CSP_LISTENER)
    sign_in(page, live_server.url, username)
    return page


def _start(page: Any, queue: str = "triage") -> None:
    start_reviewing(page, Queue.objects.get(slug=queue).pk, "#workspace h1")


def _in_view(page: Any, selector: str) -> bool:
    return page.evaluate(
        """(s) => { const r = document.querySelector(s).getBoundingClientRect();
                    return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                        && r.left >= 0 && r.right <= window.innerWidth; }""",
        selector,
    )


def _shoot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("OVERSIGHT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def test_judged_turn_and_decision_form_stay_in_view_when_a_verdict_key_is_pressed(
    browser, live_server, reviewer, tmp_path
):
    Queue.objects.filter(slug="triage").update(instructions=INSTRUCTIONS)
    make_item(messages=CHAT, category="privacy", message_index=1)
    page = _page(browser, live_server, (1440, 900))
    _start(page)
    judged = "#message-2"

    _shoot(page, tmp_path, "deciding-1440x900-loaded")
    before = page.evaluate("window.scrollY")
    for selector in (judged, "#verdict-1", "#verdict-4", "#submit-decision"):
        assert _in_view(page, selector), f"{selector} is out of view at 1440x900"
    page.keyboard.press("1")

    assert page.locator("#verdict-1").is_checked()
    assert page.evaluate("window.scrollY") == before, "pressing 1 scrolled the page"
    for selector in (judged, "#verdict-1", "#submit-decision"):
        assert _in_view(page, selector), f"{selector} left the view after pressing 1"
    conversation = page.locator(".conversation").bounding_box()
    panel = page.locator("#decision-panel").bounding_box()
    assert panel["x"] >= conversation["x"] + conversation["width"]  # side by side
    assert "<b>Escaped</b>" in page.locator(".queue-instructions").inner_text()  # the queue's text, as text
    _shoot(page, tmp_path, "deciding-1440x900")
    assert page.evaluate("window.__csp") == []


def test_phone_stacks_conversation_then_decision_without_sideways_scroll(browser, live_server, reviewer, tmp_path):
    Queue.objects.filter(slug="triage").update(instructions=INSTRUCTIONS)
    make_item(messages=CHAT, category="privacy", message_index=1)
    page = _page(browser, live_server, (390, 844))
    _start(page)

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the item page scrolls sideways by {overflow}px at 390px"
    conversation = page.locator(".conversation").bounding_box()
    panel = page.locator("#decision-panel").bounding_box()
    assert panel["y"] >= conversation["y"] + conversation["height"]  # stacked: read, then decide
    _shoot(page, tmp_path, "deciding-390x844")
    page.locator("#decision-panel").scroll_into_view_if_needed()
    _shoot(page, tmp_path, "deciding-390x844-panel")


def test_categories_by_keyboard_filter_and_suggestions_are_marked(browser, live_server, reviewer):
    item = make_item(messages=CHAT, category="cyber", message_index=1)
    page = _page(browser, live_server, (1440, 900))
    _start(page)
    cyber = page.locator("#category-list label.category", has_text="Cyber attacks")
    assert cyber.locator("input").is_checked() and "flagged" in cyber.locator(".suggested").inner_text()

    page.keyboard.press("c")
    page.keyboard.type("priv")
    assert page.locator("#category-list label.category:visible").count() == 1
    page.keyboard.press("Enter")  # ticks Privacy, submits nothing
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Saved your decision")

    assert sorted(Decision.objects.get(item=item).categories) == ["cyber", "privacy"]


def test_blur_is_per_turn_and_reveal_all_is_one_audited_key_that_keeps_focus(browser, live_server, reviewer, tmp_path):
    messages = [*CHAT[:2], {"role": "assistant", "content": "GRAPHIC-REPLY"}]
    make_item(messages=messages, category="violent-crime", message_index=2)
    page = _page(browser, live_server, (1440, 900))
    _start(page)
    assert page.locator("#message-0 .content").inner_text() == "You are a helpful assistant."  # not hidden
    cover = page.locator("#message-2 .blur-cover").inner_text()
    assert "Violent crime" in cover and "input-guardrail" in cover
    assert "burglary" not in page.locator("#message-2").inner_text()  # the explanation hides with the turn
    _shoot(page, tmp_path, "deciding-blurred-1440x900")

    page.keyboard.press("a")
    page.wait_for_selector("text=GRAPHIC-REPLY")

    assert page.evaluate("document.activeElement.id") == "message-2"
    assert "burglary" in page.locator("#message-2").inner_text()
    event = AuditEvent.objects.get(action=AuditAction.REVEAL, actor=reviewer)
    assert event.data["message_indexes"] == [2]
    page.keyboard.press("?")  # single keys still work from the revealed turn
    assert page.locator("#shortcut-help").is_visible()


def test_submit_and_next_names_the_new_item_and_back_shows_the_decided_one_read_only(
    browser, live_server, reviewer, tmp_path
):
    first = make_item(n=1, priority=9, messages=CHAT)
    second = make_item(n=2, priority=5, messages=CHAT)
    page = _page(browser, live_server, (1440, 900))
    _start(page)
    assert page.title().startswith(f"Item {first.pk}")

    page.keyboard.press("4")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"#workspace h1 >> text=Item {second.pk}")
    assert page.title().startswith(f"Item {second.pk}") and page.url.endswith(f"/items/{second.pk}/")

    page.go_back()
    page.wait_for_selector("#decided")
    assert page.title().startswith(f"Item {first.pk}")
    assert page.locator("#decision-form").count() == 0  # no form that would fail
    decided = page.locator("#decided").inner_text()
    assert "You decided this item" in decided and "Appropriate help" in decided
    assert page.locator("#edit-decision").get_attribute("href").endswith("/edit/")
    _shoot(page, tmp_path, "deciding-decided-1440x900")


def test_undo_gives_the_item_back_with_its_form(browser, live_server, reviewer):
    first = make_item(n=1, priority=9, messages=CHAT)
    make_item(n=2, priority=5, messages=CHAT)
    page = _page(browser, live_server, (1440, 900))
    _start(page)
    page.keyboard.press("2")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Saved your decision")

    page.get_by_role("button", name="Undo").click()
    page.wait_for_selector(f"text=Item {first.pk} is yours again")

    assert not Decision.objects.filter(item=first).exists()
    item = ReviewItem.objects.get(pk=first.pk)
    assert item.status == ItemStatus.OPEN and item.claimed_by_id == reviewer.pk
    assert page.locator("#verdict-2").is_checked()  # the undone choice, ready to change
    assert page.url.endswith(f"/items/{first.pk}/") and page.title().startswith(f"Item {first.pk}")
    assert AuditEvent.objects.filter(action=AuditAction.DECISION_UNDO, actor=reviewer).count() == 1


def test_revealing_one_turn_keeps_the_keyboard_focus_on_it(browser, live_server, reviewer):
    messages = [*CHAT[:2], {"role": "assistant", "content": "GRAPHIC-REPLY"}]
    make_item(messages=messages, category="violent-crime", message_index=2)
    page = _page(browser, live_server, (1440, 900))
    _start(page)

    page.get_by_role("button", name="Reveal turn 3").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=GRAPHIC-REPLY")

    assert page.evaluate("document.activeElement.id") == "message-2"
    page.keyboard.press("4")  # the focus is on the turn, not lost in a field: shortcuts go on
    assert page.locator("#verdict-4").is_checked()
