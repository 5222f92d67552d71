"""Training a new ScoringModel version from decisions: the verdict head on cached request/reply vectors
(or, with `fine_tune`, the encoder end to end), with calibrated metrics, leave-one-source-out figures and
a comparison against the active model on the same rows."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Max

from reviews.imports.services import reference_import
from reviews.models import Dataset, ModelStatus, ScoringModel
from reviews.scoring.training_data import (
    MIN_EXAMPLES,
    Example,
    category_names,
    snapshot_decision_ids,
    training_examples,
)
from worker.encoder import pick_device, views_key
from worker.finetune import FineTuneConfig
from worker.head import checkpoint_dumps
from worker.scoring import LoadedModel, active_model, embed, score_outputs
from worker.training import (
    TargetArrays,
    TrainConfig,
    bootstrap_interval,
    group_keys,
    group_split,
    leave_one_source_out,
    loso_config,
    predict,
    train_verdict_head,
    training_weights,
)

logger = logging.getLogger(__name__)


class NotEnoughLabels(ValueError):
    """Too few decisions to train and validate a head."""


def _allocate_version(labels: list[str], encoder: str) -> ScoringModel:
    with transaction.atomic():
        latest = ScoringModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
        return ScoringModel.objects.create(
            version=latest + 1, encoder=encoder, labels=labels, status=ModelStatus.TRAINING
        )


def split_rows(examples: list[Example], groups: list[str], config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """A snapshot's own splits when training on one (its train rows train; its validation and test rows,
    never trained on, stop early, calibrate and measure), else the split by near-duplicate groups."""
    if any(e.split for e in examples):
        splits = np.array([e.split or "" for e in examples])
        return np.flatnonzero(splits == "train"), np.flatnonzero(np.isin(splits, ["validation", "test"]))
    return group_split(groups, val_fraction=config.val_fraction, seed=config.seed)


def compare_with_active(
    candidate_risk: np.ndarray, conversation_ids: list[int], truth: np.ndarray, active: LoadedModel | None
) -> dict[str, Any] | None:
    """Candidate and active model scored on the same evaluation rows: AUPRC and AUROC of harmful compliance
    (the risk) with paired bootstrap 95 % intervals."""
    if active is None or len(conversation_ids) == 0 or truth.min() == truth.max():
        return None
    outputs = score_outputs(active, conversation_ids)
    keep = [i for i, cid in enumerate(conversation_ids) if cid in outputs.risk]
    active_risk = np.array([outputs.risk[conversation_ids[i]] for i in keep])
    truth, ours = truth[keep], candidate_risk[keep]
    if len(truth) == 0 or truth.min() == truth.max():
        return None
    result: dict[str, Any] = {"against": active.row.version, "rows": len(keep), "positives": int(truth.sum())}
    for metric in ("auprc", "auroc"):
        current, candidate = bootstrap_interval(truth, [active_risk, ours], metric=metric)
        result[f"harmful_compliance_{metric}"] = {
            "candidate": {k: candidate[k] for k in ("value", "low", "high")},
            "active": {k: current[k] for k in ("value", "low", "high")},
            "difference": {"low": candidate["diff_low"], "high": candidate["diff_high"]},  # candidate - active
        }
    return result


def model_train(
    *,
    include_imported: bool = True,
    config: TrainConfig | None = None,
    dataset: Dataset | None = None,
    fine_tune: bool | None = False,
    fine_tune_config: FineTuneConfig | None = None,
    fine_tune_rows: int | None = None,
    loso: bool = True,
    reference: bool = True,
) -> ScoringModel:
    """Train a model on every labelled conversation, or on a `classifier` snapshot's; it waits in `ready`.
    `fine_tune` None: fine-tune where this process has CUDA. Fine-tuning uses `fine_tune_config`, else this
    device's (`FineTuneConfig.for_device`, `fine_tune_rows` the sample's size). `reference` (with imported labels,
    no snapshot): train on Oversight's reference conversations too, importing them first (`reference_import`); False
    leaves them out. A snapshot trains on its own rows only."""
    config = config or TrainConfig()
    decision_ids = snapshot_decision_ids(dataset=dataset) if dataset is not None else None
    reference = reference or dataset is not None  # a snapshot trains on its own rows, whatever they are
    examples = training_examples(
        include_imported=include_imported, decision_ids=decision_ids, dataset=dataset, reference=reference
    )
    labelled = sum(not e.is_reference for e in examples)  # the reference conversations alone teach nothing
    if labelled < MIN_EXAMPLES:
        raise NotEnoughLabels(f"{labelled} labeled conversations; at least {MIN_EXAMPLES} are needed.")
    if dataset is None and include_imported and reference and reference_import().accepted:
        examples = training_examples()  # once per deployment (and per edit of the file): with the new rows
    categories = category_names()
    model = _allocate_version(categories, views_key())
    model.training_dataset = dataset
    if fine_tune is None:
        fine_tune = pick_device().type == "cuda"
    try:
        tuning = (fine_tune_config or FineTuneConfig.for_device(max_rows=fine_tune_rows)) if fine_tune else None
        _train_into(model, examples, categories, config, fine_tune=tuning, loso=loso)
        model.status = ModelStatus.READY
    except Exception as exc:
        model.status, model.error = ModelStatus.FAILED, f"{type(exc).__name__}: {exc}"
        model.save()
        raise
    model.metrics |= {
        "include_imported": include_imported,
        "dataset": dataset.pk if dataset is not None else None,
        "reference": any(e.is_reference for e in examples),
    }
    model.save()
    logger.info("trained scoring model v%s on %s examples", model.version, len(examples))
    return model


def _encode(
    model: ScoringModel,
    examples: list[Example],
    targets: TargetArrays,
    *,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    weights: np.ndarray,
    fine_tune: FineTuneConfig | None,
) -> tuple[np.ndarray, Any]:
    """The [n, 768] features the head trains on, and the fine-tuned encoder's weights (None when frozen);
    fine-tuning gives `model` the new encoder's cache key."""
    ids = [e.conversation_id for e in examples]
    if fine_tune is None:
        vectors = embed(ids)
        return np.stack([vectors[cid] for cid in ids]), None
    from worker.finetune import fine_tune_encoder

    tuned = fine_tune_encoder(
        examples, targets, train_rows=train_rows, val_rows=val_rows, weights=weights, config=fine_tune
    )
    model.encoder = tuned.encoder_key(model.version)
    vectors = embed(ids, encoder_key=model.encoder, encoder=tuned.encoder)
    return np.stack([vectors[cid] for cid in ids]), tuned.encoder_state


