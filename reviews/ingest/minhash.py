"""Fingerprints of a conversation's request: a MinHash signature, its LSH band buckets, and the shingle hashes
that confirm a near-duplicate.

- **Shingles**: word 3-grams of the lower-cased user turns, each hashed once (CRC-32).
- **Signature**: one-permutation MinHash (Li, Owen & Zhang 2012) with rotation densification (Shrivastava & Li
  2014): a shingle hash's low bits pick one of `SLOTS` slots and the slot keeps
  the smallest hash; an empty slot borrows the next filled one's value shifted by its distance.
  The share of equal slots estimates the Jaccard similarity. No numpy: C-level builtins (map, sorted, dict)
  do the per-shingle work, about 30 µs for a 300-word jailbreak template.
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

import struct
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import eq
from typing import Any

SLOTS = 64
BANDS, ROWS = 12, 5  # 60 of the 64 slots
MAX_DIFF = 6
MIN_JACCARD = 0.5
MAX_SHINGLES = 1024  # the smallest shingle hashes kept to confirm a pair (all of them below ~1,000 words)
VERIFY = 3  # candidates confirmed per request, most similar first
SHORTLIST = 3 * VERIFY  # candidates sharing most bands, ranked by estimated similarity
_SLOT_MASK = SLOTS - 1
_EMPTY = 1 << 32
_SIGNATURE = struct.Struct(f">{SLOTS}Q")
_BAND = struct.Struct(f">{ROWS}Q")
# Punctuation separates words like a space does (bytes.translate: one C pass).
_PUNCTUATION = bytes.maketrans(b"".join(bytes([c]) for c in b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), b" " * 32)

Signature = tuple[int, ...]


@dataclass(frozen=True)
class Fingerprint:
    signature: Signature
    grams: frozenset[int]  # shingle hashes (the MAX_SHINGLES smallest)
    bands: list[int]


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
    hashes = shingle_hashes(text)
    if not hashes:
        return None
    # CRC-32 is already well spread: its low bits pick the slot, the whole value orders within it. Largest first,
    # so each slot's last write (the one dict() keeps) is its smallest value.
    ordered = sorted(hashes, reverse=True)
    smallest = dict(zip(map(_SLOT_MASK.__and__, ordered), ordered, strict=True))
    sig = _densify(list(map(smallest.get, range(SLOTS), repeat(_EMPTY))))
    grams = frozenset(hashes) if len(hashes) <= MAX_SHINGLES else frozenset(sorted(hashes)[:MAX_SHINGLES])
    return Fingerprint(signature=sig, grams=grams, bands=bands(sig))


def _densify(slots: list[int]) -> Signature:
    """Each empty slot takes the next filled slot's value (circularly), shifted by how far it looked."""
    if _EMPTY not in slots:
        return tuple(slots)
    out = list(slots)
    last = next(i for i in range(SLOTS - 1, -1, -1) if slots[i] != _EMPTY)
    found, at = slots[last], last + SLOTS
    for i in range(last + SLOTS - 1, last, -1):
        value = slots[i % SLOTS]
        if value != _EMPTY:
            found, at = value, i
        else:
            out[i % SLOTS] = found + ((at - i) << 32)  # never equal to a filled slot's value (< 2**32)
    return tuple(out)


def bands(sig: Signature) -> list[int]:
    """The signature's bucket in each band, as signed 63-bit integers (what a bigint column holds)."""
    out = []
    for band in range(BANDS):
        raw = _BAND.pack(*sig[band * ROWS : (band + 1) * ROWS])
        key = (zlib.crc32(raw) << 31) ^ zlib.adler32(raw) ^ band
        out.append(key - (1 << 62))
    return out


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of two requests' shingle sets."""
    return sum(map(eq, a, b)) / SLOTS


def near_duplicate(a: frozenset[int], b: frozenset[int]) -> bool:
    if len(a) + len(b) - 2 * len(a & b) > MAX_DIFF:  # cheap bound first: sizes alone may rule it out
        return False
    common = len(a & b)
    return len(a) + len(b) - 2 * common <= MAX_DIFF and common >= MIN_JACCARD * (len(a) + len(b) - common)


def best_match(print_: Fingerprint, candidates: Counter[int], signature_of: Any, grams_of: Any) -> int | None:
    """The most similar candidate that is a confirmed near-duplicate, or None.

    `candidates`: seed -> how many bands it shares with the request. The seeds sharing most bands are ranked by
    their estimated similarity, and the VERIFY best confirmed on their shingles (`grams_of(seed)`)."""
    return next(
        (seed for seed in ranked(print_, candidates, signature_of) if near_duplicate(print_.grams, grams_of(seed))),
        None,
    )


def ranked(print_: Fingerprint, candidates: Counter[int], signature_of: Any) -> list[int]:
    """The VERIFY candidates most likely to be near-duplicates, best first."""
    scored = []
    for seed, _ in candidates.most_common(SHORTLIST):
        if (sig := signature_of(seed)) is not None:
            scored.append((-similarity(print_.signature, sig), seed))
    return [seed for _, seed in sorted(scored)[:VERIFY]]


def pack_signature(sig: Signature) -> bytes:
    return _SIGNATURE.pack(*sig)


def unpack_signature(raw: bytes | memoryview) -> Signature:
    return _SIGNATURE.unpack(bytes(raw))


def pack_grams(grams: frozenset[int]) -> bytes:
    return array("I", sorted(grams)).tobytes()


def unpack_grams(raw: bytes | memoryview) -> frozenset[int]:
    return frozenset(array("I", bytes(raw)))
