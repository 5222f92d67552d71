"""Fingerprints of a conversation's request: a MinHash signature, its LSH band buckets, and the shingle hashes
that confirm a near-duplicate. A whole ingest batch is fingerprinted at once, as arrays (`Prints`).

- **Shingles**: word 3-grams of the lower-cased user turns. Each word is hashed once, as a polynomial of its
  bytes computed by NumPy over the whole batch (stable across processes, unlike Python's salted `hash`, so
  stored seeds compare with every later request), and each 3-gram is three word hashes mixed (splitmix64's
  finalizer, top 32 bits). No Python call runs per word or per gram.
- **Signature**: one-permutation MinHash (Li, Owen & Zhang 2012) with rotation densification (Shrivastava & Li
  2014): a shingle's low bits pick one of `SLOTS` slots and the slot keeps the smallest hash; an empty slot
  borrows the next filled one's value shifted by its distance. The share of equal slots estimates the Jaccard
  similarity.
- **Bands**: `BANDS` bands of `ROWS` slots; a band's bucket is a 63-bit hash of its slots and its number.
  Requests with Jaccard similarity J share a bucket with probability 1 - (1 - J^ROWS)^BANDS (J=0.9: 1.0;
  J=0.7: 0.89).
- **Near-duplicate**: buckets only find candidates (reviews/ingest/matching.py); the pair is confirmed on the
  shingle sets themselves: at most `MAX_DIFF` shingles in one and not the other (one word changed anywhere
  changes at most 3 shingles on each side) and a Jaccard similarity of at least `MIN_JACCARD` (so two short
  prompts are not near-duplicates for being short). The count, not a ratio, is what separates "a word changed"
  from "the goal changed" in a long template: on the JailbreakBench artifacts two AIM prompts with different goals
  have Jaccard up to 0.975 but always differ by 7 shingles or more (bench/campaigns_quality.py).

This is scheme 2. A change of scheme needs a migration that fingerprints the stored seeds again, since neither
their buckets nor their shingles would compare with the new ones (0031 did it for scheme 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

SLOTS = 64
BANDS, ROWS = 12, 5  # 60 of the 64 slots
MAX_DIFF = 6
MIN_JACCARD = 0.5
MAX_SHINGLES = 1024  # the smallest shingle hashes kept to confirm a pair (all of them below ~1,000 words)
_SLOT_MASK = np.uint64(SLOTS - 1)
_EMPTY = np.uint64(1 << 32)
_LOW32 = np.uint64(0xFFFF_FFFF)
# Words: runs of bytes between ASCII whitespace and punctuation (bytes.translate turns both into spaces, one C
# pass), hashed as polynomials in a large odd base. b"\xff", never in UTF-8 text, is the word between two
# requests of a batch.
_BASE = np.uint64(0x0000_0100_0000_01B3)
_SPACES = bytes.maketrans(b"".join(bytes([c]) for c in b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\t\n\r\x0b\x0c"), b" " * 37)
# Odd multipliers that place a word by its position in the 3-gram; the pads stand for the missing words of a
# request under three words.
_K1, _K2, _K3 = (np.uint64(k) for k in (0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9))
_PAD = 1 << 32

Row = npt.NDArray[np.uint64]
Grams = npt.NDArray[np.uint32]


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finalizer: every input bit moves about half the output bits (uint64 arithmetic wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58_476D_1CE4_E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D0_49BB_1331_11EB)
    return x ^ (x >> np.uint64(31))


def _gram_hashes(a: Row, b: Row, c: Row) -> Row:
    """The 32-bit hash of each 3-gram of word hashes (a[i], b[i], c[i])."""
    return _mix(a * _K1 + b * _K2 + c * _K3) >> np.uint64(32)


@dataclass(frozen=True)
class Print:
    """One request's fingerprint: signature, band buckets and distinct shingles (ascending)."""

    row: Row
    bands: tuple[int, ...]
    grams: Grams


