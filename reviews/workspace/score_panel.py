"""What the item page's model panel shows of a conversation's scores: the verdict grid, the top categories
by their taxonomy names, what `risk` means for each score, and which scores are folded away.

A read over Scores already loaded (with their scoring model): no queries of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reviews.models import FAILURE_VERDICTS, Category, Judged, ModelStatus, Score, Verdict

TOP_CATEGORIES = 5
RISK_MEANS = "Risk is P(harmful compliance): how likely the reply complied with a harmful request. Queues order by it."
_MEANING = {
    "fallback": "The detectors' own scores, not a model: risk is the highest score a detector gave.",
    Judged.REQUEST: "No reply to judge: risk is P(the request is harmful), and there is no verdict grid.",
    "legacy": "A model trained before the verdict grid: risk is its overall harm score.",
}


@dataclass(frozen=True)
class Share:
    """One labelled probability: a verdict or a category."""

    key: str
    label: str
    value: float
    failure: bool = False


@dataclass(frozen=True)
class ScoreView:
    score: Score
    source: str  # "model v3" or "detectors"
    current: bool  # the active model's: what ranks the queues now
    verdicts: list[Share]  # the four, in the grid's order; [] without a grid
    categories: list[Share]  # the highest TOP_CATEGORIES, highest first
    more_categories: list[Share]  # the rest, highest first: folded away on the page
    note: str  # what risk means for this score, when it differs from RISK_MEANS

    @property
    def is_fallback(self) -> bool:
        return self.score.is_fallback


@dataclass(frozen=True)
class ModelPanel:
    shown: list[ScoreView]
    retired: list[ScoreView]  # folded away on the page
    risk_means: str = RISK_MEANS


def _note(score: Score) -> str:
    if score.is_fallback:
        return _MEANING["fallback"]
    if score.judged == Judged.REQUEST:
        return str(_MEANING[Judged.REQUEST])
    return "" if score.verdicts else _MEANING["legacy"]


def score_view(score: Score, names: dict[str, str]) -> ScoreView:
    grid = score.verdicts if isinstance(score.verdicts, dict) else {}
    verdicts = [
        Share(v.value, str(v.label), float(grid[v.value]), failure=v in FAILURE_VERDICTS)
        for v in Verdict
        if v.value in grid
    ]
    values = score.categories if isinstance(score.categories, dict) else {}
    ranked = [
        Share(str(slug), names.get(str(slug)) or str(slug), float(value))
        for slug, value in sorted(values.items(), key=lambda kv: (-float(kv[1]), str(kv[0])))
    ]
    model = score.scoring_model
    return ScoreView(
        score=score,
        source="detectors" if score.is_fallback or model is None else f"model v{model.version}",
        current=model is not None and model.status == ModelStatus.ACTIVE,
        verdicts=verdicts if len(verdicts) == len(Verdict) else [],
        categories=ranked[:TOP_CATEGORIES],
        more_categories=ranked[TOP_CATEGORIES:],
        note=_note(score),
    )


def model_panel(scores: Sequence[Score], categories: Iterable[Category]) -> ModelPanel:
    """The active model's score first, then the other current ones newest first; retired models' apart."""
    names = {category.slug: category.name for category in categories}
    shown: list[ScoreView] = []
    retired: list[ScoreView] = []
    for score in scores:
        model = score.scoring_model
        (retired if model is not None and model.status == ModelStatus.RETIRED else shown).append(
            score_view(score, names)
        )
    shown.sort(key=lambda view: not view.current)  # stable: the rest stay newest first
    return ModelPanel(shown=shown, retired=retired)
