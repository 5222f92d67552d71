"""Training the verdict head on cached `[u, r, o]` vectors: masked targets, a split by near-duplicate groups,
early stopping, Platt calibration on validation, metrics per output, leave-one-source-out figures and
bootstrap intervals.

Targets (`TargetArrays.build`, from the contract's dicts; an absent key masks its loss):
BCE(h, request_harmful), BCE(c, complied) on rows with a reply, BCE(harmful compliance,
harmful_response) where harmful compliance = h·c + t·(1 - h·c) (`worker/head.py`: t the reply
harmful in itself), BCE per category on rows that label categories, and a pairwise logistic loss
softplus(s_preferred - s_other) on the harmful-compliance logit s for relative labels.

Weights and inputs (`TrainConfig`): a source's rows weigh at most `source_cap` rows, a set of
one-sided request labels (harmful requests only) at most `one_sided_cap` (`training_weights`);
every labelled request that comes with replies also trains h on its own (`with_request_copies`),
so the request-only h (input guardrails, user reports, risk without a reply) learns from
CoCoNot's and XSTest's look-alikes too; Platt scaling weighs validation rows as training does.

The split (`group_keys`, `group_split`): rows whose judged requests are near-duplicates share a
group and a group is wholly in train or in validation. A group is the union of (1) exact
matches of the normalised request (lower-cased alphanumeric tokens: case, punctuation and
spacing never separate two copies of a prompt, e.g. the same behaviour in HarmBench,
JailbreakBench and XSTest, or the two replies of an hh-rlhf pair) and (2) MinHash
near-duplicates (word 3-gram shingles, estimated Jaccard ≥ 0.8 after LSH candidates, so a
prompt with a changed word or a template with another short question joins its group).
Which side a group lands on is a hash of its key and the seed, so adding rows never moves an
existing group. A row split would put copies of one prompt on both sides and overstate quality.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from worker.encoder import DIM
from worker.grouping import group_keys, group_split, normalise, source_weights
from worker.head import (
    CATEGORIES,
    C,
    Calibration,
    H,
    HeadConfig,
    Prediction,
    T,
    VerdictHead,
    calibrated,
    has_reply,
    logit,
)
from worker.metrics import (
    bootstrap_interval,
    evaluate,
    expected_calibration_error,
    fit_calibration,
    fit_platt,
    label_metrics,
    output_truth,
)
from worker.targets import TargetArrays, request_weights, with_request_copies

OUTPUTS = ("request_harmful", "complied", "harmful_compliance", "risk")


@dataclass
class TrainConfig:
    max_epochs: int = 60
    patience: int = 4  # epochs without a better validation loss before stopping
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    val_fraction: float = 0.15
    seed: int = 0
    hidden_dim: int = 128  # one hidden layer over [u, r, u·r, |u-r|]; keeps training and LOSO cheap on 2 cores
    dropout: float = 0.1
    h_reads_reply: bool = False  # h from the request alone (worker/head.py says why)
    reply_harm: bool = True  # a t output: the reply harmful in itself, composed into harmful compliance
    request_copies: bool = True  # each labelled request that has a reply trains h once more on its own
    weighted_calibration: bool = True  # Platt scaling weighs validation rows as training does
    one_sided_cap: int = 300  # a source labelling only harmful (or only benign) requests weighs at most this many rows
    max_pos_weight: float = 20.0  # rare categories weigh more, but not without bound
    source_cap: int = 4000  # a source's rows together weigh at most this many (big user-side sets would swamp the rest)
    category_weight: float = 0.5
    pair_weight: float = 0.5


# --- training ----------------------------------------------------------------------------------------------------


def training_weights(sources: Sequence[str], targets: TargetArrays, config: TrainConfig) -> np.ndarray:
    """Row weights under `config`'s caps (`worker.targets.request_weights`)."""
    return request_weights(sources, targets, source_cap=config.source_cap, one_sided_cap=config.one_sided_cap)


