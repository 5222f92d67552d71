"""Admin page for sources (detectors): create them, revoke or rotate their tokens.

A new token appears only in the response to the POST that issued it: never in a URL, the session or a
later page, and that response is not cached.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from reviews.htmx import HtmxRequest, render_region
from reviews.ingest import sources as services
from reviews.ingest.forms import SourceForm
from reviews.models import Source
from reviews.permissions import admin_required


def _panel(request: HtmxRequest, form: SourceForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    rows = Source.objects.annotate(volume=Count("conversations")).order_by("name")
    context = {"form": form, "sources": rows, **extra}
    return render_region(request, "reviews/ingest/sources.html", "sources-panel", context, status=status)


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def sources(request: HtmxRequest) -> HttpResponse:
    if request.method == "GET":
        return _panel(request, SourceForm())
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            issued = services.source_create(**form.cleaned_data, actor=request.user)
        except services.SourceError as exc:
            form.add_error(None, str(exc))
        else:
            return _panel(request, SourceForm(), issued=issued)
    return _panel(request, form, status=422)


@admin_required
@never_cache
@require_POST
def source_revoke(request: HtmxRequest, pk: int) -> HttpResponse:
    source = services.source_revoke(source=get_object_or_404(Source, pk=pk), actor=request.user)
    return _panel(request, SourceForm(), notice=f"Revoked the token of {source.name}: it no longer authenticates.")


@admin_required
@never_cache
@require_POST
def source_rotate(request: HtmxRequest, pk: int) -> HttpResponse:
    issued = services.source_rotate_token(source=get_object_or_404(Source, pk=pk), actor=request.user)
    return _panel(request, SourceForm(), issued=issued)
