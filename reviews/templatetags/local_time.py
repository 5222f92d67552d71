"""`{{ moment|local_time }}`: a <time> element that static/oversight/local-time.js rewrites into the reader's
own time zone, with the zone named. Without JavaScript it reads in UTC, and says so."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter(expects_localtime=False)
def local_time(moment: datetime | None, empty: str = "—") -> SafeString | str:
    if moment is None:
        return empty
    utc = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" data-local-time>{} UTC</time>',
        utc.isoformat().replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M"),
    )
