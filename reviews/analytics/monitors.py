"""Monitor quality: how often each detector's flags hold up under review, and what it misses.

- **Precision** at the detector's own threshold: of its flags on reviewed conversations, the share
  confirmed by what that kind of monitor claims (rollup_rows.flag_confirmed): an output classifier or CoT
  monitor by harmful compliance, a user report by any verdict but appropriate help, anything else (input
  guardrails, red team) by a harmful request; where both name one of our categories, in the flag's category.
  One flag is one claim: a detector flagging a conversation twice counts twice.
- **Recall** from the calibration sample: of the sampled conversations reviewers found harmful (of the
  detector's source: a detector only sees its own source's traffic), the share the detector flagged, each
  conversation weighted by its inverse sampling rate (unflagged and low-risk traffic are sampled at different
  rates), with a Wilson interval at the effective sample size (stats.weighted_proportion).
- **Threshold curve**: the same reviewed flags and sample, keeping only scores at or above 0.1 ... 0.9.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reviews.analytics.cells import (
    RATE_NOTE,
    count_rate_columns,
    number,
    pct,
    rate_cells,
    rate_columns,
    weighted_rate_cells,
)
from reviews.analytics.query import Dimension, rollup_totals, scope_for, source_names, window_for
from reviews.analytics.types import AnalyticsFilters, Cell, Chart, Dashboard, Series, Table
from reviews.models import CalibrationRollup, FlagRollup

HONOUR: tuple[Dimension, ...] = ("source", "model", "category")
BANDS = 10
THRESHOLDS = [k / BANDS for k in range(1, BANDS)]
MIN_RECALL_SAMPLE = 30  # harmful sampled conversations below which a recall figure is flagged as unreliable
CHART_DETECTORS = 4

Monitor = tuple[int, str]  # (source id, detector)


class _Counts:
    """Per monitor and score band: reviewed flags, confirmed flags, harmful sampled conversations it flagged."""

    def __init__(self) -> None:
        self.flags: dict[Monitor, list[int]] = defaultdict(lambda: [0] * BANDS)
        self.confirmed: dict[Monitor, list[int]] = defaultdict(lambda: [0] * BANDS)
        self.caught: dict[Monitor, list[int]] = defaultdict(lambda: [0] * BANDS)
        self.caught_weight: dict[Monitor, list[float]] = defaultdict(lambda: [0.0] * BANDS)
        self.harmful_sampled: dict[int, int] = defaultdict(int)  # per source
        self.harmful_weight: dict[int, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))  # Σw, Σw² per source

    def recall(self, monitor: Monitor, band: int) -> list[Cell]:
        """Weighted recall of the detector at scores in `band` or above: [rate %, low %, high %]."""
        total, total_sq = self.harmful_weight[monitor[0]]
        return weighted_rate_cells(self.at_or_above(self.caught_weight, monitor, band), total, total_sq)

    def at_or_above(self, counts: dict[Monitor, list[Any]], monitor: Monitor, band: int) -> Any:
        return sum(counts[monitor][band:]) if monitor in counts else 0


def monitors(filters: AnalyticsFilters) -> Dashboard:
    window, scope = window_for(filters), scope_for(filters)
    counts = _Counts()
    for r in rollup_totals(FlagRollup, window, scope, by=["source_id", "detector", "band"], honour=HONOUR):
        monitor = (r["source_id"], r["detector"])
        counts.flags[monitor][r["band"]] += r["flags"]
        counts.confirmed[monitor][r["band"]] += r["confirmed"]
    for r in rollup_totals(CalibrationRollup, window, scope, by=["source_id", "detector", "band"], honour=HONOUR):
        if r["detector"]:
            counts.caught[(r["source_id"], r["detector"])][r["band"]] += r["harmful"]
            counts.caught_weight[(r["source_id"], r["detector"])][r["band"]] += r["harmful_weight"]
        else:
            counts.harmful_sampled[r["source_id"]] += r["harmful"]
            total, total_sq = counts.harmful_weight[r["source_id"]]
            counts.harmful_weight[r["source_id"]] = (total + r["harmful_weight"], total_sq + r["harmful_weight_sq"])
    names = source_names()
    monitors_seen = sorted(set(counts.flags) | set(counts.caught), key=lambda m: (names.get(m[0], ""), m[1]))
    summary = _summary_table(counts, monitors_seen, names)
    curve = _curve_table(counts, monitors_seen, names)
    busiest = sorted(monitors_seen, key=lambda m: -sum(counts.flags[m]) if m in counts.flags else 0)
    charts = _curve_charts(curve, [f"{names.get(s, s)} / {d}" for s, d in busiest[:CHART_DETECTORS]])
    notes = [
        "Precision counts flags on conversations reviewers decided in the range, each confirmed by what its "
        "kind of monitor claims: output classifiers and chain-of-thought monitors by harmful compliance (a "
        "refusal of a harmful request does not confirm them), input guardrails, red team and samplers by a "
        "harmful request, user reports by any verdict other than appropriate help; and, where the flag names one "
        "of our categories and the reviewer named categories, the reviewer named that one too.",
        "Recall comes from the calibration sample (conversations the policy sampled for review), so it measures "
        "what the monitors miss in the traffic sampled, mostly low-risk or unflagged. Each sampled conversation "
        "weighs its inverse sampling rate (one sampled at 2 % stands for 50), so strata sampled at different "
        "rates count as much as the traffic they stand for; the interval is a Wilson interval at the weighted "
        "sample's effective size.",
        "The queue filter does not apply here; the category filter is the flag's category for precision and the "
        "reviewer's for recall.",
        window.note,
    ]
    return Dashboard(slug="monitors", title="Monitor quality", tables=[summary, curve], charts=charts, notes=notes)


def _label(names: dict[int, str], monitor: Monitor) -> list[Cell]:
    return [names.get(monitor[0], f"source {monitor[0]}"), monitor[1]]


def _summary_table(counts: _Counts, seen: list[Monitor], names: dict[int, str]) -> Table:
    rows: list[list[Cell]] = []
    small: list[str] = []
    for monitor in seen:
        flags, confirmed = sum(counts.flags[monitor]), sum(counts.confirmed[monitor])
        sample = counts.harmful_sampled.get(monitor[0], 0)
        caught = counts.at_or_above(counts.caught, monitor, 0)
        rows.append(
            [
                *_label(names, monitor),
                flags,
                confirmed,
                *rate_cells(confirmed, flags),
                sample,
                caught,
                *counts.recall(monitor, 0),
            ]
        )
        if sample < MIN_RECALL_SAMPLE:
            small.append(f"{names.get(monitor[0], monitor[0])} / {monitor[1]} ({sample})")
    note = RATE_NOTE
    if small:
        note += (
            f" The calibration sample is too small to estimate recall well (fewer than {MIN_RECALL_SAMPLE} harmful "
            f"sampled conversations) for: {', '.join(small)}; read those recall figures as rough at best."
        )
    return Table(
        slug="monitors",
        title="Precision and recall per detector",
        columns=[
            "Source",
            "Detector",
            "Reviewed flags",
            "Confirmed",
            *rate_columns("Precision"),
            "Harmful in calibration sample",
            "Flagged by this detector",
            *rate_columns("Recall"),
        ],
        rows=rows,
        note=note,
    )


def _curve_table(counts: _Counts, seen: list[Monitor], names: dict[int, str]) -> Table:
    rows: list[list[Cell]] = []
    for monitor in seen:
        total = sum(counts.flags[monitor]) if monitor in counts.flags else 0
        for k, threshold in enumerate(THRESHOLDS, start=1):
            flags = counts.at_or_above(counts.flags, monitor, k)
            confirmed = counts.at_or_above(counts.confirmed, monitor, k)
            rows.append(
                [
                    *_label(names, monitor),
                    threshold,
                    flags,
                    pct(flags / total) if total else None,
                    confirmed,
                    *rate_cells(confirmed, flags),
                    *counts.recall(monitor, k),
                ]
            )
    return Table(
        slug="threshold-curve",
        title="Precision, volume and recall at other thresholds",
        columns=[
            "Source",
            "Detector",
            "Threshold",
            "Flags at or above",
            "Share of reviewed flags %",
            "Confirmed",
            *rate_columns("Precision"),
            *rate_columns("Recall"),
        ],
        rows=rows,
        note="Each threshold keeps the reviewed flags (and the sampled harmful conversations the detector flagged) "
        f"whose score is at or above it. {RATE_NOTE}",
    )


def _curve_charts(curve: Table, shown: list[str]) -> list[Chart]:
    precision_cols = [curve.columns.index(c) for c in count_rate_columns("Precision")[1:]]
    flags_col = curve.columns.index("Flags at or above")
    precision: list[Series] = []
    volume: list[Series] = []
    for label in shown:
        rows = [row for row in curve.rows if f"{row[0]} / {row[1]}" == label]
        x: list[Cell] = [row[2] for row in rows]
        rate, low, high = ([number(row[c]) for row in rows] for c in precision_cols)
        flags = [row[flags_col] for row in rows]
        precision.append(Series(label=label, x=x, y=rate, low=low, high=high, n=flags))
        volume.append(Series(label=label, x=x, y=[number(row[flags_col]) for row in rows], n=flags, estimate=False))
    title_note = f" (the {CHART_DETECTORS} detectors with most reviewed flags)" if len(shown) >= CHART_DETECTORS else ""
    return [
        Chart(
            slug="threshold-precision",
            title="Precision by threshold" + title_note,
            kind="line",
            x_label="Threshold",
            y_label="Precision % (95% interval)",
            series=precision,
            table=curve.slug,
        ),
        Chart(
            slug="threshold-volume",
            title="Reviewed flags at or above each threshold" + title_note,
            kind="line",
            x_label="Threshold",
            y_label="Flags",
            series=volume,
            table=curve.slug,
        ),
    ]
