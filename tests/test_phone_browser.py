"""Every HTML page, as the reviewer, the senior and the admin of the demo, in Chromium served by Daphne (pages,
static files and websockets as deployed):

- at 390x844 (a phone) no page scrolls sideways, the header wraps and "Start reviewing" is on screen;
- at 1440x900 no page logs a console error or fails a request (the favicon included).

Screenshots of every page at 390 px go to /tmp/polish-<persona>-<page>.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from reviews.analytics.views import dashboards_for
from reviews.datasets.builder import dataset_build, dataset_create
from reviews.demo.seed import demo_seed
from reviews.models import Decision, ModelStatus, Queue, ScoringModel
from tests.browser import BROWSER_TESTS, CSP_LISTENER
from tests.daphne import serve

pytestmark = BROWSER_TESTS
PASSWORD = "pw-demo-phone"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
SHOTS = "/tmp/polish"  # noqa: S108  (screenshots to look at, as the house rules ask)


@pytest.fixture
def demo(media_root: Path, settings: Any) -> None:
    """The demo's users, conversations, decisions, escalations and first model (as `make demo` seeds them, on
    fewer conversations), a classifier snapshot, and a second model trained from it waiting to be promoted."""
    from worker.training import TrainConfig  # the test process may import the worker; the web app never does
    from worker.versions import model_train

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # Daphne checks them
    demo_seed(password=PASSWORD, conversations=60)
    Queue.objects.filter(slug="triage").update(edit_window_minutes=0)  # single reviews settle: rows to export
    snapshot = dataset_build(dataset_id=dataset_create(kind="classifier", enqueue=False).pk)
    dataset_build(dataset_id=dataset_create(kind="preference", enqueue=False).pk)
    Queue.objects.filter(slug="triage").update(edit_window_minutes=60)  # and decisions stay editable
    model_train(config=TrainConfig(max_epochs=3, patience=1), dataset=snapshot)
    assert ScoringModel.objects.filter(status=ModelStatus.READY).exists()


@pytest.fixture
def origin(demo: None, tmp_path: Path) -> Iterator[str]:
    with serve(tmp_path) as served:
        yield served


@pytest.fixture
def small_origin(media_root: Path, settings: Any, tmp_path: Path) -> Iterator[str]:
    """The demo's users and a few of its conversations, no model: for the tests of one page."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    demo_seed(password=PASSWORD, conversations=20, train=False)
    with serve(tmp_path) as served:
        yield served


class Watch:
    """Console errors, uncaught exceptions and failed requests (4xx/5xx answers or no answer) of one page."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        self.expected_status: dict[str, int] = {}
        page.on("console", lambda m: self._console(page, m))
        page.on("pageerror", lambda e: self._add(page, f"exception: {e}"))
        page.on("requestfailed", lambda r: self._failed(page, r))
        page.on("response", self._response)
        self.page = page

    def _console(self, page: Any, message: Any) -> None:
        path = re.sub(r"^https?://[^/]+", "", page.url)
        expected = self.expected_status.get(path)
        if message.type != "error" or (expected and f"status of {expected}" in message.text):
            return  # Chromium logs the page's own (expected) 403 as a failed resource
        self._add(page, f"console: {message.text}")

    def _failed(self, page: Any, request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":  # cancelled by the browser as the page navigated on: no fault
            self._add(page, f"failed: {request.url} {request.failure}")

    def _add(self, page: Any, text: str) -> None:
        self.problems.append(f"{page.url}: {text}")

    def _response(self, response: Any) -> None:
        path = re.sub(r"^https?://[^/]+", "", response.url)
        if response.status >= 400 and self.expected_status.get(path) != response.status:
            self._add(self.page, f"{response.status} {response.url}")


def _sign_in(page: Any, origin: str, username: str) -> None:
    page.goto(f"{origin}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{origin}/")


def _pages(username: str) -> dict[str, str]:
    """Name → path of every HTML page this persona may open (and one they may not: the 403 page)."""
    user = User.objects.get(username=username)
    pages = {
        "login": "/login/",
        "home": "/",
        "queue-empty": "/queues/triage/empty/",
        "my-work": "/my/work/",
        "my-escalations": "/my/escalations/",
        "analytics": "/analytics/",
        **{f"analytics-{name}": f"/analytics/{name}/" for name in dashboards_for(user)},
    }
    decision = Decision.objects.filter(reviewer=user).order_by("-created_at").first()
    if decision is not None:
        pages["decision-edit"] = f"/my/work/{decision.pk}/edit/"
    if username == "admin":
        pages.update(
            {
                "policy": "/policy/",
                "policy-versions": "/policy/versions/",
                "datasets": "/datasets/",
                "sources": "/sources/",
                "admin": "/admin/",
                "admin-conversations": "/admin/reviews/conversation/",
            }
        )
    else:
        pages["forbidden"] = "/policy/"
    return pages


def _start_reviewing(page: Any, origin: str, problems: list[str]) -> str:
    """From the queues page, the first enabled "Start reviewing" (which must be on screen): the item page's path."""
    page.goto(f"{origin}/")
    button = page.locator("button.start:not([disabled])").first
    box = button.bounding_box()
    width = page.viewport_size["width"]
    if box is None or box["x"] < 0 or box["x"] + box["width"] > width:
        problems.append(f"Start reviewing is off screen at {width} px: {box}")
    button.click()
    page.wait_for_url(re.compile(r"/items/\d+/$|/queues/.+/empty/$"))
    page.wait_for_load_state("networkidle")  # the regions an item page loads after it (discussion), not cut off
    return re.sub(r"^https?://[^/]+", "", page.url)


