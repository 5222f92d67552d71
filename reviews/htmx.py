"""What every htmx-serving view shares: the request type and page-or-region rendering."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


def render_region(
    request: HtmxRequest, template: str, region: str, context: dict[str, Any], *, status: int = 200
) -> TemplateResponse:
    """The whole page, or only the partial `region` when htmx asks."""
    response = TemplateResponse(request, f"{template}#{region}" if request.htmx else template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
