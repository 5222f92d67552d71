"""Fine-tuning the encoder end to end (`train_model --fine-tune`, the default where the worker has CUDA).

A bi-encoder: the one MiniLM reads the request and each reply chunk apart, as at scoring time
(`worker.encoder.views_matrix`), and a verdict head over `[u, r, o]` trains with it on
the same masked losses as the frozen-encoder head (`worker.training`). The issue's probe found
a cross-encoder (request and reply in one window) about as good on compliance and the reply
alone better on jailbreak success; the bi-encoder keeps the product's one vector per view, its
embedding cache and its chunked long replies, so a fine-tuned encoder is a drop-in: new
weights, its own cache key (`encoder_key`), served on the CPU as on CUDA.

The tuned encoder's head is then discarded: `worker.versions` re-encodes every example with
the tuned encoder and trains, early-stops and calibrates a fresh head on those vectors with
the same split, so the validation rows never touched the encoder or the head. Relative
(pairwise) labels are not used here; the head trained after it uses them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from reviews.scoring.text import TextViews, text_views
from worker.encoder import DIM, ENCODER_ID, MAX_TOKENS, Encoder, embed_tokens, load_encoder, pick_device, views_key
from worker.head import HeadConfig, VerdictHead
from worker.training import Batch, TargetArrays, TrainConfig, verdict_loss

if TYPE_CHECKING:
    from reviews.scoring.training_data import Example


@dataclass
class FineTuneConfig:
    epochs: int = 3
    batch_size: int = 32  # conversations per step (each is a request and up to `max_chunks` reply chunks)
    encoder_lr: float = 2e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    max_chunks: int = 2  # reply chunks read while training (scoring reads up to 8, pooled)
    max_tokens: int = MAX_TOKENS
    max_rows: int | None = None  # a random sample of the training rows (None: all)
    seed: int = 0
    device: str | None = None  # None: CUDA when there is one

    @classmethod
    def for_device(cls, device: str | None = None, *, max_rows: int | None = None) -> FineTuneConfig:
        """The full run on CUDA; on a CPU a sample sized for it: 6,000 conversations, two epochs, 128-token windows
        and the reply's first chunk. On two cores that trained in 40 minutes on the shared sets (the full run there:
        about 8 hours) and still raised the AUROC of every `bench/quality.py` target but DiaSafety's (the README has
        the figures). `max_rows` overrides the sample's size."""
        on_cuda = pick_device(device).type == "cuda"
        config = cls(device=device) if on_cuda else cls(max_rows=6000, epochs=2, max_tokens=128, max_chunks=1)
        return config if max_rows is None else replace(config, max_rows=max_rows)


@dataclass
class FineTuned:
    encoder_state: dict[str, torch.Tensor]
    device: str
    steps: int

    def encoder_key(self, version: int) -> str:
        return views_key(f"{ENCODER_ID}+ft-v{version}")

    def encoder(self) -> Encoder:
        return load_encoder(self.device, state_dict=self.encoder_state)


def _encode(encoder: Encoder, texts: list[str], max_tokens: int) -> torch.Tensor:
    tokens = encoder.tokenizer(  # type: ignore[operator]
        texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
    ).to(encoder.device)
    return embed_tokens(encoder.model, dict(tokens))  # [b, 384], with gradients


def _batch_features(encoder: Encoder, views: Sequence[TextViews], config: FineTuneConfig) -> torch.Tensor:
    """[u, r, o] for a batch, differentiable: requests, reply chunks and openings in one encoder call."""
    texts = [v.request for v in views]
    owners: list[int] = []
    openings: list[int] = []  # (row, position in texts) of each reply opening
    for row, view in enumerate(views):
        for chunk in view.reply_chunks[: config.max_chunks]:
            texts.append(chunk)
            owners.append(row)
    for row, view in enumerate(views):
        if view.reply_chunks and view.opening:
            texts.append(view.opening)
            openings.append(row)
    vectors = _encode(encoder, texts, config.max_tokens)  # [b + chunks + openings, 384]
    u = vectors[: len(views)]
    r, o = torch.zeros_like(u), torch.zeros_like(u)
    if owners:
        index = torch.tensor(owners, device=u.device)
        r = r.index_add(0, index, vectors[len(views) : len(views) + len(owners)])
        r = F.normalize(r, dim=-1) * (r.abs().sum(dim=1, keepdim=True) > 0)
    if openings:
        o = o.index_add(0, torch.tensor(openings, device=u.device), vectors[len(views) + len(owners) :])
    return torch.cat([u, r, o], dim=1)  # [b, 1152]


def fine_tune_encoder(
    examples: list[Example],
    targets: TargetArrays,
    *,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    weights: np.ndarray,
    config: FineTuneConfig,
) -> FineTuned:
    """`fine_tune_views` on the stored conversations of the training rows of `examples`."""
    from reviews.models import Conversation

    rows = _sampled(train_rows, config)
    messages = dict(
        Conversation.objects.filter(pk__in=[examples[i].conversation_id for i in rows]).values_list("pk", "messages")
    )
    views = {int(i): text_views(messages[examples[i].conversation_id]) for i in rows}
    del val_rows  # the validation rows stay untouched: the head trained after this one calibrates on them
    return fine_tune_views(views, targets, weights=weights, config=config)


def _sampled(train_rows: np.ndarray, config: FineTuneConfig) -> np.ndarray:
    rng = np.random.default_rng(config.seed)
    return train_rows if config.max_rows is None else rng.permutation(train_rows)[: config.max_rows]


def fine_tune_views(
    views: dict[int, TextViews], targets: TargetArrays, *, weights: np.ndarray, config: FineTuneConfig
) -> FineTuned:
    """The encoder and a verdict head trained together on the rows `views` holds (row index -> its views, indexing
    `targets` and `weights`; a sample of `max_rows` of them); no database: `bench/quality.py --fine-tune` runs it
    on rows read from a file."""
    device = str(pick_device(config.device))
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    rows = _sampled(np.array(sorted(views), dtype=np.int64), config)
    encoder = load_encoder(device, train=True)
    head = VerdictHead(HeadConfig(embed_dim=DIM, n_categories=len(targets.categories), views=3)).to(encoder.device)
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder.model.parameters(), "lr": config.encoder_lr},
            {"params": head.parameters(), "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = max(1, math.ceil(len(rows) / config.batch_size))
    total = steps_per_epoch * config.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / max(1, total)))
    reply = np.zeros(len(weights), dtype=bool)
    for i in rows:
        reply[i] = bool(views[int(i)].reply_chunks)
    pos_weight = torch.ones(len(targets.categories), device=encoder.device)
    step = 0
    for _ in range(config.epochs):
        encoder.model.train()
        head.train()
        for batch_rows in np.array_split(rng.permutation(rows), steps_per_epoch):
            if len(batch_rows) == 0:
                continue
            features = _batch_features(encoder, [views[int(i)] for i in batch_rows], config)
            batch = Batch(targets, batch_rows, weights, reply)
            for name, value in vars(batch).items():
                setattr(batch, name, value.to(encoder.device))
            loss = verdict_loss(head(features), batch, pos_weight, TrainConfig())
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder.model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
    encoder.model.eval()
    state = {k: v.detach().float().cpu() for k, v in encoder.model.state_dict().items()}
    return FineTuned(encoder_state=state, device=device, steps=step)
