"""An on-disk, text-keyed vector cache for `bench/quality.py`: reruns encode only texts not seen before.

Keys are the first 16 bytes of SHA-256(encoder key, NUL, text), so a change of encoder never returns a
stale vector; a change of `reviews.scoring.text`'s views only brings texts not seen before. Vectors go to
numbered shard files under `var/quality-cache/<encoder key>/`, each written whole (a temporary
file renamed into place), so an interrupted run keeps every finished shard.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

SHARD_TEXTS = 2000


class TextVectorCache:
    def __init__(self, root: Path, encoder_key: str, dim: int = 384) -> None:
        self.folder = root / re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_key)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.encoder_key, self.dim = encoder_key, dim
        self.vectors: dict[bytes, np.ndarray] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            with np.load(shard) as data:
                for key, vector in zip(data["keys"], data["vectors"], strict=True):
                    self.vectors[key.tobytes()] = vector

    def key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.encoder_key}\0{text}".encode()).digest()[:16]

    def missing(self, texts: Sequence[str]) -> list[str]:
        seen: set[str] = set()
        out = []
        for text in texts:
            if text not in seen and self.key(text) not in self.vectors:
                seen.add(text)
                out.append(text)
        return out

    def fill(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray], progress: bool = True) -> None:
        """Encode the texts not cached yet, a shard at a time (each shard saved as soon as it is done), shortest
        first: a shard pads less, and an interrupted run has finished the most texts."""
        todo = sorted(self.missing(texts), key=len)
        for start in range(0, len(todo), SHARD_TEXTS):
            chunk = todo[start : start + SHARD_TEXTS]
            vectors = encode(chunk).astype(np.float32)
            keys = np.frombuffer(b"".join(self.key(t) for t in chunk), dtype=np.uint8).reshape(len(chunk), 16)
            number = len(list(self.folder.glob("shard-*.npz")))
            temporary = self.folder / f".shard-{number:05d}.tmp.npz"
            np.savez(temporary, keys=keys, vectors=vectors)
            os.replace(temporary, self.folder / f"shard-{number:05d}.npz")
            for key, vector in zip(keys, vectors, strict=True):
                self.vectors[key.tobytes()] = vector
            if progress:
                print(f"  encoded {min(start + SHARD_TEXTS, len(todo))}/{len(todo)} new texts", flush=True)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of cached texts (every text must be cached: call `fill` first)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.vectors[self.key(t)] for t in texts])
