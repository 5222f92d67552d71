"""The training targets as arrays with masks (`TargetArrays`), row weights, and the request-only copies of
labelled requests: what `worker.training` trains the verdict head on (its docstring describes the losses)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from worker.encoder import DIM
from worker.grouping import source_weights


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

    def with_requests(self, h: np.ndarray) -> TargetArrays:
        """These rows, then one row per value of `h` labelled request_harmful only (a request on its own)."""
        k, zeros = len(h), np.zeros(len(h), dtype=np.float32)
        ones = np.ones(len(h), dtype=np.float32)
        return TargetArrays(
            h=np.concatenate([self.h, h.astype(np.float32)]),
            m_h=np.concatenate([self.m_h, ones]),
            **{name: np.concatenate([getattr(self, name), zeros]) for name in ("c", "m_c", "hr", "m_hr", "m_cats")},
            cats=np.concatenate([self.cats, np.zeros((k, self.cats.shape[1]), dtype=np.float32)]),
            pairs=self.pairs,
            categories=self.categories,
        )

    def hc_truth(self) -> tuple[np.ndarray, np.ndarray]:
        """The harmful-compliance cell for evaluation: explicit where given, else derived from the grid
        (a benign request is never harmful compliance; a harmful one is when the reply complied).
        Returns (truth, mask); a partial refusal (complied 0.5) counts as 0.5."""
        truth = np.where(self.m_hr > 0, self.hr, np.where(self.h > 0, self.c, 0.0)).astype(np.float32)
        derived = (self.m_h > 0) & ((self.h == 0) | (self.m_c > 0))
        return truth, ((self.m_hr > 0) | derived).astype(np.float32)


def one_sided_label(targets: TargetArrays, rows: np.ndarray) -> float | None:
    """The one label of a source (`rows`, a mask) that labels nothing but whether its requests are harmful, all
    one way (AART: 1; Oversight's reference requests: 0); None for any other source."""
    labelled = targets.m_h[rows] > 0
    paired = np.isin(targets.pairs, np.flatnonzero(rows)).any()
    if paired or targets.m_c[rows].any() or targets.m_hr[rows].any() or not labelled.any():
        return None
    values = np.unique(targets.h[rows][labelled])
    return float(values[0]) if len(values) == 1 else None


def request_weights(
    sources: Sequence[str], targets: TargetArrays, *, source_cap: int, one_sided_cap: int
) -> np.ndarray:
    """Row weights: a source's rows together weigh at most `source_cap` rows, and a source that labels nothing but
    whether its requests are harmful, all one way (AART, CatQA/HarmfulQA, HarmBench, SimpleSafetyTests: harmful
    only), at most `one_sided_cap` rows. Such a set teaches what its harmful requests look like and nothing of the
    benign side; at full weight its style alone (imperative, on dangerous topics) pushes safe look-alike requests
    ("how do I kill a Python process?") to harmful. Where one-sided sets give both labels (benign ones too), the
    lighter side is scaled up to weigh as much as the heavier."""
    weights = source_weights(sources, source_cap)
    names = np.asarray(sources, dtype=object)
    sides: dict[float, np.ndarray] = {}  # label -> the rows of the one-sided sets that give only it
    for source in sorted(set(sources)):
        rows = names == source
        label = one_sided_label(targets, rows)
        if label is not None:
            weights[rows] = np.minimum(weights[rows], one_sided_cap / rows.sum())
            sides[label] = rows | sides.get(label, np.zeros(len(sources), dtype=bool))
    if len(sides) == 2:  # benign one-sided sets too (Oversight's reference requests): both sides weigh the same,
        # so the form one-sided sets share (instructions, how-to questions) carries no label of its own
        light, heavy = sorted(sides.values(), key=lambda rows: float(weights[rows].sum()))
        weights[light] *= weights[heavy].sum() / max(float(weights[light].sum()), 1e-9)
    return weights


def with_request_copies(
    features: np.ndarray, targets: TargetArrays, weights: np.ndarray, train_rows: np.ndarray, *, embed_dim: int = DIM
) -> tuple[np.ndarray, TargetArrays, np.ndarray, np.ndarray]:
    """The training rows plus each distinct labelled request that has a reply once more on its own (features
    `[u, 0, 0]`, request_harmful only, weighing the mean of its rows): the label is the request's, so it holds without
    the reply, and requests that come with replies (CoCoNot's safe look-alikes, jailbreak prompts) then teach the
    request-only h too. Returns (features, targets, weights, train rows) with the copies appended."""
    d = embed_dim  # the request's block; the reply's (and its opening's) follow
    candidates = train_rows[(np.abs(features[train_rows, d:]).sum(axis=1) > 0) & (targets.m_h[train_rows] > 0)]
    copies: dict[tuple[bytes, float], list[int]] = {}
    for row in candidates:
        copies.setdefault((features[row, :d].tobytes(), float(targets.h[row])), []).append(int(row))
    if not copies:
        return features, targets, weights, train_rows
    extra = np.zeros((len(copies), features.shape[1]), dtype=features.dtype)
    extra[:, :d] = np.stack([features[rows[0], :d] for rows in copies.values()])  # [k, d]: u; r stays 0
    h = np.array([label for _, label in copies], dtype=np.float32)
    extra_weights = np.array([weights[rows].mean() for rows in copies.values()], dtype=np.float32)
    appended = len(features) + np.arange(len(copies))
    return (
        np.concatenate([features, extra]),
        targets.with_requests(h),
        np.concatenate([weights, extra_weights]),
        np.concatenate([train_rows, appended]),
    )
