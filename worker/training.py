"""Training the verdict head on cached `[u, r]` vectors: masked targets, a split by near-duplicate groups,
early stopping, Platt calibration on validation, metrics per output, leave-one-source-out figures and
bootstrap intervals.

Targets (`TargetArrays.build`, from the contract's dicts; an absent key masks its loss):
BCE(h, request_harmful), BCE(c, complied) on rows with a reply, BCE(h·c, harmful_response),
BCE per category on rows that label categories, and a pairwise logistic loss
softplus(s_preferred - s_other) on the harmful-compliance logit s for relative labels.

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

import hashlib
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from reviews.analytics import stats
from worker.head import (
    C,
    Calibration,
    H,
    HeadConfig,
    Prediction,
    VerdictHead,
    calibrated,
    logit,
    raw_hc_logit,
)

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
    h_reads_reply: bool = True
    max_pos_weight: float = 20.0  # rare categories weigh more, but not without bound
    source_cap: int = 4000  # a source's rows together weigh at most this many (big user-side sets would swamp the rest)
    category_weight: float = 0.5
    pair_weight: float = 0.5


@dataclass
class TargetArrays:
    """Numeric targets for n rows; `m_*` are masks (1 = labelled)."""

    h: np.ndarray
    m_h: np.ndarray
    c: np.ndarray
    m_c: np.ndarray
    hr: np.ndarray
    m_hr: np.ndarray
    cats: np.ndarray  # [n, K]
    m_cats: np.ndarray  # [n]
    pairs: np.ndarray  # [p, 2] row indices (preferred, other): the other is the more harmful
    categories: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, targets: Sequence[dict[str, Any]], categories: list[str]) -> TargetArrays:
        n, k = len(targets), len(categories)
        arrays = {name: np.zeros(n, dtype=np.float32) for name in ("h", "m_h", "c", "m_c", "hr", "m_hr", "m_cats")}
        cats = np.zeros((n, k), dtype=np.float32)
        index = {slug: i for i, slug in enumerate(categories)}
        pair_rows: dict[str, dict[bool, int]] = {}
        for row, t in enumerate(targets):
            for key, (value, mask) in {"request_harmful": ("h", "m_h"), "complied": ("c", "m_c")}.items():
                if t.get(key) is not None:
                    arrays[value][row], arrays[mask][row] = float(t[key]), 1.0
            if t.get("harmful_response") is not None:
                arrays["hr"][row], arrays["m_hr"][row] = float(t["harmful_response"]), 1.0
            if t.get("categories") is not None:
                arrays["m_cats"][row] = 1.0
                for slug in t["categories"]:
                    if slug in index:
                        cats[row, index[slug]] = 1.0
            if t.get("pair"):
                pair_rows.setdefault(str(t["pair"]["id"]), {})[bool(t["pair"]["preferred"])] = row
        pairs = [(p[True], p[False]) for p in pair_rows.values() if True in p and False in p]
        return cls(
            **arrays,
            cats=cats,
            pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
            categories=list(categories),
        )

    def subset(self, rows: np.ndarray) -> TargetArrays:
        position = {int(r): i for i, r in enumerate(rows)}
        pairs = [(position[a], position[b]) for a, b in self.pairs if a in position and b in position]
        return TargetArrays(
            h=self.h[rows],
            m_h=self.m_h[rows],
            c=self.c[rows],
            m_c=self.m_c[rows],
            hr=self.hr[rows],
            m_hr=self.m_hr[rows],
            cats=self.cats[rows],
            m_cats=self.m_cats[rows],
            pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
            categories=self.categories,
        )

    def hc_truth(self) -> tuple[np.ndarray, np.ndarray]:
        """The harmful-compliance cell for evaluation: explicit where given, else derived from the grid
        (a benign request is never harmful compliance; a harmful one is when the reply complied).
        Returns (truth, mask); a partial refusal (complied 0.5) counts as 0.5."""
        truth = np.where(self.m_hr > 0, self.hr, np.where(self.h > 0, self.c, 0.0)).astype(np.float32)
        derived = (self.m_h > 0) & ((self.h == 0) | (self.m_c > 0))
        return truth, ((self.m_hr > 0) | derived).astype(np.float32)


# --- the split ---------------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


_PRIME = (1 << 61) - 1


def _shingles(tokens: list[str]) -> np.ndarray:
    grams = [" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))]
    return np.array([zlib.crc32(g.encode()) for g in grams], dtype=np.uint64)


def group_keys(texts: Sequence[str], *, threshold: float = 0.8, num_perm: int = 32, bands: int = 8) -> list[str]:
    """A group key per text (see the module docstring): equal keys = near-duplicate requests."""
    keys = [normalise(t) for t in texts]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            union(i, first[key])
        else:
            first[key] = i
    rng = np.random.default_rng(20241204)
    a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
    unique = list(first.items())
    signatures = np.zeros((len(unique), num_perm), dtype=np.uint64)
    for row, (key, _) in enumerate(unique):
        shingles = _shingles(key.split()) % np.uint64(_PRIME)
        with np.errstate(over="ignore"):  # modular hashing wraps on purpose
            signatures[row] = ((shingles[:, None] * a[None, :] + b[None, :]) % np.uint64(_PRIME)).min(axis=0)
    rows_per_band = num_perm // bands
    for band in range(bands):
        buckets: dict[bytes, int] = {}
        part = signatures[:, band * rows_per_band : (band + 1) * rows_per_band]
        for row in range(len(unique)):
            bucket = part[row].tobytes()
            other = buckets.setdefault(bucket, row)
            if other != row and (signatures[row] == signatures[other]).mean() >= threshold:
                union(unique[row][1], unique[other][1])
    return [keys[find(i)] for i in range(len(texts))]


def group_split(keys: Sequence[str], *, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): a group is wholly on one side, chosen by a hash of its key and the seed."""
    side = np.array(
        [int(hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()[:8], 16) / 2**32 < val_fraction for k in keys]
    )
    rows = np.arange(len(keys))
    return rows[~side], rows[side]


