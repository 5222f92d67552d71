"""Near-duplicate groups of judged requests, and the split by group (see worker/training.py's docstring): rows
whose requests are near-duplicates share a group, and a group is wholly in train or in validation."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence

import numpy as np

# --- the split ---------------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


_PRIME = (1 << 61) - 1


def _shingles(tokens: list[str]) -> np.ndarray:
    grams = [" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))]
    return np.array([zlib.crc32(g.encode()) for g in grams], dtype=np.uint64)


def group_keys(texts: Sequence[str], *, threshold: float = 0.8, num_perm: int = 32, bands: int = 8) -> list[str]:
    """A group key per text (see the module docstring): equal keys = near-duplicate requests."""
    keys = [normalise(t) for t in texts]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            union(i, first[key])
        else:
            first[key] = i
    rng = np.random.default_rng(20241204)
    a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
    unique = list(first.items())
    signatures = np.zeros((len(unique), num_perm), dtype=np.uint64)
    for row, (key, _) in enumerate(unique):
        shingles = _shingles(key.split()) % np.uint64(_PRIME)
        with np.errstate(over="ignore"):  # modular hashing wraps on purpose
            signatures[row] = ((shingles[:, None] * a[None, :] + b[None, :]) % np.uint64(_PRIME)).min(axis=0)
    rows_per_band = num_perm // bands
    for band in range(bands):
        buckets: dict[bytes, int] = {}
        part = signatures[:, band * rows_per_band : (band + 1) * rows_per_band]
        for row in range(len(unique)):
            bucket = part[row].tobytes()
            other = buckets.setdefault(bucket, row)
            if other != row and (signatures[row] == signatures[other]).mean() >= threshold:
                union(unique[row][1], unique[other][1])
    return [keys[find(i)] for i in range(len(texts))]


def group_split(keys: Sequence[str], *, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): a group is wholly on one side, chosen by a hash of its key and the seed."""
    side = np.array(
        [int(hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()[:8], 16) / 2**32 < val_fraction for k in keys]
    )
    rows = np.arange(len(keys))
    return rows[~side], rows[side]


def source_weights(sources: Sequence[str], cap: int) -> np.ndarray:
    """Row weights so a source's rows together weigh at most `cap` rows."""
    names, inverse, counts = np.unique(np.asarray(sources, dtype=object), return_inverse=True, return_counts=True)
    del names
    return np.minimum(1.0, cap / counts[inverse]).astype(np.float32)
