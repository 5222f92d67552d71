"""The encoder's own rates, without Django: what `bench/rescore.py` and `bench/encode_rate.py` time beside the task.

Each function returns conversations per second over `views` (`reviews.scoring.text.text_views` of each), with the
distinct texts the encoder reads sorted by length and batched as `Encoder.encode` batches them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

Sync = Callable[[], None]


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def text_batches(views: Sequence[Any], batch: int) -> list[list[str]]:
    """The distinct texts the encoder reads (requests, reply chunks, openings), sorted by length, in batches."""
    from worker.encoder import view_texts

    return chunks(sorted(dict.fromkeys(t for v in views for t in view_texts(v)), key=len), batch)


def ready_batches(encoder: Any, views: Sequence[Any], batch: int) -> list[dict[str, Any]]:
    """The batches tokenised and moved to the encoder's device, for `forward_only`."""
    return [{k: v.to(encoder.device) for k, v in encoder._tokenize(g).items()} for g in text_batches(views, batch)]


def forward_only(encoder: Any, views: Sequence[Any], ready: list[dict[str, Any]], sync: Sync) -> float:
    """The model's forward and pooling alone, on batches tokenised and on the device beforehand (`ready_batches`):
    the rate the device could give if tokenising cost nothing."""
    import torch

    from worker.encoder import embed_tokens

    sync()
    start = time.perf_counter()
    with torch.inference_mode():
        for tokens in ready:
            embed_tokens(encoder.model, tokens)
    sync()
    return len(views) / (time.perf_counter() - start)


def tokenize_only(encoder: Any, views: Sequence[Any], batch: int, *, transformers: bool = False) -> float:
    """The tokenizer alone on the forward's batches, as the encoder runs it (`_tokenize`, on one thread); with
    `transformers`, through transformers' `__call__` as the encoder did before (the baseline)."""
    from worker.encoder import MAX_TOKENS

    groups = text_batches(views, batch)
    start = time.perf_counter()
    for group in groups:
        if transformers:
            encoder.tokenizer(group, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        else:
            encoder._tokenize(group)
    return len(views) / (time.perf_counter() - start)
