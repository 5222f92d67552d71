"""What differs between near-duplicate requests: a word-level diff against the campaign's reference request,
as segments the template marks up (autoescaped: request text is adversarial)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

MAX_CHARS = 4_000  # of each request shown on the campaign page; the item page has the rest
_WORDS = re.compile(r"\S+|\s+")


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool


def word_diff(reference: str, text: str) -> list[Segment]:
    """`text` cut into runs of words that are (changed) or are not in `reference`, whitespace kept."""
    ref_words, words = _WORDS.findall(reference[:MAX_CHARS]), _WORDS.findall(text[:MAX_CHARS])
    matcher = SequenceMatcher(a=ref_words, b=words, autojunk=False)
    segments: list[Segment] = []
    for tag, _, _, start, end in matcher.get_opcodes():
        if start == end:
            continue
        chunk = "".join(words[start:end])
        changed = tag != "equal"
        if segments and segments[-1].changed == changed:
            segments[-1] = Segment(segments[-1].text + chunk, changed)
        else:
            segments.append(Segment(chunk, changed))
    if len(text) > MAX_CHARS:
        segments.append(Segment(" …", False))
    return segments
