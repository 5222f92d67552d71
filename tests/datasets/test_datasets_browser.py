"""In Chromium, the Datasets page follows a build live: Daphne serves the page and its websocket, the build
runs here and pushes its progress through the Redis channel layer, and the finished row appears by itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from reviews.datasets import builder
from reviews.datasets.builder import dataset_build, dataset_create
from tests.browser import BROWSER_TESTS, sign_in
from tests.daphne import serve

pytestmark = BROWSER_TESTS


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[str]:
    """Daphne on the test database, in a process of its own; yields its origin."""
    with serve(tmp_path) as origin:
        yield origin


@pytest.mark.usefixtures("corpus")
def test_progress_moves_without_reload_and_the_finished_row_brings_its_downloads(
    browser: Any, daphne: str, admin_user: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # one Daphne can check
    admin_user.set_password(f"pw-{admin_user.username}")
    admin_user.save()
    dataset = dataset_create(kind="eval", enqueue=False)
    monkeypatch.setattr(builder, "CHUNK", 10)
    monkeypatch.setattr(builder, "PUSH_EVERY", 0)
    real_record = builder.lineage_record

    def slowly(**kwargs: Any) -> None:  # a chunk every 0.4 s: slow enough to watch, far quicker than the poll
        time.sleep(0.4)
        real_record(**kwargs)

    monkeypatch.setattr(builder, "lineage_record", slowly)
    page = browser.new_context().new_page()
    sign_in(page, daphne, admin_user.username)
    page.goto(f"{daphne}/datasets/")
    page.wait_for_function("() => document.querySelector('[ws-connect]') && htmx")
    page.wait_for_timeout(1000)  # the socket is open (htmx connects on load)
    status = page.locator(f"#dataset-{dataset.pk}-status")
    assert "Pending" in status.inner_text()

    def run() -> None:
        try:
            dataset_build(dataset_id=dataset.pk)
        finally:
            connection.close()  # this thread's own

    seen: set[str] = set()
    build = threading.Thread(target=run)
    build.start()
    while build.is_alive():
        seen.add(" ".join(status.inner_text().split()))
        page.wait_for_timeout(150)
    build.join()

    # The row polls every 10 s; the build took about 3: what moved the bar came over the websocket.
    assert {"Running 20 / 61", "Running 40 / 61"} <= seen, seen
    page.locator(f"#dataset-{dataset.pk} a[download]").first.wait_for(timeout=5000)
    assert "Ready" in status.inner_text()
