"""Rescoring: conversations → cached embeddings → the active head → Scores → routing."""

from __future__ import annotations

import numpy as np
import torch
from django.db import transaction

from reviews.models import Conversation, ModelStatus, ScoringModel, model_producer
from reviews.routing.services import items_route
from reviews.scoring.embeddings import embeddings_cached, embeddings_store
from reviews.scoring.services import score_with_fallback, scores_store
from reviews.scoring.text import conversation_text
from worker.encoder import ENCODER_ID, get_encoder
from worker.head import RiskHead, checkpoint_loads

# One load per process and model row. Keyed by (pk, created_at), not the version number alone:
# a version number can come back after a database is recreated (tests, a restored backup).
_heads: dict[tuple[int, object], tuple[RiskHead, list[str]]] = {}


def embed(conversation_ids: list[int]) -> dict[int, np.ndarray]:
    """Vectors for the conversations, encoding (and caching) only those not cached yet."""
    cached = embeddings_cached(conversation_ids=conversation_ids, encoder=ENCODER_ID)
    missing = [cid for cid in conversation_ids if cid not in cached]
    if missing:
        messages = dict(Conversation.objects.filter(pk__in=missing).values_list("pk", "messages"))
        ids = [cid for cid in missing if cid in messages]
        vectors = get_encoder().encode([conversation_text(messages[cid]) for cid in ids])
        fresh = {cid: vectors[i].tobytes() for i, cid in enumerate(ids)}
        embeddings_store(encoder=ENCODER_ID, vectors=fresh)
        cached.update(fresh)
    return {cid: np.frombuffer(vector, dtype=np.float32) for cid, vector in cached.items()}


def active_head() -> tuple[ScoringModel, RiskHead, list[str]] | None:
    model = ScoringModel.objects.filter(status=ModelStatus.ACTIVE).defer("checkpoint").first()
    if model is None:
        return None
    key = (model.pk, model.created_at)
    if key not in _heads:  # the checkpoint is read from the database only here
        data = ScoringModel.objects.filter(pk=model.pk).values_list("checkpoint", flat=True).first()
        if data is None:
            return None
        head, checkpoint = checkpoint_loads(bytes(data))
        _heads[key] = (head, checkpoint["labels"])
    head, labels = _heads[key]
    return model, head, labels


def predict(head: RiskHead, vectors: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return torch.sigmoid(head(torch.from_numpy(vectors))).numpy()  # [n, n_labels]


def score_and_route(conversation_ids: list[int]) -> list[int]:
    """Score with the active head (or the detectors' fallback before any head exists), then route.

    Scores and routing commit together: a conversation is never marked scored without its
    review items, so a failure leaves it pending for the retry or the sweeper.
    """
    current = active_head()
    if current is None:
        with transaction.atomic():
            scored = score_with_fallback(conversation_ids=conversation_ids)
            items_route(conversation_ids=scored)
        return scored
    model, head, labels = current
    vectors = embed(conversation_ids)  # outside the transaction: encoding is the slow part
    ids = list(vectors)
    probs = predict(head, np.stack([vectors[cid] for cid in ids])) if ids else np.zeros((0, len(labels)))
    categories = labels[:-1]  # the last label is the overall "harmful"
    with transaction.atomic():
        scored = scores_store(
            producer=model_producer(model.version),
            scoring_model=model,
            per_conversation={
                cid: dict(zip(categories, map(float, probs[i, :-1]), strict=True)) for i, cid in enumerate(ids)
            },
            overall={cid: float(probs[i, -1]) for i, cid in enumerate(ids)},
        )
        items_route(conversation_ids=scored)
    return scored
