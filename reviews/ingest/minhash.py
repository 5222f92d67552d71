"""Fingerprints of a conversation's request: a MinHash signature, its LSH band buckets, and the shingle hashes
that confirm a near-duplicate.

- **Shingles**: word 3-grams of the lower-cased user turns, each hashed once (CRC-32: stable across processes,
  unlike Python's salted `hash`, so the stored seeds compare with every later request).
- **Signature**: one-permutation MinHash (Li, Owen & Zhang 2012) with rotation densification (Shrivastava & Li
  2014): a shingle hash's low bits pick one of `SLOTS` slots and the slot keeps
  the smallest hash; an empty slot borrows the next filled one's value shifted by its distance.
  The share of equal slots estimates the Jaccard similarity. A whole ingest batch is fingerprinted at once
  (`fingerprints`): one split and one C pass of CRC-32 over all its 3-grams, then NumPy for the slots,
  densification and bands (bench/campaigns.py prints the cost per conversation).
- **Bands**: `BANDS` bands of `ROWS` slots; a band's bucket is a 63-bit hash of its slots. Requests with
  Jaccard similarity J share a bucket with probability 1 - (1 - J^ROWS)^BANDS (J=0.9: 1.0; J=0.7: 0.89).
- **Near-duplicate**: buckets only find candidates; the pair is confirmed on the shingle sets themselves: at most
  `MAX_DIFF` shingles in one and not the other (one word changed anywhere changes at most 3 shingles on each side)
  and a Jaccard similarity of at least `MIN_JACCARD` (so two short prompts are not near-duplicates for being
  short). The count, not a ratio, is what separates "a word changed" from "the goal changed" in a long template:
  on the JailbreakBench artifacts two AIM prompts with different goals have Jaccard up to 0.975 but always
  differ by 7 shingles or more (bench/campaigns_quality.py).
"""

from __future__ import annotations

import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from itertools import cycle
from operator import eq
from typing import Any

import numpy as np
import numpy.typing as npt

SLOTS = 64
BANDS, ROWS = 12, 5  # 60 of the 64 slots
MAX_DIFF = 6
MIN_JACCARD = 0.5
MAX_SHINGLES = 1024  # the smallest shingle hashes kept to confirm a pair (all of them below ~1,000 words)
VERIFY = 3  # candidates confirmed per request, most similar first
SHORTLIST = 3 * VERIFY  # candidates sharing most bands, ranked by estimated similarity
_SLOT_MASK = SLOTS - 1
_EMPTY = 1 << 32
_SENTINEL = b"\xff"  # the word between two requests of a batch: never in UTF-8 text
# Punctuation separates words like a space does (bytes.translate: one C pass).
_PUNCTUATION = bytes.maketrans(b"".join(bytes([c]) for c in b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), b" " * 32)

Signature = tuple[int, ...]


class Fingerprint:
    """One request's signature (also as a NumPy `row`), band buckets and shingle hashes (its slice of the batch's
    hashes, repeats included, turned into `grams` only when a candidate is confirmed or the seed stored)."""

    def __init__(self, row: npt.NDArray[np.uint64], bands: list[int], hashes: npt.NDArray[np.uint64]) -> None:
        self.row, self.bands, self._hashes = row, bands, hashes

    @cached_property
    def signature(self) -> Signature:
        return tuple(self.row.tolist())

    @cached_property
    def shingles(self) -> npt.NDArray[np.uint64]:
        """The distinct shingle hashes, ascending, the MAX_SHINGLES smallest: what a seed stores."""
        ordered = np.sort(self._hashes)
        return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))][:MAX_SHINGLES]

    @cached_property
    def grams(self) -> frozenset[int]:
        if len(self._hashes) <= MAX_SHINGLES:  # all of them, whatever their order
            return frozenset(self._hashes.tolist())
        return frozenset(self.shingles.tolist())


def request_text(turns: Iterable[tuple[str, str]]) -> str:
    """What a conversation asks, from its (role, content) turns: the user turns joined (the replies differ by
    model and do not make a campaign)."""
    return "\n".join(content for role, content in turns if role == "user")


def stored_request_text(messages: Sequence[Any]) -> str:
    """request_text of a stored conversation's messages (a list of {role, content})."""
    return request_text((str(m.get("role")), str(m.get("content", ""))) for m in messages if isinstance(m, Mapping))


def _words(text: str) -> list[bytes]:
    return text.lower().encode().translate(_PUNCTUATION).split()


def shingle_hashes(text: str) -> set[int]:
    """CRC-32 of each word 3-gram; every step runs in C (map, zip, join, crc32), not in a Python loop."""
    words = _words(text)
    if len(words) < 3:
        return {zlib.crc32(b" ".join(words))} if words else set()
    return set(map(zlib.crc32, map(b" ".join, zip(words, words[1:], words[2:], strict=False))))


def fingerprint(text: str) -> Fingerprint | None:
    """The request's fingerprint; None for a request without a word (nothing to compare)."""
    return fingerprints([text])[0]


