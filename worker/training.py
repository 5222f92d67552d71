"""Training the head on cached embeddings, with a held-out split, early stopping and per-label metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from torch import nn

from reviews.analytics import stats
from worker.head import HeadConfig, RiskHead


@dataclass
class TrainConfig:
    max_epochs: int = 300
    patience: int = 15  # epochs without a better validation loss before stopping
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    val_fraction: float = 0.2
    seed: int = 0
    max_pos_weight: float = 20.0  # rare categories weigh more, but not without bound


@dataclass
class TrainResult:
    head: RiskHead
    val_probs: np.ndarray  # [n_val, n_labels] the trained head's probabilities on the held-out split
    val_targets: np.ndarray  # [n_val, n_labels]
    epochs: int
    train_size: int
    val_size: int


def split_indices(n: int, *, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows are conversations, so a row split is a split by conversation."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction)) if n > 1 else 0
    return order[n_val:], order[:n_val]


def train_head(features: np.ndarray, targets: np.ndarray, config: TrainConfig | None = None) -> TrainResult:
    """features [n, 384] float32, targets [n, n_labels] 0/1."""
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    train_idx, val_idx = split_indices(len(features), val_fraction=config.val_fraction, seed=config.seed)
    x_train, y_train = torch.from_numpy(features[train_idx]), torch.from_numpy(targets[train_idx]).float()
    x_val, y_val = torch.from_numpy(features[val_idx]), torch.from_numpy(targets[val_idx]).float()

    head = RiskHead(HeadConfig(input_dim=features.shape[1], n_labels=targets.shape[1]))
    positives = y_train.sum(dim=0)  # [n_labels]
    pos_weight = ((len(y_train) - positives) / positives.clamp(min=1)).clamp(1, config.max_pos_weight)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)

    best_loss, best_state, stale, epoch = math.inf, head.state_dict(), 0, 0
    for epoch in range(1, config.max_epochs + 1):  # noqa: B007  (epoch is reported)
        head.train()
        for batch in torch.randperm(len(x_train), generator=generator).split(config.batch_size):
            optimizer.zero_grad()
            loss_fn(head(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        head.eval()
        with torch.inference_mode():
            val_loss = loss_fn(head(x_val), y_val).item() if len(x_val) else 0.0
        if val_loss < best_loss - 1e-4:
            best_loss, stale = val_loss, 0
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    head.load_state_dict(best_state)
    head.eval()
    with torch.inference_mode():
        probs = torch.sigmoid(head(x_val)).numpy() if len(x_val) else np.zeros((0, targets.shape[1]))
    return TrainResult(
        head=head,
        val_probs=probs,
        val_targets=targets[val_idx],
        epochs=epoch,
        train_size=len(train_idx),
        val_size=len(val_idx),
    )


def metrics_by_label(
    probs: np.ndarray, targets: np.ndarray, labels: list[str]
) -> dict[str, dict[str, float | int | None]]:
    return {label: label_metrics(targets[:, i], probs[:, i]) for i, label in enumerate(labels)}


def expected_calibration_error(truth: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by bin size: the one definition
    the model-quality dashboard uses too (reviews/analytics/stats.py)."""
    ece = stats.expected_calibration_error(stats.reliability_bins(probs.tolist(), truth.tolist(), bins))
    return 0.0 if ece is None else ece


def label_metrics(truth: np.ndarray, probs: np.ndarray) -> dict[str, float | int | None]:
    """AUROC, AUPRC, the F1-best threshold and its F1, and ECE; None where one class is absent."""
    positives = int(truth.sum())
    result: dict[str, float | int | None] = {"positives": positives, "support": len(truth)}
    if len(truth) == 0 or positives in (0, len(truth)):
        return result | {"auroc": None, "auprc": None, "f1": None, "threshold": 0.5, "ece": None}
    precision, recall, thresholds = precision_recall_curve(truth, probs)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return result | {
        "auroc": float(roc_auc_score(truth, probs)),
        "auprc": float(average_precision_score(truth, probs)),
        "f1": float(f1[best]),
        "threshold": float(thresholds[best]) if len(thresholds) else 0.5,
        "ece": expected_calibration_error(truth, probs),
    }
