"""What every page shares: the favicon, the 403 page in the site's layout, times marked up for the reader's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.template import Context, Template

pytestmark = pytest.mark.django_db


def test_every_page_links_the_favicon_and_the_browsers_default_request_finds_it(client):
    page = client.get("/login/").content.decode()

    assert '<link rel="icon" href="/static/oversight/favicon.svg"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/oversight/favicon.svg"


def test_a_refused_page_is_a_403_in_the_sites_layout(client, reviewer):
    client.force_login(reviewer)

    response = client.get("/sources/")

    assert response.status_code == 403
    page = response.content.decode()
    assert '<header class="site-header">' in page and "You don't have access to this page" in page
    assert "rita" in page


def test_times_are_written_in_utc_with_the_zone_named_for_the_script_to_localise():
    moment = datetime(2026, 12, 4, 23, 30, tzinfo=timezone(timedelta(hours=2)))

    html = Template("{% load local_time %}{{ moment|local_time }}|{{ none|local_time }}").render(
        Context({"moment": moment, "none": None})
    )

    assert html == '<time datetime="2026-12-04T21:30:00Z" data-local-time>2026-12-04 21:30 UTC</time>|—'
    assert moment.astimezone(UTC).hour == 21
