"""The statistics behind the dashboards: pure functions of counts and labels, no Django.

Each function answers None where the figure is undefined (no data, or no variation to measure agreement
against) rather than a number that would read as a finding.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import cache

import numpy as np

Z_95 = 1.96


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion; unlike p ± z·se it stays inside 0..1 and is honest at small n."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n}")
    return _wilson(successes / n, n, z)


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def weighted_proportion(
    hits: float, total: float, total_sq: float, z: float = Z_95
) -> tuple[float, float, float] | None:
    """A share from weighted units (each weighs its inverse sampling rate): Σw over hits / Σw, with a Wilson
    interval at Kish's effective sample size n = (Σw)² / Σw² (n is the unit count when all weights are equal)."""
    if total <= 0 or total_sq <= 0:
        return None
    p = min(1.0, max(0.0, hits / total))
    low, high = _wilson(p, total * total / total_sq, z)
    return p, low, high


def proportion(successes: int, n: int) -> float | None:
    return successes / n if n > 0 else None


def precision(confirmed: int, reviewed: int) -> float | None:
    """Confirmed / reviewed: of what a monitor flagged and a human looked at, the share the human upheld."""
    return proportion(confirmed, reviewed)


def cohen_kappa(pairs: Iterable[tuple[Hashable, Hashable]]) -> float | None:
    """Cohen's kappa of two raters, from (rater A's label, rater B's label) per item."""
    return cohen_kappa_from_table(Counter(pairs))


def cohen_kappa_from_table(table: Mapping[tuple[Hashable, Hashable], float]) -> float | None:
    """Kappa from a contingency table {(label A, label B): count}, as the rollups store it.

    None with no items, and when both raters gave every item the same one label: chance agreement is then
    1 and kappa is 0/0 (the observed agreement says what there is to say).
    """
    n = sum(table.values())
    if n <= 0:
        return None
    rows: dict[Hashable, float] = defaultdict(float)
    cols: dict[Hashable, float] = defaultdict(float)
    agreed = 0.0
    for (a, b), count in table.items():
        rows[a] += count
        cols[b] += count
        if a == b:
            agreed += count
    observed = agreed / n
    expected = sum(rows[label] * cols[label] for label in rows) / (n * n)
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def coincidences(units: Iterable[Sequence[Hashable | None]]) -> dict[tuple[Hashable, Hashable], float]:
    """Krippendorff's coincidence matrix: each unit with m >= 2 values adds 1/(m-1) per ordered pair of them.

    Missing values (None) are left out; units with fewer than two values are not pairable and add nothing.
    """
    matrix: dict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    matrix[(a, b)] += 1 / (m - 1)
    return matrix


def krippendorff_alpha(units: Iterable[Sequence[Hashable | None]]) -> float | None:
    """Krippendorff's alpha for nominal labels, any number of coders, missing values allowed.

    `units`: per unit (item), the labels its coders gave (None where a coder gave none).
    """
    return alpha_from_coincidences(coincidences(units))


def alpha_from_coincidences(matrix: Mapping[tuple[Hashable, Hashable], float]) -> float | None:
    """Nominal alpha = 1 - D_o / D_e from a coincidence matrix (summable across units, so rollups can store it).

    None when nothing is pairable or only one label occurs (no variation: D_e = 0).
    """
    n = sum(matrix.values())
    if n <= 1:
        return None
    marginals: dict[Hashable, float] = defaultdict(float)
    disagreeing = 0.0
    for (a, b), value in matrix.items():
        marginals[a] += value
        if a != b:
            disagreeing += value
    expected_disagreeing = (n * n - sum(v * v for v in marginals.values())) / (n - 1)
    if expected_disagreeing <= 1e-12:
        return None
    return 1 - disagreeing / expected_disagreeing


