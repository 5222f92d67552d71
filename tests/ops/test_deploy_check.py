"""Production settings pass Django's deployment checklist (`manage.py check --deploy`) with no warnings,
and serve HTTPS only."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from oversight import env

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"DEBUG": "0", "ALLOWED_HOSTS": "oversight.example.org"}


def _manage(*args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    """manage.py with only the given settings in the environment (no DATABASE_URL, REDIS_URL, …)."""
    environment = {k: v for k, v in os.environ.items() if k not in env.READ} | overrides
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def _deploy_check(**overrides: str) -> subprocess.CompletedProcess[str]:
    return _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, **overrides)


def test_production_settings_pass_the_deploy_check_without_warnings():
    result = _deploy_check(SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_weak_secret_key_fails_the_deploy_check():
    result = _deploy_check(SECRET_KEY="x" * 50)

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_production_redirects_to_https_and_sends_hsts_but_development_does_not():
    show = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    )

    production = _manage(
        "shell",
        "-c",
        show,
        **PRODUCTION,
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    development = _manage("shell", "-c", show)

    assert production.stdout.splitlines()[-1] == "True 31536000 True False ('HTTP_X_FORWARDED_PROTO', 'https')", (
        production.stderr
    )
    assert development.stdout.splitlines()[-1].startswith("False 0 "), development.stderr


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_except_for_probes_and_metrics(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # what production has (test above); tests run in debug

    login = client.get("/login/")

    assert login.status_code == 301 and login["Location"] == "https://testserver/login/"
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/metrics").status_code == 200