def fingerprints(texts: Sequence[str]) -> list[Fingerprint | None]:
    """The fingerprint of each request of a batch (None: no word), computed for the whole batch at once.

    The batch is split into words once (a sentinel word between requests), every 3-gram hashed in one C pass,
    and the slots, densification and bands done by NumPy over the whole batch: the same values `shingle_hashes`
    gives one request at a time, so signatures stored earlier still compare."""
    words = b" \xff ".join([t.lower().encode() for t in texts]).translate(_PUNCTUATION).split()
    starts = [0]  # each request's first word; b"\xff" is never in UTF-8 text, so only the sentinels match
    for _ in range(len(texts) - 1):
        starts.append(words.index(_SENTINEL, starts[-1]) + 1)
    ends = [*(s - 1 for s in starts[1:]), len(words)]
    triples = zip(words, words[1:], words[2:], strict=False)
    hashes = np.fromiter(map(zlib.crc32, map(b" ".join, triples)), dtype=np.uint64, count=max(len(words) - 2, 0))
    # Request k's 3-grams are hashes[starts[k] : ends[k] - 2]; one with fewer than three words has one shingle.
    segments: list[npt.NDArray[np.uint64]] = []
    for first, end in zip(starts, ends, strict=True):
        if end - first >= 3:
            segments.append(hashes[first : end - 2])
        else:
            short = [zlib.crc32(b" ".join(words[first:end]))] if end > first else []
            segments.append(np.array(short, dtype=np.uint64))
    sigs = _signatures(segments)
    keys = _bands(sigs)
    return [
        Fingerprint(row, band_keys, segment) if len(segment) else None
        for row, band_keys, segment in zip(sigs, keys, segments, strict=True)
    ]


def _signatures(segments: Sequence[npt.NDArray[np.uint64]]) -> npt.NDArray[np.uint64]:
    """One row of SLOTS per request: each slot the smallest hash whose low bits pick it (CRC-32 is already well
    spread), then densified: an empty slot takes the next filled slot's value (circularly), shifted by how far
    it looked (never equal to a filled slot's value, < 2**32). A request without shingles keeps an empty row."""
    n = len(segments)
    slots = np.full(n * SLOTS, _EMPTY, dtype=np.uint64)
    if n and (flat := np.concatenate(segments)).size:
        owner = np.repeat(np.arange(n, dtype=np.int64), [len(s) for s in segments])
        np.minimum.at(slots, owner * SLOTS + (flat & np.uint64(_SLOT_MASK)).astype(np.int64), flat)
    sigs = slots.reshape(n, SLOTS)
    filled = sigs != _EMPTY
    if filled.all():
        return sigs
    # Each slot's next filled slot, looking at most once round (slots doubled: SLOTS..2*SLOTS-1 wrap to 0..).
    at = np.where(np.concatenate([filled, filled], axis=1), np.arange(2 * SLOTS), 2 * SLOTS)
    ahead = np.minimum.accumulate(at[:, ::-1], axis=1)[:, ::-1][:, :SLOTS]
    ahead = np.minimum(ahead, 2 * SLOTS - 1)  # rows with nothing filled stay empty below
    found = np.take_along_axis(np.concatenate([sigs, sigs], axis=1), ahead, axis=1)
    shifted = found + ((ahead - np.arange(SLOTS)).astype(np.uint64) << np.uint64(32))
    return np.where(filled | ~filled.any(axis=1, keepdims=True), sigs, shifted)


def _bands(sigs: npt.NDArray[np.uint64]) -> list[list[int]]:
    """Each signature's bucket in each band: a 63-bit hash of its ROWS slots (big-endian bytes, as `bands`)."""
    raw = sigs[:, : BANDS * ROWS].astype(">u8").tobytes()
    width = ROWS * 8
    chunks = [raw[at : at + width] for at in range(0, len(raw), width)]
    keys = [
        ((crc << 31) ^ adler ^ band) - (1 << 62)
        for crc, adler, band in zip(
            map(zlib.crc32, chunks), map(zlib.adler32, chunks), cycle(range(BANDS)), strict=False
        )
    ]
    return [keys[at : at + BANDS] for at in range(0, len(keys), BANDS)]


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of two requests' shingle sets."""
    return sum(map(eq, a, b)) / SLOTS


def near_duplicate(a: frozenset[int], b: frozenset[int]) -> bool:
    if abs(len(a) - len(b)) > MAX_DIFF:  # cheap bound first: sizes alone may rule it out
        return False
    common = len(a & b)
    return len(a) + len(b) - 2 * common <= MAX_DIFF and common >= MIN_JACCARD * (len(a) + len(b) - common)


def best_match(print_: Fingerprint, candidates: Counter[int], row_of: Any, grams_of: Any) -> int | None:
    """The most similar candidate that is a confirmed near-duplicate, or None.

    `candidates`: seed -> how many bands it shares with the request. The seeds sharing most bands are ranked by
    their estimated similarity (`row_of(seed)`: its signature as a NumPy row, None if unknown), and the VERIFY
    best confirmed on their shingles (`grams_of(seed)`)."""
    return next(
        (seed for seed in ranked(print_, candidates, row_of) if near_duplicate(print_.grams, grams_of(seed))),
        None,
    )


def ranked(print_: Fingerprint, candidates: Counter[int], row_of: Any) -> list[int]:
    """The VERIFY candidates most likely to be near-duplicates, best first (most equal slots, then lowest id)."""
    shortlist = [(seed, row) for seed, _ in candidates.most_common(SHORTLIST) if (row := row_of(seed)) is not None]
    if not shortlist:
        return []
    same = (np.stack([row for _, row in shortlist]) == print_.row).sum(axis=1)
    return [seed for _, seed in sorted(zip((-same).tolist(), (seed for seed, _ in shortlist), strict=True))[:VERIFY]]


def pack_signature(row: npt.NDArray[np.uint64]) -> bytes:
    return row.astype(">u8").tobytes()  # big-endian, as unpack_signature reads it


def unpack_signature(raw: bytes | memoryview) -> npt.NDArray[np.uint64]:
    """A stored signature as a NumPy row (big-endian, as pack_signature wrote it)."""
    return np.frombuffer(raw, dtype=">u8")


def pack_grams(print_: Fingerprint) -> bytes:
    return print_.shingles.astype(np.uint32).tobytes()  # native order, as unpack_grams reads it


def unpack_grams(raw: bytes | memoryview) -> frozenset[int]:
    return frozenset(array("I", bytes(raw)))
