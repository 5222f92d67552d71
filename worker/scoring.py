"""Rescoring: conversations → cached request/reply vectors → the active model → Scores → routing.

The active model gives, per conversation, h, c, the four verdict probabilities, the
categories and `risk` (P(harmful compliance), or h when the conversation is judged on a
request with no reply); `score_outputs` is the seam where verdicts leave the worker, and
`scores_store` keeps them on the Score (with what was judged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from django.db import transaction

from reviews.models import Conversation, ModelStatus, ScoringModel, model_producer
from reviews.routing.services import items_route
from reviews.scoring.embeddings import embeddings_cached, embeddings_store
from reviews.scoring.services import score_with_fallback, scores_store
from reviews.scoring.text import conversation_text, text_views
from worker.encoder import ENCODER_ID, Encoder, get_encoder, view_blocks, views_key
from worker.head import Calibration, RiskHead, checkpoint_loads, encoder_state
from worker.training import predict


@dataclass
class LoadedModel:
    row: ScoringModel
    head: torch.nn.Module
    labels: list[str]
    calibration: Calibration
    encoder_key: str  # the embedding-cache key of the vectors it reads
    encoder: Callable[[], Encoder]

    @property
    def legacy(self) -> bool:
        return isinstance(self.head, RiskHead)


# One load per process and model row. Keyed by (pk, created_at), not the version number alone:
# a version number can come back after a database is recreated (tests, a restored backup).
_models: dict[tuple[int, object], LoadedModel] = {}


def model_load(model: ScoringModel) -> LoadedModel | None:
    key = (model.pk, model.created_at)
    if key not in _models:  # the checkpoint is read from the database only here
        data = ScoringModel.objects.filter(pk=model.pk).values_list("checkpoint", flat=True).first()
        if data is None:
            return None
        head, checkpoint = checkpoint_loads(bytes(data))
        tuned = encoder_state(checkpoint)
        encoder_key = model.encoder or (ENCODER_ID if isinstance(head, RiskHead) else views_key())

        def encoder(key: str = encoder_key, tuned: Any = tuned) -> Encoder:
            return get_encoder(key, lambda: tuned) if tuned is not None else get_encoder()

        _models[key] = LoadedModel(
            row=model,
            head=head,
            labels=list(checkpoint["labels"]),
            calibration=Calibration.from_dict(checkpoint.get("calibration")),
            encoder_key=encoder_key,
            encoder=encoder,
        )
    return _models[key]


def active_model() -> LoadedModel | None:
    model = ScoringModel.objects.filter(status=ModelStatus.ACTIVE).defer("checkpoint").first()
    return model_load(model) if model is not None else None


def embed(
    conversation_ids: list[int], *, encoder_key: str | None = None, encoder: Callable[[], Encoder] | None = None
) -> dict[int, np.ndarray]:
    """`[u, r, o]` vectors (`[u, r]` under a views-1 key) for the conversations, encoding (and caching) only
    those not cached yet.

    `encoder_key` names the vectors in the cache (the base encoder's views by default; a fine-tuned
    encoder has its own). The legacy key (`ENCODER_ID`, no views) gives the old single-text vectors."""
    key = encoder_key or views_key()
    cached = embeddings_cached(conversation_ids=conversation_ids, encoder=key)
    missing = [cid for cid in conversation_ids if cid not in cached]
    if missing:
        messages = dict(Conversation.objects.filter(pk__in=missing).values_list("pk", "messages"))
        ids = [cid for cid in missing if cid in messages]
        model = (encoder or get_encoder)()
        if key == ENCODER_ID:
            vectors = model.encode([conversation_text(messages[cid]) for cid in ids])
        else:
            vectors = model.encode_views([text_views(messages[cid]) for cid in ids], blocks=view_blocks(key))
        fresh = {cid: vectors[i].tobytes() for i, cid in enumerate(ids)}
        embeddings_store(encoder=key, vectors=fresh)
        cached.update(fresh)
    return {cid: np.frombuffer(vector, dtype=np.float32) for cid, vector in cached.items()}


@dataclass
class ScoreOutputs:
    """What the model says of each conversation: the seam between the worker and Score storage."""

    categories: dict[int, dict[str, float]]
    risk: dict[int, float]  # P(harmful compliance); h when judged on the request alone
    verdicts: dict[int, dict[str, float] | None]  # None: judged on the request (no reply), or a legacy model
    judged: dict[int, str]  # "response" or "request"


def score_outputs(loaded: LoadedModel, conversation_ids: list[int]) -> ScoreOutputs:
    vectors = embed(conversation_ids, encoder_key=loaded.encoder_key, encoder=loaded.encoder)
    ids = [cid for cid in conversation_ids if cid in vectors]
    if not ids:
        return ScoreOutputs({}, {}, {}, {})
    features = np.stack([vectors[cid] for cid in ids])
    if loaded.legacy:  # a head trained before the verdict grid: categories, then "harmful" last
        with torch.inference_mode():
            probs = torch.sigmoid(loaded.head(torch.from_numpy(features))).numpy()
        names = loaded.labels[:-1]
        return ScoreOutputs(
            categories={cid: dict(zip(names, map(float, probs[i, :-1]), strict=True)) for i, cid in enumerate(ids)},
            risk={cid: float(probs[i, -1]) for i, cid in enumerate(ids)},
            verdicts={cid: None for cid in ids},
            judged={cid: "response" for cid in ids},
        )
    prediction = predict(loaded.head, features, loaded.calibration)
    return ScoreOutputs(
        categories={
            cid: dict(zip(loaded.labels, map(float, prediction.categories[i]), strict=True))
            for i, cid in enumerate(ids)
        },
        risk={cid: float(prediction.risk[i]) for i, cid in enumerate(ids)},
        verdicts={cid: prediction.verdicts(i) for i, cid in enumerate(ids)},
        judged={cid: "response" if prediction.has_reply[i] else "request" for i, cid in enumerate(ids)},
    )


def score_and_route(conversation_ids: list[int]) -> list[int]:
    """Score with the active model (or the detectors' fallback before any model exists), then route.

    Scores and routing commit together: a conversation is never marked scored without its
    review items, so a failure leaves it pending for the retry or the sweeper.
    """
    loaded = active_model()
    if loaded is None:
        with transaction.atomic():
            scored = score_with_fallback(conversation_ids=conversation_ids)
            items_route(conversation_ids=scored)
        return scored
    outputs = score_outputs(loaded, conversation_ids)  # outside the transaction: encoding is the slow part
    with transaction.atomic():
        scored = scores_store(
            producer=model_producer(loaded.row.version),
            scoring_model=loaded.row,
            per_conversation=outputs.categories,
            overall=outputs.risk,
            verdicts=outputs.verdicts,
            judged=outputs.judged,
        )
        items_route(conversation_ids=scored)
    return scored
