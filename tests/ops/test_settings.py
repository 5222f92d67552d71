"""Settings come from the environment, are documented in .env.example, and fail loudly when bad."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oversight import env

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def test_env_example_lists_exactly_the_variables_settings_read():
    assert _documented() == env.READ


def _start(**overrides: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in env.READ} | overrides
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "0"}, "SECRET_KEY must be set when DEBUG is off"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL has scheme 'mysql'"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL has scheme 'http'"),
        ({"INGEST_MAX_BODY_BYTES": "lots"}, "INGEST_MAX_BODY_BYTES='lots' is not an integer"),
    ],
)
def test_bad_value_stops_start_up_with_a_clear_message(overrides, message):
    result = _start(**overrides)

    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_start_with_a_secret_key():
    result = _start(DEBUG="0", SECRET_KEY="x" * 50, ALLOWED_HOSTS="oversight.example.org")

    assert result.returncode == 0, result.stderr