def _train_into(
    model: ScoringModel,
    examples: list[Example],
    categories: list[str],
    config: TrainConfig,
    *,
    fine_tune: FineTuneConfig | None,
    loso: bool,
) -> None:
    groups = group_keys([e.request for e in examples])
    train_rows, val_rows = split_rows(examples, groups, config)
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise NotEnoughLabels("The split left no training or no validation rows.")
    targets = TargetArrays.build([e.targets for e in examples], categories)
    sources = [e.source for e in examples]
    weights = training_weights(sources, targets, config)
    ids = [e.conversation_id for e in examples]
    features, encoder_state = _encode(
        model, examples, targets, train_rows=train_rows, val_rows=val_rows, weights=weights, fine_tune=fine_tune
    )
    result = train_verdict_head(
        features, targets, train_rows=train_rows, val_rows=val_rows, weights=weights, config=config
    )
    tuned_args = asdict(fine_tune) if fine_tune is not None else None
    model.model_args = asdict(result.head.config) | {"train": vars(config), "fine_tune": tuned_args}
    model.checkpoint = checkpoint_dumps(
        result.head,
        version=model.version,
        labels=categories,
        calibration=result.calibration,
        encoder_state=encoder_state,
    )
    outputs = {k: v for k, v in result.val_metrics.items() if k != "categories"}
    metrics: dict[str, Any] = {
        "outputs": outputs,
        # every output and category, for the pages that list per-label figures; "harmful" names the risk
        # (what queues order by), as it did when the single-label head's risk was its "harmful" label
        "per_label": outputs | {"harmful": outputs["risk"]} | result.val_metrics.get("categories", {}),
        "train_size": len(train_rows),
        "val_size": len(val_rows),
        "groups": len(set(groups)),
        "epochs": result.epochs,
        "split": "snapshot" if any(e.split for e in examples) else "near-duplicate groups",
        "calibration": asdict(result.calibration),
    }
    if loso and len(set(sources)) > 1:
        metrics["loso"] = leave_one_source_out(
            features, targets, sources=sources, groups=groups, config=loso_config(config)
        )
    val_targets = targets.subset(val_rows)
    truth, mask = val_targets.hc_truth()
    prediction = predict(result.head, features[val_rows], result.calibration)
    rows = np.flatnonzero((mask > 0) & prediction.has_reply)
    comparison = compare_with_active(
        prediction.risk[rows], [ids[val_rows[i]] for i in rows], (truth[rows] > 0.5).astype(int), active_model()
    )
    if comparison is not None:
        metrics["comparison"] = comparison
    model.metrics = metrics