def _masked_mean(loss: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (loss * weight).sum() / weight.sum().clamp(min=1e-6)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, stable on both sides of -log 2."""
    x = x.clamp(max=-1e-6)
    return torch.where(x > -0.6931, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def hc_log_probs(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p, log (1 - p)) of harmful compliance p = h·c + t·(1 - h·c) (see worker/head.py)."""
    log_hc = F.logsigmoid(logits[:, H]) + F.logsigmoid(logits[:, C])
    log_not_hc = _log1mexp(log_hc)
    log_p = torch.logaddexp(log_hc, F.logsigmoid(logits[:, T]) + log_not_hc)
    return log_p, log_not_hc + F.logsigmoid(-logits[:, T])


def hc_logit(logits: torch.Tensor) -> torch.Tensor:
    log_p, log_not_p = hc_log_probs(logits)
    return log_p - log_not_p


class Batch:
    def __init__(self, t: TargetArrays, rows: np.ndarray, weights: np.ndarray, reply: np.ndarray) -> None:
        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a[rows]))

        w = tensor(weights)
        self.h, self.w_h = tensor(t.h), w * tensor(t.m_h)
        self.c, self.w_c = tensor(t.c), w * tensor(t.m_c) * tensor(reply.astype(np.float32))
        self.hr, self.w_hr = tensor(t.hr), w * tensor(t.m_hr) * tensor(reply.astype(np.float32))
        self.cats, self.w_cats = tensor(t.cats), w * tensor(t.m_cats)