@dataclass(frozen=True)
class Prints:
    """A batch's fingerprints as arrays: request k's signature is rows[k], its buckets bands[k], its distinct
    shingles (ascending, the MAX_SHINGLES smallest) shingles[bounds[k]:bounds[k + 1]]. A request without a word
    has no shingles (and an empty signature): it is compared with nothing."""

    rows: npt.NDArray[np.uint64]
    bands: npt.NDArray[np.int64]
    shingles: Grams
    bounds: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def has_words(self) -> npt.NDArray[np.bool_]:
        return np.diff(self.bounds) > 0

    def grams(self, k: int) -> Grams:
        return self.shingles[self.bounds[k] : self.bounds[k + 1]]

    def at(self, k: int) -> Print | None:
        if self.bounds[k] == self.bounds[k + 1]:
            return None
        return Print(self.rows[k], tuple(self.bands[k].tolist()), self.grams(k))


def request_text(turns: Iterable[tuple[str, str]]) -> str:
    """What a conversation asks, from its (role, content) turns: the user turns joined (the replies differ by
    model and do not make a campaign)."""
    return "\n".join(content for role, content in turns if role == "user")


def stored_request_text(messages: Sequence[Any]) -> str:
    """request_text of a stored conversation's messages (a list of {role, content})."""
    return request_text((str(m.get("role")), str(m.get("content", ""))) for m in messages if isinstance(m, Mapping))


def fingerprint(text: str) -> Print | None:
    """The request's fingerprint; None for a request without a word (nothing to compare)."""
    return fingerprints([text]).at(0)


def fingerprints(texts: Sequence[str]) -> Prints:
    """The fingerprints of a batch of requests, computed for the whole batch at once: its texts joined with a
    sentinel word between requests, then NumPy for the word hashes, 3-grams, shingle sets (one sort), slots,
    densification and bands. Each request gets what it would get alone."""
    n = len(texts)
    hashes, is_sep = _word_hashes(b" \xff ".join([t.lower().encode() for t in texts]))
    seps = np.flatnonzero(is_sep)
    starts = np.concatenate(([0], seps + 1))
    counts = np.concatenate((seps, [len(hashes)])) - starts
    owner_of_word = np.cumsum(is_sep, dtype=np.int64)  # a word's request (a sentinel: the next one; unused)
    grams = _gram_hashes(hashes[:-2], hashes[1:-1], hashes[2:]) if len(hashes) >= 3 else hashes[:0]
    whole = ~(is_sep[:-2] | is_sep[1:-1] | is_sep[2:]) if len(hashes) >= 3 else is_sep[:0]
    owners, flat = owner_of_word[: len(grams)][whole], grams[whole]
    short = np.flatnonzero((counts > 0) & (counts < 3))  # one shingle: its words and pads
    if short.size:
        spans = zip(starts[short].tolist(), counts[short].tolist(), strict=True)
        padded = [[*hashes[s : s + c].tolist(), _PAD, _PAD + 1][:3] for s, c in spans]
        a, b, c = np.array(padded, dtype=np.uint64).T
        owners, flat = np.concatenate([owners, short]), np.concatenate([flat, _gram_hashes(a, b, c)])
    shingles, owner, bounds = _distinct(owners, flat, n)
    rows = _signatures(shingles, owner, n)
    kept = np.arange(len(shingles)) - bounds[owner] < MAX_SHINGLES
    if not kept.all():
        shingles, owner = shingles[kept], owner[kept]
        bounds = np.searchsorted(owner, np.arange(n + 1)).astype(np.int64)
    return Prints(rows, _bands(rows), shingles.astype(np.uint32), bounds)


