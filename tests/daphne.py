"""Daphne serving the test database in a process of its own: pages, static files and websockets as deployed.

Only with PostgreSQL and Redis, which a second process can share with the test (SQLite in memory and the
in-memory channel layer cannot be shared): `serve` skips the test otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.live import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(tmp_path: Path) -> Iterator[str]:
    """Yields Daphne's origin. It checks passwords with the default hashers, not the tests' fast one."""
    if connection.vendor != "postgresql" or "redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"].lower():
        pytest.skip("a second process shares the test database and channel layer only with PostgreSQL and Redis")
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DEBUG": "1",  # WhiteNoise serves the static files from the finders
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    log_path = tmp_path / "daphne.log"
    log = log_path.open("w")
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
                    pytest.fail(f"daphne did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
        yield origin
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
