"""Labels the rescoring head trains on, from reviewers' (and imported) decisions.

One example per conversation: its final decision (a senior's) where there is one,
else its newest. Labels are the active taxonomy's slugs in order, then "harmful":
the request is harmful (harmful compliance or appropriate refusal), which is what
puts a conversation in front of reviewers whatever the model answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviews.models import HARMFUL_REQUEST_VERDICTS, Category, Dataset, DatasetKind, DatasetStatus, Decision
from reviews.services.datasets.lineage import lineage_decision_ids

HARMFUL = "harmful"
MIN_EXAMPLES = 20  # fewer cannot be split into a training and a validation set worth reporting


@dataclass(frozen=True)
class Example:
    conversation_id: int
    labels: frozenset[str]  # category slugs, plus HARMFUL when the request is harmful


def label_names() -> list[str]:
    return [*Category.objects.filter(is_active=True, merged_into=None).values_list("slug", flat=True), HARMFUL]


def _merge_map() -> dict[str, str]:
    """Old slug → the slug it now counts as (merges can chain)."""
    parent = dict(Category.objects.exclude(merged_into=None).values_list("slug", "merged_into__slug"))
    resolved = {}
    for slug in parent:
        target = slug
        while target in parent:
            target = parent[target]
        resolved[slug] = target
    return resolved


class DatasetUnusable(ValueError):
    """The snapshot cannot be trained on."""


def snapshot_decision_ids(*, dataset: Dataset) -> list[int]:
    """The decisions a ready `classifier` snapshot holds: training on them is training on its rows."""
    if dataset.kind != DatasetKind.CLASSIFIER:
        raise DatasetUnusable(f"Dataset {dataset.pk} holds {dataset.kind} rows; train on a classifier snapshot.")
    if dataset.status != DatasetStatus.READY:
        raise DatasetUnusable(f"Dataset {dataset.pk} is {dataset.status}; only a ready snapshot can be trained on.")
    if dataset.row_count < MIN_EXAMPLES:
        raise DatasetUnusable(f"Dataset {dataset.pk} has {dataset.row_count} rows; at least {MIN_EXAMPLES} are needed.")
    return lineage_decision_ids(dataset=dataset)


def training_examples(*, include_imported: bool = True, decision_ids: list[int] | None = None) -> list[Example]:
    """One example per conversation; `decision_ids` limits them to a snapshot's decisions."""
    # Imported decisions with neither a verdict nor harmful_request hold only relative targets (hh-rlhf pairs).
    decisions = Decision.objects.exclude(verdict="", harmful_request=None)
    decisions = decisions.order_by("item__conversation_id", "is_final", "created_at", "pk")
    if not include_imported:
        decisions = decisions.filter(is_imported=False)
    if decision_ids is not None:
        decisions = decisions.filter(pk__in=decision_ids)
    merged = _merge_map()
    chosen: dict[int, tuple[str, bool | None, list[str]]] = {}
    rows = decisions.values_list("item__conversation_id", "verdict", "harmful_request", "categories")
    for conversation_id, verdict, harmful_request, categories in rows:
        chosen[conversation_id] = (verdict, harmful_request, categories)  # final, then newest, wins
    examples = []
    for conversation_id, (verdict, harmful_request, categories) in chosen.items():
        harmful = harmful_request if harmful_request is not None else verdict in HARMFUL_REQUEST_VERDICTS
        labels = {merged.get(slug, slug) for slug in categories or []}
        if harmful:
            labels.add(HARMFUL)
        examples.append(Example(conversation_id=conversation_id, labels=frozenset(labels)))
    return examples
