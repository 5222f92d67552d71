"""In Chromium, the Datasets page follows a build live: Daphne serves the page and its websocket, the build
runs here and pushes its progress through the Redis channel layer, and the finished row appears by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from reviews.datasets import builder
from reviews.datasets.builder import dataset_build, dataset_create
from tests.browser import BROWSER_TESTS, sign_in
from tests.live import free_port

pytestmark = BROWSER_TESTS
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[str]:
    """Daphne on the test database, in a process of its own; yields its origin."""
    if connection.vendor != "postgresql" or "redis" not in django_settings.CHANNEL_LAYERS["default"]["BACKEND"].lower():
        pytest.skip("a second process shares the test database and channel layer only with PostgreSQL and Redis")
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DEBUG": "1",  # WhiteNoise serves the static files from the finders
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
    }
    log = (tmp_path / "daphne.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "oversight.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{origin}/login/", timeout=1)  # noqa: S310  (our own http URL)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"daphne did not start: {(tmp_path / 'daphne.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield origin
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


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
