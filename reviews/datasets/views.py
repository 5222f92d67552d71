"""The snapshot builder page for admins and ML engineers: build, watch progress, cancel, download.

A building snapshot's status cell is pushed over the websocket as it goes (reviews/live/broadcast.py), and its
row polls itself every 10 s as a fallback; downloads are permission-checked and audited.
Admins close the loop from here: train a rescoring head from a ready `classifier` snapshot, then promote a
trained version with its validation metrics beside the active model's.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reviews.datasets.builder import dataset_cancel, dataset_create
from reviews.datasets.downloads import dataset_open
from reviews.datasets.filters import DatasetError
from reviews.datasets.forms import DatasetForm
from reviews.htmx import HtmxRequest, render_region
from reviews.models import Dataset, ScoringModel
from reviews.permissions import admin_required, can_export, is_admin, role_required
from reviews.scoring.model_registry import PromotionError, PromotionNeedsConfirmation, model_promote
from reviews.scoring.retraining import model_train_request, snapshot_models
from reviews.scoring.training_data import DatasetUnusable

PAGE = "reviews/datasets/datasets.html"
LIST_LIMIT = 100
export_required = role_required(can_export)


def _panel(request: HtmxRequest, form: DatasetForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    snapshots = list(Dataset.objects.select_related("created_by").order_by("-pk")[:LIST_LIMIT])
    models = snapshot_models(datasets=snapshots)
    context = {
        "form": form,
        "rows": [(dataset, models.of(dataset)) for dataset in snapshots],
        "active_model": models.active,
        "can_train": is_admin(request.user),
        **extra,
    }
    return render_region(request, PAGE, "datasets-panel", context, status=status)


def _row(request: HttpRequest, dataset: Dataset, *, status: int = 200, **extra: Any) -> HttpResponse:
    models = snapshot_models(datasets=[dataset])
    context = {
        "dataset": dataset,
        "trained": models.of(dataset),
        "active_model": models.active,
        "can_train": is_admin(request.user),
        **extra,
    }
    return TemplateResponse(request, f"{PAGE}#dataset-row", context, status=status)


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
    return _row(request, get_object_or_404(Dataset.objects.select_related("created_by"), pk=pk))


@export_required
@require_POST
def dataset_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_cancel(dataset=get_object_or_404(Dataset, pk=pk), actor=request.user)
    return _row(request, dataset)


@admin_required
@require_POST
def dataset_train(request: HttpRequest, pk: int) -> HttpResponse:
    """Start `worker.train_model` on a ready classifier snapshot; the row shows the version once it exists."""
    dataset = get_object_or_404(Dataset.objects.select_related("created_by"), pk=pk)
    try:
        model_train_request(dataset=dataset, actor=request.user)
    except DatasetUnusable as exc:
        return _row(request, dataset, status=422, row_error=str(exc))
    notice = f"Training from snapshot {dataset.pk} started; the new version is listed here once it exists."
    return _row(request, dataset, row_notice=notice)


@admin_required
@require_POST
def scoring_model_promote(request: HtmxRequest, pk: int) -> HttpResponse:
    """Promote a trained version; every row's comparison changes, so the whole panel comes back. A candidate
    worse than the active model on the common rows is promoted only once the admin confirms it."""
    model = get_object_or_404(ScoringModel.objects.defer("checkpoint"), pk=pk)
    try:
        model_promote(model=model, actor=request.user, force=request.POST.get("confirm") == "yes")
    except PromotionNeedsConfirmation as exc:
        return _panel(request, DatasetForm(), status=409, error=str(exc), confirm_model=model)
    except PromotionError as exc:
        return _panel(request, DatasetForm(), status=409, error=str(exc))
    notice = f"Scoring model v{model.version} is active; the open backlog is being rescored with it."
    return _panel(request, DatasetForm(), notice=notice)


@export_required
@require_GET
def dataset_download(request: HttpRequest, pk: int, split: str) -> FileResponse:
    dataset = get_object_or_404(Dataset, pk=pk)
    try:
        handle, name = dataset_open(dataset=dataset, split=split, actor=request.user)
    except DatasetError as exc:
        raise Http404(str(exc)) from None
    return FileResponse(handle, as_attachment=True, filename=name)