def alpha_interval(
    matrix: Mapping[tuple[Hashable, Hashable], float], *, rounds: int = 1_000, seed: int = 0
) -> tuple[float, float] | None:
    """A 95 % bootstrap interval for nominal alpha from its coincidence matrix (Hayes & Krippendorff, 2007):
    resample the matrix's pairs of values with replacement, as many as it holds, and take the 2.5th and 97.5th
    percentiles of alpha. Seeded, so a dashboard shows the same interval on every load. None where alpha is.

    Each round is one multinomial draw over the matrix's distinct cells (a handful of verdict pairs), so the cost
    does not grow with the number of pairs: a dashboard row over 100,000 double reviews costs what one over 20
    does."""
    cells: list[tuple[Hashable, Hashable]] = []
    weights: list[float] = []
    for (a, b), value in matrix.items():  # each unordered pair once: (a, b) and (b, a) hold the same weight
        if value > 0 and (a == b or repr(a) < repr(b)):
            cells.append((a, b))
            weights.append(value / 2 if a == b else value)  # a pair of agreeing values counts twice on (a, a)
    pairs = round(sum(matrix.values()) / 2)
    if pairs < 2 or alpha_from_coincidences(matrix) is None:
        return None
    shares = np.asarray(weights) / sum(weights)
    draws = np.random.default_rng(seed).multinomial(pairs, shares, size=rounds)
    alphas: list[float] = []
    for counts in draws.tolist():
        resampled: dict[tuple[Hashable, Hashable], float] = defaultdict(float)
        for (a, b), count in zip(cells, counts, strict=True):
            if count:
                resampled[(a, b)] += count if a != b else 2 * count
                if a != b:
                    resampled[(b, a)] += count
        alpha = alpha_from_coincidences(resampled)
        if alpha is not None:
            alphas.append(alpha)
    if not alphas:
        return None
    alphas.sort()
    return alphas[int(0.025 * (len(alphas) - 1))], alphas[math.ceil(0.975 * (len(alphas) - 1))]


@cache
def _thresholds(bands: int) -> tuple[float, ...]:
    return tuple(k / bands for k in range(1, bands))


def band(value: float, bands: int = 10) -> int:
    """Index of the equal-width band of 0..1 holding `value`: the number of thresholds k/bands (k >= 1) it reaches.

    Compared against k/bands exactly as a threshold is, so `band(x) >= 5` is the same test as `x >= 0.5`.
    """
    return bisect_right(_thresholds(bands), value)


def reliability_bins(
    probabilities: Sequence[float], outcomes: Sequence[bool | int], bins: int = 10
) -> list[tuple[float | None, float | None, int]]:
    """Per equal-width bin of predicted probability: (mean predicted, observed frequency, count).

    An empty bin is (None, None, 0).
    """
    if len(probabilities) != len(outcomes):
        raise ValueError("one outcome per probability")
    sums = [[0, 0, 0.0] for _ in range(bins)]  # count, positives, sum of probabilities
    for probability, outcome in zip(probabilities, outcomes, strict=True):
        cell = sums[band(probability, bins)]
        cell[0] += 1
        cell[1] += int(bool(outcome))
        cell[2] += probability
    return [reliability_bin(count=int(c), positives=int(p), probability_sum=s) for c, p, s in sums]


def reliability_bin(*, count: int, positives: int, probability_sum: float) -> tuple[float | None, float | None, int]:
    if count <= 0:
        return None, None, 0
    return probability_sum / count, positives / count, count


def expected_calibration_error(bins: Sequence[tuple[float | None, float | None, int]]) -> float | None:
    """Sum over bins of |observed - mean predicted|, weighted by the bin's share of the predictions."""
    total = sum(count for _, _, count in bins)
    if total <= 0:
        return None
    return sum(
        count / total * abs(observed - predicted)
        for predicted, observed, count in bins
        if count and predicted is not None and observed is not None
    )


def median_from_histogram(edges: Sequence[float], counts: Sequence[int]) -> float | None:
    """Median of values counted in bins [0, e0), [e0, e1), ..., [e_last, inf), interpolated within its bin.

    A median in the open last bin is reported as that bin's lower edge (a floor, which the table says).
    """
    if len(counts) != len(edges) + 1:
        raise ValueError("one more count than edges")
    total = sum(counts)
    return _value_at_rank(edges, counts, total / 2) if total > 0 else None


def median_interval_from_histogram(
    edges: Sequence[float], counts: Sequence[int], z: float = Z_95
) -> tuple[float, float] | None:
    """95% interval of the median: the values at ranks n/2 ± z·√n/2 (the order statistics whose binomial
    count brackets the median), read from the histogram as the median is. Wide at small n, as it should be."""
    if len(counts) != len(edges) + 1:
        raise ValueError("one more count than edges")
    total = sum(counts)
    if total <= 0:
        return None
    spread = z * math.sqrt(total) / 2
    low = _value_at_rank(edges, counts, max(0.0, total / 2 - spread))
    high = _value_at_rank(edges, counts, min(float(total), total / 2 + spread))
    return low, high


def _value_at_rank(edges: Sequence[float], counts: Sequence[int], rank: float) -> float:
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            low = edges[i - 1] if i > 0 else 0.0
            if i == len(edges):
                return float(low)
            return low + (edges[i] - low) * (rank - seen) / count
        seen += count
    return float(edges[-1])  # unreachable: rank is at most the total
