"""The snapshot builder page for admins and ML engineers: build, watch progress, cancel, download.

A building snapshot's row polls itself every 2 s (htmx); downloads are permission-checked and audited.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reviews.forms import DatasetForm
from reviews.htmx import HtmxRequest, render_region
from reviews.models import Dataset
from reviews.permissions import can_export
from reviews.services.datasets.builder import dataset_cancel, dataset_create
from reviews.services.datasets.downloads import dataset_open
from reviews.services.datasets.filters import DatasetError

PAGE = "reviews/datasets.html"
LIST_LIMIT = 100


def export_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Anonymous users go to the login page; signed-in users who may not export get 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_export(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _panel(request: HtmxRequest, form: DatasetForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    snapshots = Dataset.objects.select_related("created_by").order_by("-pk")[:LIST_LIMIT]
    return render_region(request, PAGE, "datasets-panel", {"form": form, "datasets": snapshots, **extra}, status=status)


@export_required
@require_http_methods(["GET", "POST"])
def datasets(request: HtmxRequest) -> HttpResponse:
    if request.method == "GET":
        return _panel(request, DatasetForm())
    form = DatasetForm(request.POST)
    if form.is_valid():
        try:
            dataset = dataset_create(**form.snapshot(), actor=request.user)
        except DatasetError as exc:
            form.add_error(None, str(exc))
        else:
            return _panel(request, DatasetForm(), notice=f"Snapshot {dataset.pk} is being built.")
    return _panel(request, form, status=422)


@export_required
@require_GET
def dataset_row(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(Dataset.objects.select_related("created_by"), pk=pk)
    return TemplateResponse(request, f"{PAGE}#dataset-row", {"dataset": dataset})


@export_required
@require_POST
def dataset_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_cancel(dataset=get_object_or_404(Dataset, pk=pk), actor=request.user)
    return TemplateResponse(request, f"{PAGE}#dataset-row", {"dataset": dataset})


@export_required
@require_GET
def dataset_download(request: HttpRequest, pk: int, split: str) -> FileResponse:
    dataset = get_object_or_404(Dataset, pk=pk)
    try:
        handle, name = dataset_open(dataset=dataset, split=split, actor=request.user)
    except DatasetError as exc:
        raise Http404(str(exc)) from None
    return FileResponse(handle, as_attachment=True, filename=name)
