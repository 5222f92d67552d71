"""Synthetic conversations for the ingest benchmarks: random words in alternating turns, 1-3 flags, small
metadata; `p` is the benchmark's Params (message, flag and pool sizes)."""

from __future__ import annotations

import random
from typing import Any

SEED = 1729
Conversation = dict[str, Any]
Batch = list[Conversation]

_VOCABULARY = (
    "the a of to and in is it that for you with on as can be this how what I my your model answer question "
    "please explain step detail example help request policy safety risk code script file system user data "
    "chemical synthesis network access password account bank transfer medical dose symptom weapon legal advice "
    "story character write summary translate email draft refuse sorry cannot provide instead here are some "
    "general information consider contacting professional resources guidelines however important note"
)
WORDS = tuple(_VOCABULARY.split())
DETECTORS = ("input-guard-v2", "output-clf-v5", "cot-monitor-v1", "pii-scan-v3")
CATEGORIES = ("cbrn", "cyber", "self_harm", "violence", "fraud", "privacy", "hate", "sexual", "weapons", "other")
MODELS = ("assistant-large-2025-06", "assistant-small-2025-04", "assistant-large-2025-01")


def _text(rng: random.Random, low: int, high: int) -> str:
    target = rng.randint(low, high)
    words: list[str] = []
    length = 0
    while length < target:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:target]


def make_conversation(rng: random.Random, p: Any) -> Conversation:
    """One conversation without its external id: alternating turns, 1-3 flags, small metadata."""
    count = rng.randint(*p.messages)
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": _text(rng, *p.message_chars)} for i in range(count)
    ]
    flags = [
        {
            "detector": rng.choice(DETECTORS),
            "category": rng.choice(CATEGORIES),
            "score": round(rng.random(), 4),
            "explanation": _text(rng, 40, 160),
            "message_index": rng.choice([None, rng.randrange(count)]),
        }
        for _ in range(rng.randint(*p.flags))
    ]
    metadata = {
        "lang": rng.choice(["en", "de", "fr", "ja"]),
        "region": rng.choice(["us", "eu", "apac"]),
        "session": f"{rng.getrandbits(64):016x}",
        "sampled": rng.random() < 0.1,
    }
    return {"model": rng.choice(MODELS), "messages": messages, "flags": flags, "metadata": metadata}


def make_pool(p: Any) -> list[Conversation]:
    rng = random.Random(SEED)
    return [make_conversation(rng, p) for _ in range(p.pool)]


def make_batches(pool: list[Conversation], tag: str, total: int, size: int) -> list[Batch]:
    """`total` conversations in batches of `size`, each with a fresh external id `tag-N`."""
    rows = [{"external_id": f"{tag}-{i:08d}", **pool[i % len(pool)]} for i in range(total)]
    return [rows[i : i + size] for i in range(0, total, size)]


def content_length(conversation: Conversation) -> int:
    return sum(len(m["content"]) for m in conversation["messages"])
