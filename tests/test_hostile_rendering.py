"""Hostile rendering in headless Chromium (issue #8): with the corpus of tests/hostile_corpus.py planted in
every text field, every page that shows conversation text opens no dialog, makes no request a payload
asked for, reports no CSP violation, holds no element a payload could have made, and shows the payloads as
literal text. The fast HTML-only companion is tests/test_hostile_rendering_html.py.

Needs Debian's Chromium at /usr/bin/chromium and the `playwright` package; skipped without them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from reviews.analytics.dashboards import DASHBOARDS
from reviews.analytics.rollup import analytics_rollup
from reviews.models import AuditEvent
from tests.browser import BROWSER_TESTS, CSP_LISTENER
from tests.hostile_corpus import BLURRED, BULK, BY_NAME, LONG_TAIL, MODELS, PAYLOADS, REASON, Planted, plant_corpus

pytestmark = BROWSER_TESTS

# What a payload would have to create to do harm. Our text regions (turns, explanations, rationales, reasons)
# hold text only, so there is nothing in them for htmx to process.
DOM_PROBE = """() => {
  const problems = [];
  const scriptUrl = /^(javascript|data|vbscript):/i;
  const markers = ['alert', 'leak', '127.0.0.1:1', '/logout/'];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      // (A style attribute from markup would be a CSP violation; the admin's scripts set some through the CSSOM.)
      if (name.startsWith('on') || name.startsWith('hx-on') || name.startsWith('data-hx'))
        problems.push(`${el.tagName} ${name}`);
      if (['href', 'src', 'action', 'formaction', 'data', 'srcdoc'].includes(name) && scriptUrl.test(value))
        problems.push(`${el.tagName} ${name}=${value}`);
      if ((name.startsWith('hx-') || name.startsWith('ws-')) && name !== 'hx-headers'
          && markers.some(m => value.includes(m)))
        problems.push(`${el.tagName} ${name}=${value}`);
    }
  }
  const active = 'iframe, frame, object, embed, base, math, template, style, noscript, video, audio, '
    + 'meta[http-equiv], script:not([src]):not([type="application/json"])';
  for (const el of document.querySelectorAll(active)) problems.push(`element ${el.tagName}`);
  const textRegions = '.turn .content, .explanation, #history .content, .my-escalations .content';
  for (const el of document.querySelectorAll(textRegions))
    if (el.children.length) problems.push(`markup inside a text region: ${el.innerHTML.slice(0, 80)}`);
  return problems;
}"""

# Requests a page makes by itself, besides the pages the test opens.
EXPECTED_REQUESTS = re.compile(
    r"^/(static/.*|favicon\.ico|login/|items/\d+/renew/|items/\d+/discussion/|items/\d+/messages/\d+/reveal/"
    r"|admin/jsi18n/)?$"
)
# Whether the score "0.85" in an element reads left to right on screen (a bidi override could turn it around).
SCORE_READS_FORWARD = """(element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf('0.85');
    if (at < 0) continue;
    const left = (i) => {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      return range.getBoundingClientRect().left;
    };
    return left(at) < left(at + 3);
  }
  return null;
}"""
SHOWN_EXACTLY = [
    "script_tag", "img_onerror", "svg_onload", "hx_get_on_load", "hx_post_logout", "data_hx_get",
    "django_template", "markdown_javascript_link", "markdown_image_leak", "noscript_mxss", "textarea_breakout",
    "nested_quotes", "html_entities", "meta_refresh", "base_href", "comment_breakout",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _media(media_root: Path) -> None:
    """Escalations and snapshots may write files: each test gets its own folder."""


@pytest.fixture
def planted(api, reviewer, senior, django_user_model) -> Planted:
    root = django_user_model.objects.create_superuser("root", password="pw-root")
    return plant_corpus(api=api, reviewer=reviewer, senior=senior, admin=root)


class Session:
    """One signed-in browser context that records dialogs, requests and CSP violations on every page."""

    def __init__(self, browser: Any, origin: str, username: str) -> None:
        self.origin = origin
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.csp: list[str] = []
        self.opened: set[str] = set()
        context = browser.new_context()
        context.add_init_script(CSP_LISTENER)
        self.page = page = context.new_page()
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{origin}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", f"pw-{username}")
        page.click("button[type=submit]")
        page.wait_for_url(f"{origin}/")

    def open(self, path: str, *, probe: bool = True) -> Any:
        self.opened.add(urlsplit(path).path)
        self.page.goto(f"{self.origin}{path}")
        self.settle(probe=probe)
        return self.page

    def settle(self, *, probe: bool = True) -> None:
        """Give leaked markup its chance (htmx "load" triggers, onerror, refresh), then look at the page."""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(300)
        assert self.page.url.startswith(self.origin), f"navigated away (a refresh, base or form?): {self.page.url}"
        self.csp.extend(self.page.evaluate("window.__csp || []"))
        if probe:
            assert self.page.evaluate(DOM_PROBE) == [], self.page.url

    def assert_nothing_fired(self) -> None:
        assert self.dialogs == []
        assert self.csp == []
        strays = []
        for url in self.requests:
            parts = urlsplit(url)
            same_origin = f"{parts.scheme}://{parts.netloc}" == self.origin
            if not same_origin or not (parts.path in self.opened or EXPECTED_REQUESTS.match(parts.path)):
                strays.append(url)
        assert strays == []
        assert not any("leak" in url or "127.0.0.1:1" in url for url in self.requests)


def text_of(page: Any, selector: str) -> str:
    locator = page.locator(selector)
    assert locator.count() == 1, selector
    assert locator.is_visible(), selector
    return str(locator.text_content())


def test_reviewer_and_senior_pages_show_the_corpus_as_inert_text(planted, browser, live_server):
    rita = Session(browser, live_server.url, "rita")
    page = rita.open(f"/items/{planted.held.pk}/")

    for index, payload in enumerate(PAYLOADS):
        if payload.name in SHOWN_EXACTLY:
            assert text_of(page, f"#message-{index} .content") == payload.text, payload.name
    assert page.get_by_text(BY_NAME["script_tag"].text, exact=True).first.is_visible()
    assert page.locator(".flag .explanation").count() >= len(PAYLOADS)
    assert page.get_by_text(BY_NAME["very_long_line"].text[:100], exact=True).first.is_visible()  # a category

    # A detector's name or category that ends inside a right-to-left override does not turn the score around.
    spoof = PAYLOADS.index(BY_NAME["bidi_unterminated_override"])
    assert page.locator(f"#message-{spoof} .flag").evaluate(SCORE_READS_FORWARD) is True
    for more in page.locator("#model-panel details.more-categories summary").all():  # beyond the top five
        more.click()
    assert page.locator(".risk-list li", has_text="spoof").evaluate(SCORE_READS_FORWARD) is True

    # A long turn opens in place; its tail is text too.
    long = PAYLOADS.index(BY_NAME["very_long_line"])
    page.locator(f"#message-{long} summary").click()
    assert text_of(page, f"#message-{long} details > .content").endswith(LONG_TAIL)

    # Revealing the blurred turn swaps it in with htmx, which processes whatever it swaps.
    assert BLURRED not in str(page.content())
    page.get_by_role("button", name=f"Reveal turn {planted.blurred_index + 1}").click()
    page.wait_for_selector(f"#message-{planted.blurred_index} .content")
    rita.settle()
    assert text_of(page, f"#message-{planted.blurred_index} .content") == BLURRED

    rita.open(f"/items/{planted.decided.pk}/")
    assert text_of(page, "#history .decision .content") == BULK
    rita.open("/my/work/")
    assert page.locator(f"#decision-{planted.decision.pk}").is_visible()
    rita.open(f"/my/work/{planted.decision.pk}/edit/")
    assert page.locator("#id_rationale").input_value() == BULK
    assert page.locator("#id_preferred_response").input_value() == BULK
    rita.open("/my/escalations/")
    assert text_of(page, f"#escalation-{planted.escalation.pk} td.content") == REASON
    assert text_of(page, f"#escalation-{planted.escalation.pk} span.content") == BULK
    rita.open("/")

    sam = Session(browser, live_server.url, "sam")
    page = sam.open(f"/items/{planted.senior_item.pk}/")
    assert text_of(page, "#history .escalation .content") == REASON
    assert text_of(page, "#history .decision .content") == BULK
    sam.open(f"/items/{planted.decided.pk}/")  # seniors see reviewers' decisions in blind queues
    assert text_of(page, "#history .decision .content") == BULK

    rita.assert_nothing_fired()
    sam.assert_nothing_fired()


def _readonly(page: Any, field: str) -> str:
    """A read-only admin field's text as the DOM holds it (line breaks are <br> there)."""
    return str(page.locator(f".field-{field} .readonly").text_content())