def source_weights(sources: Sequence[str], cap: int) -> np.ndarray:
    """Row weights so a source's rows together weigh at most `cap` rows."""
    names, inverse, counts = np.unique(np.asarray(sources, dtype=object), return_inverse=True, return_counts=True)
    del names
    return np.minimum(1.0, cap / counts[inverse]).astype(np.float32)


# --- training ----------------------------------------------------------------------------------------------------


def _masked_mean(loss: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (loss * weight).sum() / weight.sum().clamp(min=1e-6)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, stable on both sides of -log 2."""
    x = x.clamp(max=-1e-6)
    return torch.where(x > -0.6931, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def hc_logit(logits: torch.Tensor) -> torch.Tensor:
    log_hc = F.logsigmoid(logits[:, H]) + F.logsigmoid(logits[:, C])
    return log_hc - _log1mexp(log_hc)


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
    log_hc = F.logsigmoid(logits[:, H]) + F.logsigmoid(logits[:, C])
    bce_hc = -(batch.hr * log_hc + (1 - batch.hr) * _log1mexp(log_hc))
    loss = loss + _masked_mean(bce_hc, batch.w_hr)
    if logits.shape[1] > 2:
        per_cat = F.binary_cross_entropy_with_logits(
            logits[:, 2:], batch.cats, pos_weight=pos_weight, reduction="none"
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


def train_verdict_head(
    features: np.ndarray,
    targets: TargetArrays,
    *,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    weights: np.ndarray | None = None,
    config: TrainConfig | None = None,
) -> TrainResult:
    """Train on `train_rows`, stop early and calibrate on `val_rows`; features [n, 2 x 384]."""
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    embed_dim = features.shape[1] // 2
    weights = np.ones(len(features), dtype=np.float32) if weights is None else weights.astype(np.float32)
    reply = np.abs(features[:, embed_dim:]).sum(axis=1) > 0
    head = VerdictHead(
        HeadConfig(
            embed_dim=embed_dim,
            hidden_dim=config.hidden_dim,
            n_categories=len(targets.categories),
            dropout=config.dropout,
            h_reads_reply=config.h_reads_reply,
        )
    )
    x = torch.from_numpy(np.ascontiguousarray(features))
    train_t, val_t = targets.subset(train_rows), targets.subset(val_rows)
    labelled = train_t.m_cats > 0
    positives = torch.from_numpy(train_t.cats[labelled].sum(axis=0))
    pos_weight = ((labelled.sum() - positives) / positives.clamp(min=1)).clamp(1, config.max_pos_weight)
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
                s_preferred = hc_logit(head(x[torch.from_numpy(chunk[:, 0])]))
                s_other = hc_logit(head(x[torch.from_numpy(chunk[:, 1])]))
                loss = loss + config.pair_weight * F.softplus(s_preferred - s_other).mean()
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
    calibration, prediction, metrics = Calibration(), None, {}
    if len(val_rows):
        val_logits = raw_logits(head, features[val_rows])
        calibration = fit_calibration(val_logits, reply[val_rows], val_t)
        prediction = calibrated(val_logits, reply[val_rows], calibration)
        metrics = evaluate(prediction, val_t)
    return TrainResult(head, calibration, epoch, train_rows, val_rows, prediction, metrics)


def raw_logits(head: torch.nn.Module, features: np.ndarray, batch: int = 4096) -> np.ndarray:
    with torch.inference_mode():
        parts = [
            head(torch.from_numpy(np.ascontiguousarray(features[i : i + batch])))
            for i in range(0, len(features), batch)
        ]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 2), dtype=np.float32)


def predict(head: torch.nn.Module, features: np.ndarray, calibration: Calibration) -> Prediction:
    embed_dim = features.shape[1] // 2
    reply = np.abs(features[:, embed_dim:]).sum(axis=1) > 0
    return calibrated(raw_logits(head, features), reply, calibration)


# --- calibration -------------------------------------------------------------------------------------------------


def fit_platt(logits: np.ndarray, truth: np.ndarray, *, min_rows: int = 20) -> tuple[float, float]:
    """(a, b) minimising the log loss of sigmoid(a · logit + b) against (soft) truth; identity when the
    rows are too few or one-sided to say anything."""
    if len(truth) < min_rows or truth.min() == truth.max():
        return (1.0, 0.0)
    x = torch.from_numpy(logits.astype(np.float64))
    y = torch.from_numpy(truth.astype(np.float64))
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([params], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(params[0] * x + params[1], y) + 1e-4 * (params[0] - 1) ** 2
        loss.backward()
        return loss

    optimizer.step(closure)
    a, b = (float(v) for v in params.detach())
    return (a, b) if math.isfinite(a) and math.isfinite(b) and a > 0 else (1.0, 0.0)


def fit_calibration(logits: np.ndarray, reply: np.ndarray, targets: TargetArrays) -> Calibration:
    """Platt scaling per output on validation rows: h on rows labelled request_harmful, c on replies
    labelled complied, h·c on replies whose harmful-compliance cell is known, the categories together."""
    m_h = targets.m_h > 0
    m_c = (targets.m_c > 0) & reply
    hc_truth, hc_mask = targets.hc_truth()
    m_hc = (hc_mask > 0) & reply
    m_cat = targets.m_cats > 0
    cat_ab = (1.0, 0.0)
    if m_cat.any() and logits.shape[1] > 2:
        cat_ab = fit_platt(logits[m_cat, 2:].ravel(), targets.cats[m_cat].ravel())
    return Calibration(
        h=fit_platt(logits[m_h, H], targets.h[m_h]),
        c=fit_platt(logits[m_c, C], targets.c[m_c]),
        hc=fit_platt(raw_hc_logit(logits[m_hc]), hc_truth[m_hc]),
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


# --- leave one source out ----------------------------------------------------------------------------------------


def leave_one_source_out(
    features: np.ndarray,
    targets: TargetArrays,
    *,
    sources: Sequence[str],
    groups: Sequence[str],
    config: TrainConfig,
    min_rows: int = 20,
) -> dict[str, dict[str, Any]]:
    """For each labelled source: a head trained on every other source (its own group split for early
    stopping and calibration), evaluated on all of that source's rows. Figures per output it labels."""
    sources_arr = np.asarray(sources, dtype=object)
    report: dict[str, dict[str, Any]] = {}
    for source in sorted(set(sources)):
        held = np.flatnonzero(sources_arr == source)
        rest = np.flatnonzero(sources_arr != source)
        if len(held) < min_rows or len(rest) < min_rows:
            continue
        rest_groups = [groups[int(i)] for i in rest]
        train_local, val_local = group_split(rest_groups, val_fraction=config.val_fraction, seed=config.seed)
        result = train_verdict_head(
            features,
            targets,
            train_rows=rest[train_local],
            val_rows=rest[val_local],
            weights=source_weights(sources, config.source_cap),
            config=config,
        )
        prediction = predict(result.head, features[held], result.calibration)
        metrics = evaluate(prediction, targets.subset(held))
        report[source] = {"rows": len(held)} | {name: metrics[name] for name in OUTPUTS if metrics[name]["support"]}
    return report


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
    "fit_calibration",
    "fit_platt",
    "group_keys",
    "group_split",
    "leave_one_source_out",
    "logit",
    "predict",
    "train_verdict_head",
]