def verdict_loss(logits: torch.Tensor, batch: Batch, pos_weight: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    loss = _masked_mean(F.binary_cross_entropy_with_logits(logits[:, H], batch.h, reduction="none"), batch.w_h)
    loss = loss + _masked_mean(F.binary_cross_entropy_with_logits(logits[:, C], batch.c, reduction="none"), batch.w_c)
    log_p, log_not_p = hc_log_probs(logits)
    bce_hc = -(batch.hr * log_p + (1 - batch.hr) * log_not_p)
    loss = loss + _masked_mean(bce_hc, batch.w_hr)
    if logits.shape[1] > CATEGORIES:
        per_cat = F.binary_cross_entropy_with_logits(
            logits[:, CATEGORIES:], batch.cats, pos_weight=pos_weight, reduction="none"
        ).mean(dim=1)
        loss = loss + config.category_weight * _masked_mean(per_cat, batch.w_cats)
    return loss


@dataclass
class TrainResult:
    head: VerdictHead
    calibration: Calibration
    epochs: int
    train_rows: np.ndarray
    val_rows: np.ndarray
    val_prediction: Prediction | None
    val_metrics: dict[str, Any]


def pair_loss(head: torch.nn.Module, x: torch.Tensor, pairs: np.ndarray) -> torch.Tensor:
    """softplus(s_preferred - s_other) on the harmful-compliance logit s, for rows (preferred, other)."""
    s_preferred = hc_logit(head(x[torch.from_numpy(pairs[:, 0])]))
    s_other = hc_logit(head(x[torch.from_numpy(pairs[:, 1])]))
    return F.softplus(s_preferred - s_other).mean()


def _new_head(embed_dim: int, n_categories: int, config: TrainConfig, views: int = 2) -> VerdictHead:
    return VerdictHead(
        HeadConfig(
            embed_dim=embed_dim,
            hidden_dim=config.hidden_dim,
            n_categories=n_categories,
            dropout=config.dropout,
            h_reads_reply=config.h_reads_reply,
            reply_harm=config.reply_harm,
            views=views,
        )
    )


def _category_pos_weight(train_t: TargetArrays, config: TrainConfig) -> torch.Tensor:
    """Per category: negatives / positives among the rows that label categories, within [1, max_pos_weight]."""
    labelled = train_t.m_cats > 0
    positives = torch.from_numpy(train_t.cats[labelled].sum(axis=0))
    return ((labelled.sum() - positives) / positives.clamp(min=1)).clamp(1, config.max_pos_weight)


def _effective_config(config: TrainConfig, targets: TargetArrays, train_rows: np.ndarray) -> TrainConfig:
    """`config`, without the t output when no training row says a reply is harmful in itself: an untrained t would
    add noise to every risk."""
    if config.reply_harm and not (targets.m_hr[train_rows] > 0).any():
        return replace(config, reply_harm=False)
    return config


def _with_copies(
    features: np.ndarray,
    targets: TargetArrays,
    weights: np.ndarray,
    train_rows: np.ndarray,
    config: TrainConfig,
    embed_dim: int,
) -> tuple[np.ndarray, TargetArrays, np.ndarray, np.ndarray]:
    if not config.request_copies:
        return features, targets, weights, train_rows
    return with_request_copies(features, targets, weights, train_rows, embed_dim=embed_dim)


def train_verdict_head(
    features: np.ndarray,
    targets: TargetArrays,
    *,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    weights: np.ndarray | None = None,
    config: TrainConfig | None = None,
    embed_dim: int = DIM,
) -> TrainResult:
    """Train on `train_rows`, stop early and calibrate on `val_rows`; features [n, views x embed_dim] ([u, r, o]
    or [u, r])."""
    config = _effective_config(config or TrainConfig(), targets, train_rows)
    torch.manual_seed(config.seed)
    weights = np.ones(len(features), dtype=np.float32) if weights is None else weights.astype(np.float32)
    features, targets, weights, train_rows = _with_copies(features, targets, weights, train_rows, config, embed_dim)
    reply = has_reply(features, embed_dim)
    head = _new_head(embed_dim, len(targets.categories), config, views=features.shape[1] // embed_dim)
    x = torch.from_numpy(np.ascontiguousarray(features))
    train_t, val_t = targets.subset(train_rows), targets.subset(val_rows)
    pos_weight = _category_pos_weight(train_t, config)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    pairs = targets.pairs[np.isin(targets.pairs[:, 0], train_rows) & np.isin(targets.pairs[:, 1], train_rows)]
    val_batch = Batch(targets, val_rows, np.ones(len(features), dtype=np.float32), reply)
    x_val = x[torch.from_numpy(val_rows)]

    best_loss, best_state, stale, epoch = math.inf, {k: v.clone() for k, v in head.state_dict().items()}, 0, 0
    steps = max(1, math.ceil(len(train_rows) / config.batch_size))
    for epoch in range(1, config.max_epochs + 1):  # noqa: B007  (epoch is reported)
        head.train()
        order = train_rows[torch.randperm(len(train_rows), generator=generator).numpy()]
        pair_order = pairs[torch.randperm(len(pairs), generator=generator).numpy()] if len(pairs) else pairs
        pair_batch = max(1, math.ceil(len(pairs) / steps)) if len(pairs) else 0
        for step, rows in enumerate(np.array_split(order, steps)):
            optimizer.zero_grad()
            loss = verdict_loss(
                head(x[torch.from_numpy(rows)]), Batch(targets, rows, weights, reply), pos_weight, config
            )
            chunk = pair_order[step * pair_batch : (step + 1) * pair_batch] if pair_batch else pair_order[:0]
            if len(chunk):
                loss = loss + config.pair_weight * pair_loss(head, x, chunk)
            loss.backward()
            optimizer.step()
        head.eval()
        with torch.inference_mode():
            val_loss = verdict_loss(head(x_val), val_batch, pos_weight, config).item() if len(val_rows) else 0.0
        if val_loss < best_loss - 1e-4:
            best_loss, stale = val_loss, 0
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    head.load_state_dict(best_state)
    head.eval()
    if not len(val_rows):
        return TrainResult(head, Calibration(), epoch, train_rows, val_rows, None, {})
    calibration, prediction = _calibrate(head, features, reply, val_t, weights, val_rows, config)
    return TrainResult(head, calibration, epoch, train_rows, val_rows, prediction, evaluate(prediction, val_t))


def _calibrate(
    head: VerdictHead,
    features: np.ndarray,
    reply: np.ndarray,
    val_t: TargetArrays,
    weights: np.ndarray,
    val_rows: np.ndarray,
    config: TrainConfig,
) -> tuple[Calibration, Prediction]:
    """Platt scaling fitted on the validation rows (weighted as in training unless the config says not), and
    their calibrated prediction."""
    logits = raw_logits(head, features[val_rows])
    calibration = fit_calibration(
        logits, reply[val_rows], val_t, weights[val_rows] if config.weighted_calibration else None
    )
    return calibration, calibrated(logits, reply[val_rows], calibration)


def raw_logits(head: torch.nn.Module, features: np.ndarray, batch: int = 4096) -> np.ndarray:
    with torch.inference_mode():
        parts = [
            head(torch.from_numpy(np.ascontiguousarray(features[i : i + batch])))
            for i in range(0, len(features), batch)
        ]
    return torch.cat(parts).numpy() if parts else np.zeros((0, CATEGORIES), dtype=np.float32)


def predict(head: torch.nn.Module, features: np.ndarray, calibration: Calibration) -> Prediction:
    embed_dim = int(head.config.embed_dim)  # type: ignore[union-attr, arg-type]
    reply = has_reply(features, embed_dim)
    return calibrated(raw_logits(head, features), reply, calibration)


# --- leave one source out ----------------------------------------------------------------------------------------


def leave_one_source_out(
    features: np.ndarray,
    targets: TargetArrays,
    *,
    sources: Sequence[str],
    groups: Sequence[str],
    config: TrainConfig,
    min_rows: int = 20,
    embed_dim: int = DIM,
) -> dict[str, dict[str, Any]]:
    """For each labelled source: a head trained on every other source (its own group split for early
    stopping and calibration), evaluated on all of that source's rows. Figures per output it labels, and
    `shared`: the other sources' rows left out of training because they are near-duplicates of its requests."""
    sources_arr = np.asarray(sources, dtype=object)
    report: dict[str, dict[str, Any]] = {}
    for source in sorted(set(sources)):
        held = np.flatnonzero(sources_arr == source)
        rest = loso_training_rows(sources_arr, groups, source)
        if len(held) < min_rows or len(rest) < min_rows:
            continue
        rest_groups = [groups[int(i)] for i in rest]
        train_local, val_local = group_split(rest_groups, val_fraction=config.val_fraction, seed=config.seed)
        result = train_verdict_head(
            features,
            targets,
            train_rows=rest[train_local],
            val_rows=rest[val_local],
            weights=training_weights(sources, targets, config),
            config=config,
            embed_dim=embed_dim,
        )
        prediction = predict(result.head, features[held], result.calibration)
        metrics = evaluate(prediction, targets.subset(held))
        shared = len(sources_arr) - len(held) - len(rest)
        report[source] = {"rows": len(held), "shared": shared} | {
            name: metrics[name] for name in OUTPUTS if metrics[name]["support"]
        }
    return report


def loso_training_rows(sources: np.ndarray, groups: Sequence[str], source: str) -> np.ndarray:
    """The rows a head "trained without `source`" may learn from: the other sources' rows, less those in a
    near-duplicate group of one of its rows. XSTest's completions repeat its prompts, and HarmBench,
    JailbreakBench and XSTest share behaviours: trained on the other copy, a held-out set is not unseen."""
    held_groups = {groups[int(i)] for i in np.flatnonzero(sources == source)}
    return np.array(
        [i for i in range(len(sources)) if sources[i] != source and groups[i] not in held_groups], dtype=np.int64
    )


def loso_config(config: TrainConfig) -> TrainConfig:
    """A cheaper head for the leave-one-source-out runs: narrower, fewer epochs."""
    return TrainConfig(**(vars(config) | {"hidden_dim": 64, "max_epochs": 15, "patience": 3}))


__all__ = [
    "OUTPUTS",
    "Calibration",
    "TargetArrays",
    "TrainConfig",
    "TrainResult",
    "bootstrap_interval",
    "evaluate",
    "expected_calibration_error",
    "fit_calibration",
    "fit_platt",
    "group_keys",
    "group_split",
    "label_metrics",
    "leave_one_source_out",
    "logit",
    "loso_training_rows",
    "normalise",
    "output_truth",
    "predict",
    "source_weights",
    "train_verdict_head",
    "training_weights",
    "with_request_copies",
]
