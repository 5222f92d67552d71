"""`/api/v1/datasets`: export-scoped tokens (sources of kind `ml_export`) build and fetch snapshots.

Mounted on the API in reviews/api.py. Ingest tokens get 403 here; export tokens get 403 on ingest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from ninja import Router, Schema
from ninja.responses import Status
from ninja.security import HttpBearer, django_auth
from pydantic import Field

from reviews.datasets.builder import dataset_create
from reviews.datasets.downloads import dataset_open
from reviews.datasets.filters import DatasetError
from reviews.ingest.rate_limit import token_rate_limit_enforce
from reviews.ingest.sources import source_authenticate
from reviews.models import Dataset, DatasetFormat, DatasetKind, Source
from reviews.permissions import can_export


class TokenScopeError(Exception):
    """A valid token used outside its scope: 403, not 401."""


class ExportToken(HttpBearer):
    """`Authorization: Bearer <token>` of an active export client."""

    def authenticate(self, request: HttpRequest, token: str) -> Source | None:
        source = source_authenticate(token=token)
        if source is not None and not source.can_export:
            raise TokenScopeError("This token may not export datasets; use a token of an ml_export source.")
        if source is not None:
            token_rate_limit_enforce(source=source)
        return source


def _export_session(request: HttpRequest) -> Any:
    user = django_auth(request)
    return user if user is not None and can_export(user) else None


router = Router(tags=["datasets"], auth=[ExportToken(), _export_session])


class DatasetIn(Schema):
    kind: DatasetKind
    format: DatasetFormat = DatasetFormat.JSONL
    filters: dict[str, Any] = Field(default_factory=dict, description="See the README: since, until, queues, …")
    seed: int = Field(default=0, ge=0)
    splits: dict[str, float] | None = Field(default=None, description="Share per split; default 0.8/0.1/0.1.")
    license: str = Field(default="", max_length=100)


class DatasetFileOut(Schema):
    rows: int
    sha256: str
    bytes: int
    url: str


class DatasetOut(Schema):
    id: int
    kind: str
    format: str
    status: str
    progress: int
    total: int
    percent: int
    row_count: int
    split_counts: dict[str, int]
    files: dict[str, DatasetFileOut]
    card_url: str | None
    skipped: dict[str, int]
    label_distribution: dict[str, Any]
    filters: dict[str, Any]
    seed: int
    split_ratios: dict[str, float]
    taxonomy_version: str
    policy_version: str
    is_stale: bool
    stale_changes: list[dict[str, Any]]
    error: str
    created_at: datetime
    finished_at: datetime | None


class ApiError(Schema):
    error: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


def _file_url(dataset: Dataset, split: str) -> str:
    return reverse("api:dataset_file", kwargs={"dataset_id": dataset.pk, "split": split})


def dataset_out(dataset: Dataset) -> dict[str, Any]:
    ready = dataset.status == "ready"
    return {
        **{name: getattr(dataset, name) for name in DatasetOut.model_fields if hasattr(dataset, name)},
        "id": dataset.pk,
        "files": {
            split: {
                "rows": f["rows"],
                "sha256": f["sha256"],
                "bytes": f.get("bytes", 0),
                "url": _file_url(dataset, split),
            }
            for split, f in dataset.files.items()
        },
        "card_url": _file_url(dataset, "card") if ready else None,
    }


# The file itself is streamed as is (JSONL, gzip, Parquet, or the card's Markdown), not a JSON schema.
FILE_RESPONSE = {
    "description": "The file, as an attachment; its media type follows its format.",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
}


def _not_found(dataset_id: int) -> Status[Any]:
    return Status(404, {"error": "not_found", "message": f"No dataset {dataset_id}.", "details": []})


@router.post(
    "",
    response={202: DatasetOut, **dict.fromkeys((401, 403, 413, 422, 429, 503), ApiError)},
    summary="Build a snapshot",
)
def dataset_post(request: HttpRequest, payload: DatasetIn) -> Any:
    actor = getattr(request, "auth", None)
    try:
        dataset = dataset_create(
            kind=payload.kind,
            format=payload.format,
            filters=payload.filters,
            seed=payload.seed,
            split_ratios=payload.splits,
            license=payload.license,
            actor=None if isinstance(actor, Source) else actor,
        )
    except DatasetError as exc:
        return Status(422, {"error": "invalid_dataset", "message": str(exc), "details": []})
    return Status(202, dataset_out(dataset))


@router.get("/{dataset_id}", response={200: DatasetOut, **dict.fromkeys((401, 403, 404, 422, 429, 503), ApiError)})
def dataset_get(request: HttpRequest, dataset_id: int) -> Any:
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    return _not_found(dataset_id) if dataset is None else Status(200, dataset_out(dataset))


@router.get(
    "/{dataset_id}/files/{split}",
    url_name="dataset_file",
    response=dict.fromkeys((401, 403, 404, 422, 429, 503), ApiError),
    openapi_extra={"responses": {200: FILE_RESPONSE}},
)
def dataset_file(request: HttpRequest, dataset_id: int, split: str) -> Any:
    """A split's file (or `card` for README.md); every download is audited."""
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        return _not_found(dataset_id)
    auth = getattr(request, "auth", None)
    try:
        handle, name = dataset_open(
            dataset=dataset,
            split=split,
            actor=None if isinstance(auth, Source) else auth,
            client=auth.name if isinstance(auth, Source) else "",
        )
    except DatasetError as exc:
        return Status(404, {"error": "not_found", "message": str(exc), "details": []})
    return FileResponse(handle, as_attachment=True, filename=name)
