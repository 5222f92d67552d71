"""Platt calibration of the verdict head's outputs, and the metrics `train_model` reports: per output and category
(AUROC, AUPRC, best F1, ECE) and paired bootstrap intervals for comparing models on the same rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from reviews.analytics import stats
from worker.head import CATEGORIES, C, Calibration, H, Prediction, raw_hc_logit

if TYPE_CHECKING:
    from worker.targets import TargetArrays

# --- calibration -------------------------------------------------------------------------------------------------


def fit_platt(
    logits: np.ndarray, truth: np.ndarray, *, weights: np.ndarray | None = None, min_rows: int = 20
) -> tuple[float, float]:
    """(a, b) minimising the (weighted) log loss of sigmoid(a · logit + b) against (soft) truth; identity when
    the rows are too few or one-sided to say anything."""
    if len(truth) < min_rows or truth.min() == truth.max():
        return (1.0, 0.0)
    x = torch.from_numpy(logits.astype(np.float64))
    y = torch.from_numpy(truth.astype(np.float64))
    w = torch.from_numpy((np.ones(len(truth)) if weights is None else weights).astype(np.float64))
    w = w / w.mean().clamp(min=1e-12)
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([params], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(params[0] * x + params[1], y, weight=w)
        loss = loss + 1e-4 * (params[0] - 1) ** 2
        loss.backward()
        return loss

    optimizer.step(closure)
    a, b = (float(v) for v in params.detach())
    return (a, b) if math.isfinite(a) and math.isfinite(b) and a > 0 else (1.0, 0.0)


def fit_calibration(
    logits: np.ndarray, reply: np.ndarray, targets: TargetArrays, weights: np.ndarray | None = None
) -> Calibration:
    """Platt scaling per output on validation rows: h on rows labelled request_harmful, c on replies
    labelled complied, harmful compliance on replies whose cell is known, the categories together. `weights`:
    the rows' training weights (`worker.training.training_weights`), so the calibration holds for the mix the
    head was trained on rather than for however many rows each set happens to have."""
    w = np.ones(len(logits), dtype=np.float32) if weights is None else weights
    m_h = targets.m_h > 0
    m_c = (targets.m_c > 0) & reply
    hc_truth, hc_mask = targets.hc_truth()
    m_hc = (hc_mask > 0) & reply
    m_cat = targets.m_cats > 0
    cat_ab = (1.0, 0.0)
    if m_cat.any() and logits.shape[1] > CATEGORIES:
        cat_ab = fit_platt(logits[m_cat, CATEGORIES:].ravel(), targets.cats[m_cat].ravel())
    return Calibration(
        h=fit_platt(logits[m_h, H], targets.h[m_h], weights=w[m_h]),
        c=fit_platt(logits[m_c, C], targets.c[m_c], weights=w[m_c]),
        hc=fit_platt(raw_hc_logit(logits[m_hc]), hc_truth[m_hc], weights=w[m_hc]),
        categories=cat_ab,
    )


# --- metrics -----------------------------------------------------------------------------------------------------


def expected_calibration_error(truth: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by bin size: the one definition
    the model-quality dashboard uses too (reviews/analytics/stats.py)."""
    ece = stats.expected_calibration_error(stats.reliability_bins(probs.tolist(), truth.tolist(), bins))
    return 0.0 if ece is None else ece


def label_metrics(truth: np.ndarray, probs: np.ndarray) -> dict[str, float | int | None]:
    """AUROC, AUPRC, the F1-best threshold and its F1, and ECE; None where one class is absent.
    Soft truth (0.5) counts as negative for the ranking metrics and as itself for ECE."""
    hard = (truth > 0.5).astype(int)
    positives = int(hard.sum())
    result: dict[str, float | int | None] = {"positives": positives, "support": len(truth)}
    if len(truth) == 0 or positives in (0, len(truth)):
        ece = expected_calibration_error(truth, probs) if len(truth) else None
        return result | {"auroc": None, "auprc": None, "f1": None, "threshold": 0.5, "ece": ece}
    precision, recall, thresholds = precision_recall_curve(hard, probs)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return result | {
        "auroc": float(roc_auc_score(hard, probs)),
        "auprc": float(average_precision_score(hard, probs)),
        "f1": float(f1[best]),
        "threshold": float(thresholds[best]) if len(thresholds) else 0.5,
        "ece": expected_calibration_error(truth, probs),
    }


def output_truth(prediction: Prediction, targets: TargetArrays) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per output: (truth, predicted probability) on the rows that label it."""
    reply = prediction.has_reply
    hc_truth, hc_mask = targets.hc_truth()
    m_h, m_c, m_hc = targets.m_h > 0, (targets.m_c > 0) & reply, (hc_mask > 0) & reply
    risk_truth = np.where(reply, hc_truth, targets.h)
    m_risk = np.where(reply, hc_mask > 0, m_h)
    return {
        "request_harmful": (targets.h[m_h], prediction.h[m_h]),
        "complied": (targets.c[m_c], prediction.c[m_c]),
        "harmful_compliance": (hc_truth[m_hc], prediction.harmful_compliance[m_hc]),
        "risk": (risk_truth[m_risk], prediction.risk[m_risk]),
    }


def evaluate(prediction: Prediction, targets: TargetArrays) -> dict[str, Any]:
    """Metrics per output, and per category on rows that label categories."""
    result: dict[str, Any] = {
        name: label_metrics(truth, probs) for name, (truth, probs) in output_truth(prediction, targets).items()
    }
    labelled = targets.m_cats > 0
    result["categories"] = {
        slug: label_metrics(targets.cats[labelled, i], prediction.categories[labelled, i])
        for i, slug in enumerate(targets.categories)
        if labelled.any() and targets.cats[labelled, i].any()
    }
    return result


def bootstrap_interval(
    truth: np.ndarray, scores: Sequence[np.ndarray], metric: str = "auprc", rounds: int = 1000, seed: int = 0
) -> list[dict[str, float | None]]:
    """Point estimate and 95 % percentile interval of `metric` for each score array on the same rows,
    resampled together (so the difference between two models is paired), plus the interval of each
    score's difference from the first."""
    hard = (truth > 0.5).astype(int)
    fn = average_precision_score if metric == "auprc" else roc_auc_score
    rng = np.random.default_rng(seed)
    samples = [[] for _ in scores]  # type: list[list[float]]
    differences = [[] for _ in scores]  # type: list[list[float]]
    for _ in range(rounds):
        rows = rng.integers(0, len(hard), len(hard))
        if hard[rows].min() == hard[rows].max():
            continue
        values = [float(fn(hard[rows], s[rows])) for s in scores]
        for i, v in enumerate(values):
            samples[i].append(v)
            differences[i].append(v - values[0])
    out: list[dict[str, float | None]] = []
    for i, s in enumerate(scores):
        point = float(fn(hard, s)) if 0 < hard.sum() < len(hard) else None
        low, high = np.percentile(samples[i], [2.5, 97.5]) if samples[i] else (None, None)
        d_low, d_high = np.percentile(differences[i], [2.5, 97.5]) if differences[i] else (None, None)
        out.append(
            {
                "value": point,
                "low": None if low is None else float(low),
                "high": None if high is None else float(high),
                "diff_low": None if d_low is None else float(d_low),
                "diff_high": None if d_high is None else float(d_high),
            }
        )
    return out