SIDEWAYS = """() => ({
  scroll: document.scrollingElement.scrollWidth,
  inner: window.innerWidth,
  wide: Array.from(document.querySelectorAll("body *"))
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .filter((e) => !e.closest(".table-scroll, pre, .scroll-x"))
    .slice(0, 4).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`),
})"""


def _visit(page: Any, watch: Watch, origin: str, path: str, status: int) -> None:
    watch.expected_status = {path: status} if status != 200 else {}
    response = page.goto(f"{origin}{path}")
    assert response is not None and response.status == status, f"{path}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    if page.locator("canvas[data-chart]").count():
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('canvas[data-chart]')).every((c) => c.dataset.drawn)"
        )


def test_every_page_fits_a_phone_and_loads_cleanly_on_a_desktop(origin: str, browser: Any) -> None:
    sideways: list[str] = []
    problems: list[str] = []
    for username in ("reviewer", "senior", "admin"):
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.add_init_script(CSP_LISTENER)
        watch = Watch(page)
        _sign_in(page, origin, username)
        pages = _pages(username)
        pages["item"] = _start_reviewing(page, origin, problems)

        for name, path in pages.items():
            _visit(page, watch, origin, path, 403 if name == "forbidden" else 200)
            csp = page.evaluate("window.__csp")
            problems += [f"{path}: CSP {v}" for v in csp]
        problems += watch.problems

        page.set_viewport_size(PHONE)
        pages["item"] = _start_reviewing(page, origin, sideways)
        for name, path in pages.items():
            _visit(page, watch, origin, path, 403 if name == "forbidden" else 200)
            page.screenshot(path=f"{SHOTS}-{username}-{name}.png", full_page=True)
            found = page.evaluate(SIDEWAYS)
            if found["scroll"] > found["inner"]:
                sideways.append(f"{username} {path}: {found['scroll']} > {found['inner']} {found['wide']}")
            if not path.startswith("/admin/"):  # Django's admin has its own header, and its own phone layout
                header = page.locator(".site-header").bounding_box(timeout=2000)
                assert header is not None and header["width"] <= PHONE["width"], f"{path}: header {header}"
        context.close()

    assert sideways == [], "\n".join(sideways)
    assert problems == [], "\n".join(problems)


def test_a_build_the_datasets_page_does_not_show_yet_pushes_no_console_error(small_origin: str, browser: Any) -> None:
    """A snapshot started elsewhere (or built in-process before the response that adds its row) pushes status
    cells this page has no row for: they are dropped, not logged as htmx:oobErrorNoTarget."""
    origin = small_origin
    page = browser.new_context(viewport=DESKTOP).new_page()
    watch = Watch(page)
    pushed: list[str] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: pushed.append(str(frame))))
    _sign_in(page, origin, "admin")
    page.goto(f"{origin}/datasets/")
    page.wait_for_function("() => document.querySelector('[ws-connect]') && htmx")
    page.wait_for_timeout(1000)  # the socket is open (htmx connects on load)

    def build() -> int:  # in a thread of its own: this one runs Playwright's event loop
        try:
            return dataset_build(dataset_id=dataset_create(kind="eval", enqueue=False).pk).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pk = pool.submit(build).result()
    page.wait_for_timeout(1500)

    assert any(f"dataset-{pk}-status" in frame for frame in pushed)
    assert page.locator(f"#dataset-{pk}").count() == 0
    assert watch.problems == []


def test_the_403_page_is_in_the_sites_layout(small_origin: str, browser: Any) -> None:
    origin = small_origin
    page = browser.new_context(viewport=PHONE).new_page()
    _sign_in(page, origin, "reviewer")

    response = page.goto(f"{origin}/sources/")

    assert response is not None and response.status == 403
    assert page.locator(".site-header nav").count() == 1
    assert "You don't have access to this page" in page.inner_text("main")


def test_times_read_in_the_readers_own_zone_and_name_it(small_origin: str, browser: Any) -> None:
    page = browser.new_context(viewport=PHONE, timezone_id="Asia/Tokyo", locale="en-US").new_page()
    _sign_in(page, small_origin, "reviewer")

    page.goto(f"{small_origin}/my/work/")
    first = page.locator("time[data-local-time]").first
    first.wait_for()
    page.wait_for_function("() => document.querySelector('time[data-local-time]').dataset.localised === 'true'")

    utc = datetime.fromisoformat(first.get_attribute("datetime").replace("Z", "+00:00"))
    tokyo = utc + timedelta(hours=9)
    assert first.inner_text() == f"{tokyo:%Y-%m-%d %H:%M} GMT+9"
    assert first.get_attribute("title") == f"{utc:%Y-%m-%d %H:%M} UTC"
