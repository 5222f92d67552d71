"""Security headers: a strict CSP on every page, and no page relies on inline script or style to work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from oversight import env
from reviews.models import Queue
from tests.factories import claim, make_item

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"", re.I)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+=", re.I)


def _inline(content: str) -> list[str]:
    return [
        kind
        for kind, pattern in (("script", INLINE_SCRIPT), ("style", INLINE_STYLE), ("handler", EVENT_HANDLER))
        if pattern.search(content)
    ]


def test_every_response_carries_a_strict_csp(client):
    response = client.get("/login/")

    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"


def test_workspace_pages_need_no_inline_script_or_style(client, reviewer):
    make_item(messages=[{"role": "user", "content": '<script>alert(1)</script><b onclick="x()" style="a">'}])
    client.force_login(reviewer)
    item = claim(client)

    for url in ["/", f"/items/{item.pk}/", "/my/work/", "/my/escalations/", "/login/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Content-Security-Policy" in response, url
        assert _inline(response.content.decode()) == [], url


def test_admin_pages_need_no_inline_script_or_style(client, admin_user):
    client.force_login(admin_user)
    queue = Queue.objects.first()
    assert queue is not None

    for url in ["/policy/", "/policy/versions/", "/sources/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _inline(response.content.decode()) == [], url


def test_django_admin_under_the_csp(client):
    """Django's admin (5.2) loads its scripts from files; the pages an admin uses carry no inline script."""
    superuser = User.objects.create_superuser("root", password="pw-root-123")
    client.force_login(superuser)
    queue = Queue.objects.first()
    assert queue is not None

    for url in ["/admin/", "/admin/reviews/queue/", f"/admin/reviews/queue/{queue.pk}/change/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "script" not in _inline(response.content.decode()), url


def test_session_and_csrf_cookies_are_secure_outside_debug():
    environment = {k: v for k, v in os.environ.items() if k not in env.READ} | {
        "DEBUG": "0",
        "SECRET_KEY": "k" * 50,
        "ALLOWED_HOSTS": "example.org",
    }
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.X_FRAME_OPTIONS,"
        " 'oversight.security.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.stdout.split()[-4:] == ["True", "True", "DENY", "True"], result.stderr
