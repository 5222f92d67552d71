"""What routing looks at, read for many conversations in a fixed number of queries per chunk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from reviews.models import (
    FALLBACK_PRODUCER,
    Category,
    Conversation,
    Flag,
    LimitKind,
    ModelStatus,
    Score,
    ScoringModel,
    SourceKind,
    model_producer,
)
from reviews.routing.policy import Facts

CHUNK = 2_000


def hard_limit_slugs() -> frozenset[str]:
    return frozenset(Category.objects.filter(limit=LimitKind.HARD, is_active=True).values_list("slug", flat=True))


def routing_facts(
    conversation_ids: Sequence[int], *, with_metadata: bool = True, skip_imported: bool = False
) -> Iterator[Facts]:
    """Facts for the scored ones among `conversation_ids` (3 queries per chunk of 2,000).

    Metadata is decoded only when asked for: most policies never look at it. The risk (and
    verdict grid) is the active model's where it has scored the conversation, else the newest score's.
    """
    active = ScoringModel.objects.filter(status=ModelStatus.ACTIVE).values_list("version", flat=True).first()
    preferred = model_producer(active) if active is not None else FALLBACK_PRODUCER
    for start in range(0, len(conversation_ids), CHUNK):
        yield from _chunk(list(conversation_ids[start : start + CHUNK]), with_metadata, skip_imported, preferred)


def _chunk(ids: list[int], with_metadata: bool, skip_imported: bool, preferred: str) -> Iterator[Facts]:
    scores: dict[int, tuple[dict[str, float], float, dict[str, float] | None]] = {}
    rows = Score.objects.filter(conversation_id__any=ids).order_by("conversation_id", "created_at", "pk")
    chosen: set[int] = set()
    read = rows.values_list("conversation_id", "producer", "categories", "risk", "verdicts")
    for cid, producer, categories, risk, verdicts in read:
        if cid not in chosen:  # newest wins, unless the preferred producer already spoke
            scores[cid] = (categories, risk, verdicts)
        if producer == preferred:
            chosen.add(cid)
    flagged: dict[int, set[str]] = defaultdict(set)
    detectors: dict[int, dict[str, float]] = defaultdict(dict)
    for cid, detector, category, score in Flag.objects.filter(conversation_id__any=ids).values_list(
        "conversation_id", "detector", "category", "score"
    ):
        flagged[cid].add(category)
        detectors[cid][detector] = max(score, detectors[cid].get(detector, 0.0))
    conversations = Conversation.objects.filter(pk__any=list(scores))
    if skip_imported:
        conversations = conversations.exclude(source__kind=SourceKind.IMPORT)
    columns = ["pk", "source__kind", "source__name", "model_name"] + (["metadata"] if with_metadata else [])
    for cid, source_kind, source_name, model_name, *rest in conversations.values_list(*columns):
        metadata = rest[0] if rest else {}
        categories, risk, verdicts = scores[cid]
        yield Facts(
            conversation_id=cid,
            source_kind=source_kind,
            source_name=source_name,
            flagged=frozenset(flagged[cid]),
            detector_scores=detectors[cid],
            risks=categories,
            risk=risk,
            model_name=model_name,
            metadata=metadata if isinstance(metadata, dict) else {},
            verdicts=verdicts if isinstance(verdicts, dict) else None,
        )
