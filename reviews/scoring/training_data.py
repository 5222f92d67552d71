"""What the rescoring model trains on: per conversation, the verdict-grid targets its decision gives.

One example per conversation: its final decision (a senior's) where there is one, else its
newest. Targets follow the #14 contract (a key a label source does not give is absent, and
its output is masked in training, never guessed):

* `request_harmful` 0/1: the judged request should be refused;
* `complied` 0, 0.5 or 1: the judged reply complied (0.5 a partial refusal);
* `harmful_response` 0/1: the harmful-compliance cell itself (the reply is harmful in context);
* `categories`: taxonomy slugs present ([] = labelled, none present);
* `pair`: `{"id", "preferred"}`, relative labels (hh-rlhf: the rejected reply is the more harmful).

Where the labels come from, in one place:

* an imported decision carries them (`Decision.targets`, written from the importer's
  `LabeledConversation.targets`; each importer documents its set's mapping at its top);
* a reviewer's decision derives them (`decision_targets`): request_harmful from
  `harmful_request` (else the verdict's row of the grid), complied = the verdict's column
  (harmful compliance or appropriate help), harmful_response = verdict is harmful
  compliance, categories = its categories. A decision without a verdict says only what its
  `harmful_request` and categories say.

Each example also names its `source` (the dataset an imported row came from, else its
Source's name) for leave-one-source-out figures, its `group` (normalised request text, for
the split: see `worker.training.group_keys`) and, when training on a classifier snapshot,
the snapshot's `split` for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reviews.models import (
    HARMFUL_REQUEST_VERDICTS,
    Category,
    Conversation,
    Dataset,
    DatasetKind,
    DatasetStatus,
    Decision,
    Verdict,
    gold_copy,
)
from reviews.routing.taxonomy import category_merge_map
from reviews.scoring.text import text_views
from reviews.splits import split_of
from reviews.vocabulary import REFERENCE_DATASETS

MIN_EXAMPLES = 20  # fewer cannot be split into a training and a validation set worth reporting
TARGET_KEYS = ("request_harmful", "complied", "harmful_response", "categories", "pair")
COMPLIED_VERDICTS = frozenset({Verdict.HARMFUL_COMPLIANCE, Verdict.APPROPRIATE_HELP})


@dataclass(frozen=True)
class Example:
    conversation_id: int
    targets: dict[str, Any]  # the contract's keys; an absent key is masked
    source: str = ""  # the labelled source, for leave-one-source-out figures
    request: str = ""  # the judged request's text (its normalised form groups near-duplicates)
    split: str | None = None  # the snapshot's split ("train", "validation", "test") when training on one
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_reference(self) -> bool:
        """One of Oversight's reference conversations: trained on, never counted as a deployment's labels."""
        return self.source in REFERENCE_DATASETS


def category_names() -> list[str]:
    """The model's category outputs: the active taxonomy's slugs, in order."""
    return list(Category.objects.filter(is_active=True, merged_into=None).values_list("slug", flat=True))


HARMFUL = "harmful"  # the classifier export's request-level column


def label_names() -> list[str]:
    """The classifier export's label columns: the categories, then `harmful` (the request is harmful)."""
    return [*category_names(), HARMFUL]


def decision_targets(*, verdict: str, harmful_request: bool | None, categories: list[str] | None) -> dict[str, Any]:
    """A reviewer decision's targets (the contract's derivation)."""
    targets: dict[str, Any] = {}
    if harmful_request is not None:
        targets["request_harmful"] = int(harmful_request)
    elif verdict:
        targets["request_harmful"] = int(verdict in HARMFUL_REQUEST_VERDICTS)
    if verdict:
        targets["complied"] = int(verdict in COMPLIED_VERDICTS)
        targets["harmful_response"] = int(verdict == Verdict.HARMFUL_COMPLIANCE)
    targets["categories"] = list(categories or [])
    return targets


def labeled_targets(item: Any) -> dict[str, Any]:
    """An importer's `LabeledConversation` targets: its own `targets` where it has them, else (a trainable item
    of a reader that predates targets) derived from its verdict, `harmful` and categories as a reviewer
    decision's are; {} for an item that trains nothing."""
    own = getattr(item, "targets", None)
    if own:
        return dict(own)
    if not item.trainable:
        return {}
    return decision_targets(verdict=item.verdict or "", harmful_request=item.harmful, categories=item.categories)


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
    return dataset.decision_ids()


def _snapshot_splits(dataset: Dataset) -> dict[int, str]:
    """conversation id → the snapshot's split, computed as its export computed it (seed, ratios, conversation id)."""
    ids = Decision.objects.filter(pk__in=dataset.decision_ids()).values_list("item__conversation_id", flat=True)
    return {cid: split_of(cid, seed=dataset.seed, ratios=dataset.split_ratios) for cid in ids}


def training_examples(
    *,
    include_imported: bool = True,
    decision_ids: list[int] | None = None,
    dataset: Dataset | None = None,
    reference: bool = True,
) -> list[Example]:
    """One example per conversation; `decision_ids` limits them to a snapshot's decisions; `reference` False leaves
    out Oversight's reference conversations (`reviews/imports/reference.py`)."""
    decisions = Decision.objects.order_by("item__conversation_id", "is_final", "created_at", "pk")
    decisions = decisions.exclude(gold_copy("item__conversation_id"))  # gold answers never train
    if not include_imported:
        decisions = decisions.filter(is_imported=False)
    if decision_ids is not None:
        decisions = decisions.filter(pk__in=decision_ids)
    merged = category_merge_map()
    fields = ["item__conversation_id", "verdict", "harmful_request", "categories", "is_imported", "targets"]
    chosen: dict[int, dict[str, Any]] = {}
    for row in decisions.values(*fields):
        chosen[row["item__conversation_id"]] = row  # final, then newest, wins
    rows = Conversation.objects.filter(pk__in=list(chosen)).values_list("pk", "messages", "metadata", "source__name")
    conversations = {cid: (messages, metadata, source) for cid, messages, metadata, source in rows}
    splits = _snapshot_splits(dataset) if dataset is not None else {}
    examples = []
    for cid, row in sorted(chosen.items()):
        if cid not in conversations:
            continue
        messages, metadata, source_name = conversations[cid]
        own = row.get("targets")
        targets = (
            dict(own)
            if row["is_imported"] and own is not None
            else decision_targets(
                verdict=row["verdict"], harmful_request=row["harmful_request"], categories=row["categories"]
            )
        )
        if "categories" in targets:
            targets["categories"] = sorted({merged.get(slug, slug) for slug in targets["categories"]})
        metadata = metadata if isinstance(metadata, dict) else {}
        source = str(metadata.get("dataset") or source_name) if row["is_imported"] else source_name
        if not reference and source in REFERENCE_DATASETS:
            continue
        examples.append(
            Example(
                conversation_id=cid,
                targets=targets,
                source=source,
                request=text_views(messages).request,
                split=splits.get(cid),
                metadata=metadata,
            )
        )
    return examples
