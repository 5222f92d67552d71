"""The rescoring model: each version's validation metrics (stored when it was trained, worker/versions.py)
against how its risk and verdict grid fared on conversations reviewers then decided: agreement and calibration.

Agreement: the share of reviewed conversations where (risk >= 0.5) matches what reviewers found of what the
risk predicts (the effective decision, see rollup_rows.py): harmful compliance where the score has a verdict
grid (risk = P(harmful compliance)), else a harmful request (the detectors' fallback, heads trained before
the grid, requests with no reply). Verdict agreement: where the score has a grid, how often its most probable
verdict is the reviewers', and the mean probability it gave the reviewers' verdict. The detectors' fallback
risk is shown alongside as the baseline a model has to beat.
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
    rounded,
    when,
)
from reviews.analytics.query import Dimension, rollup_totals, scope_for, window_for
from reviews.analytics.stats import expected_calibration_error, reliability_bin
from reviews.analytics.types import AnalyticsFilters, Cell, Chart, Dashboard, Series, Table
from reviews.models import FALLBACK_PRODUCER, ModelStatus, ScoreRollup, ScoringModel, model_producer

HONOUR: tuple[Dimension, ...] = ("source", "model")
BANDS = 10
AGREE_AT = 5  # band 5 and above: risk >= 0.5
RISK_LABELS = ("risk", "harmful")  # the verdict-grid heads' overall output, then the older heads'
CHART_PRODUCERS = 3


class _Bins:
    """Per risk band: conversations, how many showed what the risk predicts, and the sum of risks; and the
    verdict-grid figures of the producer."""

    def __init__(self) -> None:
        self.count = [0] * BANDS
        self.harmful = [0] * BANDS  # positives: what the risk predicts (see the module docstring)
        self.risk = [0.0] * BANDS
        self.graded = 0
        self.verdict_hits = 0
        self.verdict_prob = 0.0

    @property
    def total(self) -> int:
        return sum(self.count)

    @property
    def agreeing(self) -> int:
        flagged_harmful = sum(self.harmful[AGREE_AT:])
        passed_benign = sum(c - h for c, h in zip(self.count[:AGREE_AT], self.harmful[:AGREE_AT], strict=True))
        return flagged_harmful + passed_benign

    def reliability(self) -> list[tuple[float | None, float | None, int]]:
        return [
            reliability_bin(count=self.count[b], positives=self.harmful[b], probability_sum=self.risk[b])
            for b in range(BANDS)
        ]


def model_quality(filters: AnalyticsFilters) -> Dashboard:
    window, scope = window_for(filters), scope_for(filters)
    bins: dict[str, _Bins] = defaultdict(_Bins)
    for r in rollup_totals(ScoreRollup, window, scope, by=["producer", "band"], honour=HONOUR):
        producer_bins = bins[r["producer"]]
        producer_bins.count[r["band"]] += r["conversations"]
        producer_bins.harmful[r["band"]] += r["positives"]
        producer_bins.risk[r["band"]] += r["risk_sum"]
        producer_bins.graded += r["graded"]
        producer_bins.verdict_hits += r["verdict_hits"]
        producer_bins.verdict_prob += r["verdict_prob_sum"]
    models = list(ScoringModel.objects.exclude(status=ModelStatus.FAILED).order_by("-version"))
    producers = [model_producer(m.version) for m in models]
    producers += [*sorted(set(bins) - {*producers, FALLBACK_PRODUCER}), FALLBACK_PRODUCER]
    versions = _versions_table(models, producers, bins)
    reliability = _reliability_table(producers, bins)
    active = [model_producer(m.version) for m in models if m.status == ModelStatus.ACTIVE]
    shown = [p for p in [*active, *producers[:-1], FALLBACK_PRODUCER] if bins[p].total]
    shown = list(dict.fromkeys(shown))[:CHART_PRODUCERS]
    charts = [_agreement_chart(versions), _reliability_chart(reliability, shown)]
    notes = [
        "Validation metrics are those stored when the version was trained (its held-out split; the 'risk' "
        "output, or the 'harmful' label of heads trained before the verdict grid). Live figures compare each "
        "version's risk and verdict probabilities on conversations reviewers decided in the range with their "
        "verdicts; a conversation scored by several versions counts for each.",
        "The queue and category filters do not apply here.",
        window.note,
    ]
    return Dashboard(
        slug="model",
        title="Rescoring model",
        tables=[versions, _validation_table(models), reliability],
        charts=charts,
        notes=notes,
    )


def _harmful_metrics(model: ScoringModel | None) -> dict[str, Any]:
    if model is None or not isinstance(model.metrics, dict):
        return {}
    per_label = model.metrics.get("per_label", {})
    if not isinstance(per_label, dict):
        return {}
    metrics: Any = next((per_label[k] for k in RISK_LABELS if k in per_label), {})
    return metrics if isinstance(metrics, dict) else {}


def _versions_table(models: list[ScoringModel], producers: list[str], bins: dict[str, _Bins]) -> Table:
    by_producer = {model_producer(m.version): m for m in models}
    rows: list[list[Cell]] = []
    for producer in producers:
        model = by_producer.get(producer)
        metrics = _harmful_metrics(model)
        stored = model.metrics if model is not None and isinstance(model.metrics, dict) else {}
        status = model.get_status_display() if model else None
        if producer == FALLBACK_PRODUCER:
            status = "Detectors' own scores"
        live = bins[producer]
        rows.append(
            [
                producer,
                model.version if model else None,
                status,
                when(model.created_at) if model else None,
                stored.get("train_size"),
                stored.get("val_size"),
                *(rounded(metrics.get(k)) for k in ("auroc", "auprc", "f1", "threshold", "ece")),
                live.total,
                live.agreeing,
                *rate_cells(live.agreeing, live.total),
                rounded(expected_calibration_error(live.reliability())),
                live.graded,
                *rate_cells(live.verdict_hits, live.graded),
                pct(live.verdict_prob / live.graded) if live.graded else None,
            ]
        )
    return Table(
        slug="versions",
        title="Versions: validation and live agreement",
        columns=[
            "Producer",
            "Version",
            "Status",
            "Created",
            "Training examples",
            "Validation examples",
            "Validation AUROC",
            "Validation AUPRC",
            "Validation F1",
            "F1-best threshold",
            "Validation ECE",
            "Reviewed conversations",
            "Agreeing",
            *rate_columns("Agreement"),
            "Live ECE",
            "With a verdict grid",
            *rate_columns("Verdict agreement"),
            "Mean P(reviewers' verdict) %",
        ],
        rows=rows,
        note="Agreement: risk >= 0.5 exactly when reviewers found harmful compliance (a harmful request where the "
        "score has no verdict grid). Verdict agreement: the most probable of the four verdicts is the reviewers'. "
        f"ECE: expected calibration error over ten equal-width risk bins (0 is perfect). {RATE_NOTE}",
    )


def _validation_table(models: list[ScoringModel]) -> Table:
    rows: list[list[Cell]] = []
    for model in models:
        per_label = model.metrics.get("per_label", {}) if isinstance(model.metrics, dict) else {}
        for label, m in per_label.items():
            rows.append(
                [
                    model.version,
                    label,
                    m.get("support"),
                    m.get("positives"),
                    *(rounded(m.get(k)) for k in ("auroc", "auprc", "f1", "threshold", "ece")),
                ]
            )
    return Table(
        slug="validation",
        title="Validation metrics per label",
        columns=["Version", "Label", "Support", "Positives", "AUROC", "AUPRC", "F1", "F1-best threshold", "ECE"],
        rows=rows,
        note="From each version's held-out validation split; empty where the split held only one class.",
    )


def _reliability_table(producers: list[str], bins: dict[str, _Bins]) -> Table:
    rows: list[list[Cell]] = []
    for producer in producers:
        live = bins[producer]
        if not live.total:
            continue
        for b, (predicted, _, count) in enumerate(live.reliability()):
            rows.append(
                [
                    producer,
                    b / BANDS,
                    (b + 1) / BANDS,
                    count,
                    pct(predicted),
                    *rate_cells(live.harmful[b], count),
                ]
            )
    return Table(
        slug="reliability",
        title="Reliability (calibration) of risk",
        columns=["Producer", "Risk from", "Risk to", "Conversations", "Mean risk %", *rate_columns("Observed harmful")],
        rows=rows,
        note="Per risk bin [from, to): the mean predicted risk against the share reviewers found harmful (harmful "
        f"compliance where the score has a verdict grid). A calibrated model sits on the diagonal. {RATE_NOTE}",
    )


def _agreement_chart(versions: Table) -> Chart:
    rate, low, high = (versions.columns.index(c) for c in count_rate_columns("Agreement")[1:])
    rows = [row for row in versions.rows if row[rate] is not None]
    return Chart(
        slug="agreement",
        title="Agreement with reviewers",
        kind="bar",
        x_label="Producer",
        y_label="Agreement % (95% interval)",
        series=[
            Series(
                label="Agreement",
                x=[row[0] for row in rows],
                y=[number(row[rate]) for row in rows],
                low=[number(row[low]) for row in rows],
                high=[number(row[high]) for row in rows],
                n=[row[versions.columns.index("Reviewed conversations")] for row in rows],
            )
        ],
        table=versions.slug,
    )


def _reliability_chart(reliability: Table, shown: list[str]) -> Chart:
    mean, observed, low, high = (
        reliability.columns.index(c) for c in ["Mean risk %", *rate_columns("Observed harmful")]
    )
    series = []
    for producer in shown:
        rows = [row for row in reliability.rows if row[0] == producer and row[3]]
        series.append(
            Series(
                label=producer,
                x=[row[mean] for row in rows],
                y=[number(row[observed]) for row in rows],
                low=[number(row[low]) for row in rows],
                high=[number(row[high]) for row in rows],
                n=[row[3] for row in rows],
            )
        )
    return Chart(
        slug="reliability",
        title="Reliability diagram (the diagonal is perfect calibration)",
        kind="scatter",
        x_label="Mean predicted risk %",
        y_label="Observed harmful % (95% interval)",
        series=series,
        table=reliability.slug,
        empty="No scored conversations reviewed in this range.",
        diagonal=True,
    )
