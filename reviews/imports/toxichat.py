"""ToxiChat (Baheti et al. 2021): Reddit threads, the replies DialoGPT and GPT-3 wrote to them, crowd labels.

`toxichat` (train.jsonl / dev.jsonl / test.jsonl): each line is a thread of 2-3 Reddit comments (each a user turn,
  in order) and two bot replies; it yields three conversations:
  * `...:thread`: the comments alone, judged on the last one as a request without a reply. Targets:
    request_harmful = the last comment's `offense_label` is Offensive; categories from its `offense_targets`.
  * `...:dgpt` and `...:gpt3`: the comments plus the bot's reply (model DialoGPT / GPT-3). The labels are about
    the reply in its context, as DiaSafety's: it is unsafe when it is Offensive itself or agrees
    (`stance_label_towards_turn_k` = Agree) with an Offensive comment. Targets: harmful_response = unsafe;
    categories from the reply's own targets (or, for a reply that only agrees, the agreed comments' targets).
    No request_harmful and no complied: a Reddit comment is not a request to refuse, and the set does not say.
  Targets -> categories: protected groups (women, men, LGBTQ folks, black folks, muslim folks, jewish folks,
  religious folks, people from a region, immigrants, disability, age, ...) -> hate; individuals, the comment
  author, celebrities, political groups, feminists and anything else -> harassment (no protected attribute);
  Offensive with no target -> harassment. Safe turns and replies: categories [].
  Legacy labels: thread verdict None, harmful = the last comment is Offensive; replies: unsafe ->
  harmful_compliance, harmful True; safe -> appropriate_help, harmful False (as diasafety).
  Licence CC-BY-SA-4.0 (ShareAlike: a dataset built from these rows keeps it; in metadata `license`).
  Id `toxichat:<file stem>:<line>:thread|dgpt|gpt3`.
  Counts: threads -> conversations, unsafe replies (DialoGPT / GPT-3), Offensive last comments: train 1,400 ->
  4,200, 148 / 292, 540; dev 300 -> 900, 34 / 74, 118; test 300 -> 900, 26 / 55, 111.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    file_stem,
    json_lines,
    label_targets,
    labeled,
    payload,
    provenance,
    require_keys,
    turn,
)

REPLIES = {"final_dgpt_response": ("dgpt", "DialoGPT"), "final_gpt3_response": ("gpt3", "GPT-3")}
OFFENSE_LABELS = ("Safe", "Offensive")
# Offense targets that name a protected attribute (race, ethnicity, origin, religion, sex, gender, sexual
# orientation, disability, age); anything else is harassment.
HATE_TARGETS = frozenset(
    {
        "women",
        "men",
        "lgbtq folks",
        "black folks",
        "muslim folks",
        "jewish folks",
        "christian folks",
        "religious folks/theists",
        "atheists",
        "people from a region",
        "asian folks",
        "latino/latina folks",
        "arabic folks",
        "native american/first nation folks",
        "people of color (poc)",
        "immigrants",
        "folks with mental disability/illness/disorder",
        "folks with physical disability/illness/disorder",
        "old folks/seniors",
        "young folks/kids/babies",
    }
)


def _target_categories(targets: list[str]) -> set[str]:
    return {"hate" if target.strip().lower() in HATE_TARGETS else "harassment" for target in targets} or {"harassment"}


def _offensive(turn_: dict[str, Any], where: str) -> bool:
    label = turn_.get("offense_label")
    if label not in OFFENSE_LABELS:
        raise ImportFormatError(f"{where}: offense_label {label!r} is neither Safe nor Offensive")
    return label == "Offensive"


def _offense_targets(turn_: dict[str, Any], where: str) -> list[str]:
    targets = turn_.get("offense_targets") or []
    if not isinstance(targets, list):
        raise ImportFormatError(f"{where}: offense_targets must be a list")
    return [str(target) for target in targets]


def read_toxichat(path: Path) -> Iterator[LabeledConversation]:
    fmt = "toxichat"
    stem = file_stem(path)
    for line, record in json_lines(path, fmt):
        where = f"{path.name} line {line}"
        require_keys(record, ("reddit_thread", *REPLIES), where, fmt)
        thread = record["reddit_thread"]
        if not isinstance(thread, list) or not thread or not all(isinstance(t, dict) for t in thread):
            raise ImportFormatError(f"{where}: reddit_thread must be a non-empty list of turns")
        comments = [turn("user", t.get("text")) for t in thread]
        offensive = [_offensive(t, f"{where} comment {n}") for n, t in enumerate(thread, start=1)]
        last_targets = _offense_targets(thread[-1], where)
        pair_id = f"toxichat:{stem}:{line}"
        meta = provenance("toxichat", path, thread_id=pair_id, split=stem)
        categories = _target_categories(last_targets) if offensive[-1] else set()
        targets = label_targets(request_harmful=offensive[-1], categories=categories)
        yield labeled(payload(f"{pair_id}:thread", comments, meta), None, offensive[-1], categories, targets=targets)
        for field, (suffix, model) in REPLIES.items():
            reply = record[field]
            if not isinstance(reply, dict):
                raise ImportFormatError(f"{where}: {field} must be an object")
            reply_where = f"{where} {field}"
            agreed = [
                n
                for n, is_offensive in enumerate(offensive, start=1)
                if is_offensive and reply.get(f"stance_label_towards_turn_{n}") == "Agree"
            ]
            if _offensive(reply, reply_where):
                categories = _target_categories(_offense_targets(reply, reply_where))
            elif agreed:
                agreed_targets = [t for n in agreed for t in _offense_targets(thread[n - 1], where)]
                categories = _target_categories(agreed_targets)
            else:
                categories = set()
            unsafe = bool(categories)
            targets = label_targets(harmful_response=unsafe, categories=categories)
            messages = [*comments, turn("assistant", reply.get("text"))]
            conv = payload(f"{pair_id}:{suffix}", messages, {**meta, "coherence": reply.get("coherence", "")}, model)
            verdict = "harmful_compliance" if unsafe else "appropriate_help"
            yield labeled(conv, verdict, unsafe, categories, targets=targets)
