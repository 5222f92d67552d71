"""The workspace in headless Debian Chromium: claim, label by keyboard, escalate, resolve, reveal, stay inert.

Needs Chromium at /usr/bin/chromium (`apt-get install chromium`) and the `playwright` package; skipped
without them. Websockets need an ASGI server, so here the second context sees counts change by polling.
"""

from __future__ import annotations

import re
from typing import Any

from reviews.models import AuditAction, AuditEvent, Decision, Escalation, EscalationStatus, Queue
from tests.browser import BROWSER_TESTS, playwright_sync, sign_in, start_reviewing
from tests.factories import make_item

pytestmark = BROWSER_TESTS

HOSTILE = (
    '<script>alert("script")</script><img src="/boom-img" onerror="alert(1)">'
    '<div hx-get="/boom-hx" hx-trigger="load">hx</div><a href="javascript:alert(2)">click me</a>'
)
GRAPHIC = "GRAPHIC-DETAIL-TEXT"


class Watch:
    """Dialogs, requests and CSP complaints seen by one page."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.csp: list[str] = []
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "console",
            lambda message: self.csp.append(message.text) if "Content Security Policy" in message.text else None,
        )


def _login(browser: Any, live_server: Any, username: str) -> tuple[Any, Watch]:
    page = browser.new_context().new_page()
    watch = Watch(page)
    sign_in(page, live_server.url, username)
    return page, watch


def _start(page: Any, queue: str) -> None:
    start_reviewing(page, Queue.objects.get(slug=queue).pk)


def test_reviewer_labels_by_keyboard_escalates_and_senior_resolves(browser, live_server, reviewer, senior):
    hostile = make_item(n=1, priority=9, messages=[{"role": "user", "content": HOSTILE}])
    second = make_item(n=2, priority=5)
    blurred = make_item(
        n=3,
        priority=1,
        category="violent-crime",
        message_index=1,
        messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": GRAPHIC}],
    )
    page, watch = _login(browser, live_server, "rita")

    # Claim: the hostile conversation renders inert.
    _start(page, "triage")
    page.wait_for_selector(f"text=Item {hostile.pk}")
    page.wait_for_timeout(300)
    assert page.locator("#message-0 .content").inner_text().startswith('<script>alert("script")</script>')
    assert watch.dialogs == []
    assert not any("boom" in url for url in watch.requests)

    # Label entirely by keyboard.
    page.keyboard.press("2")
    page.keyboard.press("c")  # the filter box: type, Enter ticks the first match
    page.keyboard.type("hate")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.type("refused, rightly; 1234 stays text")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"text=Item {second.pk}")
    decision = Decision.objects.get(item=hostile)
    assert decision.verdict == "appropriate_refusal"
    assert decision.severity == 2 and sorted(decision.categories) == ["cyber", "hate"]  # flagged cyber was suggested
    assert decision.rationale == "refused, rightly; 1234 stays text"
    assert re.search(rf"/items/{second.pk}/$", page.url)

    # Help straight away (the swapped-in item holds the focus on its heading, not in a field), then escalate.
    page.keyboard.press("?")
    assert page.locator("#shortcut-help").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    page.keyboard.type("needs a policy call")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"text=Item {blurred.pk}")

    # Blurred until revealed; the reveal is audited.
    assert GRAPHIC not in page.content()
    page.get_by_role("button", name="Reveal turn 2").click()
    page.wait_for_selector(f"text={GRAPHIC}")
    assert AuditEvent.objects.filter(action=AuditAction.REVEAL, actor=reviewer).count() == 1

    # A senior resolves the escalation by keyboard; the reviewer sees the outcome.
    senior_page, senior_watch = _login(browser, live_server, "sam")
    _start(senior_page, "escalation")
    senior_page.wait_for_selector("text=needs a policy call")
    senior_page.keyboard.press("4")
    senior_page.keyboard.press("Control+Enter")
    senior_page.wait_for_selector("text=Nothing left in this queue")
    escalation = Escalation.objects.get()
    assert escalation.status == EscalationStatus.RESOLVED and escalation.resolution.verdict == "appropriate_help"
    page.goto(f"{live_server.url}/my/escalations/")
    assert "Appropriate help" in page.locator(f"#escalation-{escalation.pk}").inner_text()

    assert watch.csp == [] and senior_watch.csp == []
    assert watch.dialogs == [] and senior_watch.dialogs == []


def test_second_context_sees_the_count_change_without_reload(browser, live_server, reviewer, senior):
    make_item(n=1)
    make_item(n=2)
    triage = Queue.objects.get(slug="triage")
    watcher, _ = _login(browser, live_server, "sam")
    count = watcher.locator(f"#queue-{triage.pk}-open")
    assert count.inner_text() == "2"
    page, _ = _login(browser, live_server, "rita")
    _start(page, "triage")

    page.keyboard.press("4")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Saved your decision")

    playwright_sync.expect(count).to_have_text("1", timeout=25_000)  # the 15 s poll, no reload


def test_keys_typed_in_a_field_do_not_trigger_shortcuts(browser, live_server, reviewer):
    item = make_item()
    page, _ = _login(browser, live_server, "rita")
    _start(page, "triage")

    page.keyboard.press("r")
    page.keyboard.type("1 2 3 4 c s e x ?")

    assert page.locator("#id_rationale").input_value() == "1 2 3 4 c s e x ?"
    assert page.locator("input[name=verdict]:checked").count() == 0
    assert not page.locator("#shortcut-help").is_visible()
    assert Decision.objects.filter(item=item).count() == 0


def test_existing_pages_work_under_the_csp(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser("root", password="pw-root")
    page, watch = _login(browser, live_server, "root")
    queue = Queue.objects.get(slug="triage")

    for url, text in [
        ("/api/v1/docs", "openapi.json"),
        ("/admin/", "Django administration"),
        (f"/admin/reviews/queue/{queue.pk}/change/", "Hard limit daily cap"),
        ("/policy/", "Routing policy"),
        ("/sources/", "Sources"),
        ("/", "Review queues"),
    ]:
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        assert text in page.locator("body").inner_text(), url

    assert watch.csp == []
    assert watch.dialogs == []
