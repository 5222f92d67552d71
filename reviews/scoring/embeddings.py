"""The embedding cache: one vector per conversation and encoder version, stored as bytes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reviews.models import Embedding


def embeddings_cached(*, conversation_ids: Iterable[int], encoder: str) -> dict[int, bytes]:
    rows = Embedding.objects.filter(encoder=encoder, conversation_id__in=list(conversation_ids))
    return {cid: bytes(vector) for cid, vector in rows.values_list("conversation_id", "vector")}


def embeddings_store(*, encoder: str, vectors: Mapping[int, bytes]) -> None:
    """Store new vectors; a vector already cached is kept (safe to run twice)."""
    Embedding.objects.bulk_create(
        [Embedding(conversation_id=cid, encoder=encoder, vector=vector) for cid, vector in vectors.items()],
        ignore_conflicts=True,
        batch_size=1000,
    )