def _word_hashes(data: bytes) -> tuple[Row, npt.NDArray[np.bool_]]:
    """A 64-bit hash of each word of `data` (runs of bytes between spaces and punctuation), and which words are
    the sentinel. The hash is the word's bytes as a polynomial in _BASE modulo 2**64 (sum of byte * _BASE**offset
    in the word), summed per word by reduceat: NumPy over the bytes, no Python call per word."""
    buf = np.frombuffer(data.translate(_SPACES), dtype=np.uint8)
    solid = buf != 32
    first = solid.copy()
    first[1:] &= ~solid[:-1]
    starts = np.flatnonzero(first)
    if not starts.size:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=bool)
    at = np.arange(len(buf), dtype=np.int32 if len(buf) < 2**31 else np.int64)
    offset = (at - np.maximum.accumulate(np.where(first, at, 0))) * solid  # within its word; 0 between words
    powers = np.concatenate(([1], np.cumprod(np.full(int(offset.max()), _BASE, dtype=np.uint64)))).astype(np.uint64)
    hashes = np.add.reduceat((buf * solid) * powers[offset], starts, dtype=np.uint64)
    return hashes, buf[starts] == 0xFF  # 0xFF is never in UTF-8: only the sentinel word holds it


def _distinct(
    owners: npt.NDArray[np.int64], flat: Row, n: int
) -> tuple[Row, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every request's distinct shingles, ascending, request after request (one sort for the batch), their
    owners, and where each request's run starts (bounds, n + 1 of them)."""
    keys = (owners.astype(np.uint64) << np.uint64(32)) | flat
    keys.sort()
    if keys.size:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    owner = (keys >> np.uint64(32)).astype(np.int64)
    return keys & _LOW32, owner, np.searchsorted(owner, np.arange(n + 1)).astype(np.int64)


def _signatures(shingles: Row, owner: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.uint64]:
    """One row of SLOTS per request: each slot the smallest shingle whose low bits pick it, then densified: an
    empty slot takes the next filled slot's value (circularly), shifted by how far it looked (never equal to a
    filled slot's value). A request without shingles keeps an empty row."""
    slots = np.full(n * SLOTS, _EMPTY, dtype=np.uint64)
    np.minimum.at(slots, owner * SLOTS + (shingles & _SLOT_MASK).astype(np.int64), shingles)
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


def _bands(rows: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Each signature's bucket in each band: its ROWS slots and the band's number mixed into 63 bits (a
    non-negative BIGINT)."""
    slots = rows[:, : BANDS * ROWS].reshape(len(rows), BANDS, ROWS)
    key = np.broadcast_to(np.arange(BANDS, dtype=np.uint64) * _K3, (len(rows), BANDS))
    for r in range(ROWS):
        key = _mix(key * _K1 + slots[:, :, r])
    return (key >> np.uint64(1)).astype(np.int64)


def similarity(a: Row, b: Row) -> float:
    """Estimated Jaccard similarity of two requests' shingle sets, from their signatures."""
    return float(np.count_nonzero(a == b)) / SLOTS


def near_duplicate(a: Grams, b: Grams) -> bool:
    """Whether two distinct, ascending shingle sets differ by at most MAX_DIFF shingles with Jaccard >= 0.5."""
    if abs(len(a) - len(b)) > MAX_DIFF or not len(a) or not len(b):  # sizes alone may rule it out
        return False
    if len(a) > len(b):
        a, b = b, a
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    common = int(np.count_nonzero(b[at] == a))
    return len(a) + len(b) - 2 * common <= MAX_DIFF and common >= MIN_JACCARD * (len(a) + len(b) - common)


def pack_signature(row: Row) -> bytes:
    return row.astype(">u8").tobytes()  # big-endian, as unpack_signatures reads it


def unpack_signatures(raws: Sequence[bytes | memoryview]) -> npt.NDArray[np.uint64]:
    """Stored signatures as one array of rows (big-endian, as pack_signature wrote them)."""
    if not raws:
        return np.empty((0, SLOTS), dtype=np.uint64)
    return np.frombuffer(b"".join(raws), dtype=">u8").reshape(len(raws), SLOTS).astype(np.uint64)


def pack_grams(grams: Grams) -> bytes:
    return grams.astype("<u4").tobytes()  # little-endian, ascending, as unpack_grams reads it


def unpack_grams(raw: bytes | memoryview) -> Grams:
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)
