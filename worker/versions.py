"""Training a new ScoringModel version from decisions, on cached embeddings."""

from __future__ import annotations

import logging

import numpy as np
from django.db import transaction
from django.db.models import Max

from reviews.models import Dataset, ModelStatus, ScoringModel
from reviews.scoring.training_data import MIN_EXAMPLES, label_names, snapshot_decision_ids, training_examples
from worker.encoder import ENCODER_ID
from worker.head import checkpoint_dumps
from worker.scoring import embed
from worker.training import TrainConfig, metrics_by_label, train_head

logger = logging.getLogger(__name__)


class NotEnoughLabels(ValueError):
    """Too few decisions to train and validate a head."""


def _allocate_version(labels: list[str]) -> ScoringModel:
    with transaction.atomic():
        latest = ScoringModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
        return ScoringModel.objects.create(
            version=latest + 1, encoder=ENCODER_ID, labels=labels, status=ModelStatus.TRAINING
        )


def model_train(
    *, include_imported: bool = True, config: TrainConfig | None = None, dataset: Dataset | None = None
) -> ScoringModel:
    """Train a head on every labeled conversation, or on a `classifier` snapshot's; it waits in `ready`."""
    config = config or TrainConfig()
    decision_ids = snapshot_decision_ids(dataset=dataset) if dataset is not None else None
    examples = training_examples(include_imported=include_imported, decision_ids=decision_ids)
    if len(examples) < MIN_EXAMPLES:
        raise NotEnoughLabels(f"{len(examples)} labeled conversations; at least {MIN_EXAMPLES} are needed.")
    labels = label_names()
    model = _allocate_version(labels)
    model.training_dataset = dataset
    try:
        vectors = embed([e.conversation_id for e in examples])
        rows = [e for e in examples if e.conversation_id in vectors]
        features = np.stack([vectors[e.conversation_id] for e in rows])  # [n, 384]
        targets = np.array([[label in e.labels for label in labels] for e in rows], dtype=np.float32)  # [n, L]
        result = train_head(features, targets, config)
        model.model_args = {"hidden_dim": result.head.config.hidden_dim, "train": vars(config)}
        model.checkpoint = checkpoint_dumps(result.head, version=model.version, labels=labels)
        model.metrics = {
            "per_label": metrics_by_label(result.val_probs, result.val_targets, labels),
            "train_size": result.train_size,
            "val_size": result.val_size,
            "epochs": result.epochs,
            "include_imported": include_imported,
            "dataset": dataset.pk if dataset is not None else None,
        }
        model.status = ModelStatus.READY
    except Exception as exc:
        model.status, model.error = ModelStatus.FAILED, f"{type(exc).__name__}: {exc}"
        model.save()
        raise
    model.save()
    logger.info("trained scoring model v%s on %s examples", model.version, len(rows))
    return model
