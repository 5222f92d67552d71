"""Demo conversations stored with model-like scores (every category a risk, the labelled ones tracking the overall
risk), for the routing benchmark."""

from __future__ import annotations

import random
from typing import Any

# Overall risk by the demo verdict: mean, spread (clipped to 0..1).
OVERALL = {
    "harmful_compliance": (0.8, 0.15),
    "appropriate_refusal": (0.55, 0.2),
    "over_refusal": (0.25, 0.15),
    "appropriate_help": (0.2, 0.15),
}


def _unit(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)


def scores_for(conversation: dict[str, Any], slugs: list[str], rng: random.Random) -> tuple[dict[str, float], float]:
    """A model-like score: every category gets a risk, the labeled ones track the overall risk."""
    label = conversation["metadata"]["demo_label"]
    mean, spread = OVERALL[label["verdict"]]
    overall = _unit(rng.gauss(mean, spread))
    labeled = set(label["categories"])
    categories = {}
    for slug in slugs:
        if slug in labeled:
            value = overall * rng.uniform(0.85, 1.2) if label["harmful_request"] else rng.uniform(0.05, 0.4)
        else:
            value = rng.betavariate(1, 25)  # low noise, mean ~0.04
        categories[slug] = _unit(value)
    return categories, overall


def prepare(n: int, *, seed: int, producer: str) -> list[int]:
    """Insert n demo conversations (with their flags) and one model Score each; their ids."""
    from django.db import transaction
    from django.utils import timezone

    from reviews.demo.data import generate_conversations
    from reviews.ingest.bulk_insert import insert_batch
    from reviews.ingest.schemas import ConversationIn
    from reviews.ingest.sources import source_create
    from reviews.models import Category, SourceKind
    from reviews.scoring.services import scores_store

    source = source_create(name="bench", kind=SourceKind.OUTPUT_CLASSIFIER).source
    pool = generate_conversations(n, seed=seed)
    payloads = [
        ConversationIn.model_validate({**c, "metadata": {k: v for k, v in c["metadata"].items() if k != "demo_label"}})
        for c in pool
    ]
    with transaction.atomic():
        ids = insert_batch(source_id=source.pk, payloads=payloads, received_at=timezone.now())
    slugs = list(Category.objects.filter(is_active=True).values_list("slug", flat=True))
    rng = random.Random(seed)
    scored = {cid: scores_for(c, slugs, rng) for cid, c in zip(ids, pool, strict=True)}
    scores_store(
        producer=producer,
        per_conversation={cid: categories for cid, (categories, _) in scored.items()},
        overall={cid: overall for cid, (_, overall) in scored.items()},
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done by the time routing runs
    return ids
