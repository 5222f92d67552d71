"""The loop back into the model: train a rescoring head from a `classifier` snapshot, then compare before promoting.

The web side only sends `worker.train_model` by name (the worker owns torch); the new version appears as a
`ScoringModel` in status `ready` whose `training_dataset` is the snapshot, and an admin promotes it with
`reviews.scoring.model_registry.model_promote`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from reviews.audit import audit_record
from reviews.models import AuditAction, Dataset, DatasetKind, ModelStatus, ScoringModel
from reviews.scoring.training_data import snapshot_decision_ids
from reviews.taskqueue import TRAIN_QUEUE, TRAIN_TASK, enqueue

# Shown beside each other; for ECE lower is better, for the others higher.
COMPARED_METRICS = ("auroc", "auprc", "f1", "ece")
LOWER_IS_BETTER = frozenset({"ece"})
_MODEL_FIELDS = ("pk", "version", "status", "metrics", "labels", "error", "created_at", "activated_at")


def model_train_request(*, dataset: Dataset, actor: Any) -> Dataset:
    """Start training a head on a ready `classifier` snapshot (DatasetUnusable otherwise); the task runs on commit."""
    decision_ids = snapshot_decision_ids(dataset=dataset)
    with transaction.atomic():
        audit_record(
            actor=actor, action=AuditAction.MODEL_TRAINING_REQUESTED, target=dataset, decisions=len(decision_ids)
        )
        dataset_id = dataset.pk
        transaction.on_commit(lambda: enqueue(TRAIN_TASK, dataset_id, True, queue=TRAIN_QUEUE))
    return dataset


Interval = tuple[float, float]


def auroc_interval(auroc: float | None, positives: Any, support: Any, z: float = 1.96) -> Interval | None:
    """95% interval of an AUROC from its validation split's class counts (Hanley & McNeil's standard error);
    None where a class is missing or the counts are unknown."""
    if auroc is None or not isinstance(positives, int) or not isinstance(support, int):
        return None
    negatives = support - positives
    if positives < 1 or negatives < 1:
        return None
    q1, q2 = auroc / (2 - auroc), 2 * auroc * auroc / (1 + auroc)
    variance = (auroc * (1 - auroc) + (positives - 1) * (q1 - auroc**2) + (negatives - 1) * (q2 - auroc**2)) / (
        positives * negatives
    )
    margin = z * math.sqrt(max(variance, 0.0))
    return max(0.0, auroc - margin), min(1.0, auroc + margin)


@dataclass(frozen=True)
class MetricPair:
    name: str
    candidate: float | None
    active: float | None
    candidate_interval: Interval | None = None
    active_interval: Interval | None = None

    @property
    def trend(self) -> str:
        """Up when the candidate beats the active model by more than the intervals allow for, down when it is
        worse by as much, empty otherwise: a difference without intervals on both sides (each model is measured
        on its own validation split) or with overlapping intervals is not coloured."""
        if self.candidate is None or self.active is None or self.candidate == self.active:
            return ""
        if self.candidate_interval is None or self.active_interval is None:
            return ""
        mine, theirs = self.candidate_interval, self.active_interval
        if mine[0] <= theirs[1] and theirs[0] <= mine[1]:
            return ""
        better = self.candidate < self.active if self.name in LOWER_IS_BETTER else self.candidate > self.active
        return "up" if better else "down"


@dataclass(frozen=True)
class LabelComparison:
    label: str
    positives: int | None
    support: int | None
    metrics: list[MetricPair]


def model_comparison(*, candidate: ScoringModel, active: ScoringModel | None) -> list[LabelComparison]:
    """Per label, the candidate's validation metrics beside the active model's (None where a model lacks them).

    Each model is measured on its own validation split, so the numbers guide a promotion rather than prove it.
    """
    mine: dict[str, dict[str, Any]] = (candidate.metrics or {}).get("per_label", {})
    theirs: dict[str, dict[str, Any]] = ((active.metrics or {}).get("per_label", {}) if active else {}) or {}
    labels: Iterable[str] = [*mine, *(label for label in theirs if label not in mine)]
    rows = []
    for label in labels:
        own, other = mine.get(label, {}), theirs.get(label, {})
        pairs = [_pair(name, own, other) for name in COMPARED_METRICS]
        rows.append(LabelComparison(label, own.get("positives"), own.get("support"), pairs))
    return rows


def _pair(name: str, own: dict[str, Any], other: dict[str, Any]) -> MetricPair:
    mine, theirs = _number(own.get(name)), _number(other.get(name))
    if name != "auroc":  # no interval for the others: shown, never coloured
        return MetricPair(name, mine, theirs)
    return MetricPair(
        name,
        mine,
        theirs,
        auroc_interval(mine, own.get("positives"), own.get("support")),
        auroc_interval(theirs, other.get("positives"), other.get("support")),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class SourceHeldOut:
    """One row of a model's leave-one-source-out figures: a head trained without `source` (and without the other
    sources' near-duplicates of its requests, `shared` rows), its AUROC per output on all of the source's rows."""

    source: str
    rows: int
    shared: int | None  # None for models trained before near-duplicates were left out too
    auroc: list[float | None]  # in LOSO_OUTPUTS order; None where the source does not label the output


LOSO_OUTPUTS = ("request_harmful", "complied", "harmful_compliance", "risk")


def held_out_sources(model: ScoringModel) -> list[SourceHeldOut]:
    loso: dict[str, dict[str, Any]] = (model.metrics or {}).get("loso") or {}
    return [
        SourceHeldOut(
            source,
            int(row.get("rows", 0)),
            row.get("shared"),
            [_number((row.get(output) or {}).get("auroc")) for output in LOSO_OUTPUTS],
        )
        for source, row in sorted(loso.items())
    ]


@dataclass(frozen=True)
class TrainedModel:
    model: ScoringModel
    is_active: bool
    comparison: list[LabelComparison]
    held_out: list[SourceHeldOut]


@dataclass(frozen=True)
class SnapshotModels:
    active: ScoringModel | None
    by_dataset: dict[int, list[TrainedModel]]

    def of(self, dataset: Dataset) -> list[TrainedModel]:
        return self.by_dataset.get(dataset.pk, [])


def snapshot_models(*, datasets: Sequence[Dataset]) -> SnapshotModels:
    """The active model, and per classifier snapshot the versions trained from it (newest first) compared with it.

    Two queries whatever the number of snapshots; checkpoints are never loaded.
    """
    active = ScoringModel.objects.only(*_MODEL_FIELDS).filter(status=ModelStatus.ACTIVE).first()
    by_dataset: dict[int, list[TrainedModel]] = {}
    ids = [d.pk for d in datasets if d.kind == DatasetKind.CLASSIFIER]
    if ids:
        trained = ScoringModel.objects.only(*_MODEL_FIELDS, "training_dataset").filter(training_dataset__in=ids)
        for model in trained.order_by("-version"):
            is_active = active is not None and model.pk == active.pk
            comparison = model_comparison(candidate=model, active=None if is_active else active)
            entry = TrainedModel(model, is_active, comparison, held_out_sources(model))
            by_dataset.setdefault(model.training_dataset_id or 0, []).append(entry)
    return SnapshotModels(active=active, by_dataset=by_dataset)