def _lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]


def test_admin_dataset_analytics_and_api_pages_show_the_corpus_as_inert_text(planted, browser, live_server):
    root = Session(browser, live_server.url, "root")
    conversation = planted.held.conversation_id
    audit = AuditEvent.objects.filter(target_type="reviews.escalation").values_list("pk", flat=True).first()

    page = root.open("/admin/reviews/conversation/")
    assert page.get_by_text(planted.held.conversation.external_id, exact=True).first.is_visible()
    page = root.open(f"/admin/reviews/conversation/{conversation}/change/")
    # The review record is read-only in the admin: values show as text (JSON for messages and metadata).
    assert BY_NAME["svg_script"].text in _readonly(page, "messages")
    assert BY_NAME["textarea_breakout"].text in _readonly(page, "metadata")
    assert page.get_by_text(BY_NAME["hx_get_on_load"].text, exact=True).first.is_visible()  # flags inline
    root.open(f"/admin/reviews/conversation/?q={BY_NAME['script_tag'].text}")
    root.open(f"/admin/reviews/reviewitem/{planted.held.pk}/change/")
    page = root.open(f"/admin/reviews/decision/{planted.decision.pk}/change/")
    assert all(line in _readonly(page, "rationale") for line in _lines(BULK))
    page = root.open(f"/admin/reviews/escalation/{planted.escalation.pk}/change/")
    assert all(line in _readonly(page, "reason") for line in _lines(REASON))
    root.open("/admin/reviews/auditevent/")
    root.open(f"/admin/reviews/auditevent/{audit}/change/")

    page = root.open("/datasets/")
    assert page.locator(f"#dataset-{planted.dataset.pk}").is_visible()
    root.open(f"/datasets/{planted.dataset.pk}/row/")

    analytics_rollup(full=True)
    for name in DASHBOARDS:  # charts are drawn from JSON data by Chart.js, on a canvas
        page = root.open(f"/analytics/{name}/")
        assert MODELS["held"] in page.locator("#id_model").inner_text()
    page = root.open(f"/analytics/monitors/?{urlencode({'model': MODELS['decided']})}")
    assert page.get_by_text(BY_NAME["img_onerror"].text, exact=True).first.is_visible()  # a detector's name

    # Chromium shows JSON as text in its own viewer; the DOM probe is for our pages.
    page = root.open(f"/api/v1/conversations/{conversation}", probe=False)
    assert BY_NAME["img_onerror"].text in page.locator("body").inner_text()

    root.assert_nothing_fired()
