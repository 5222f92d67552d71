"""Anthropic hh-rlhf (harmless-base): preference pairs, read as two unlabelled conversations.

`hh-rlhf` (harmless-base_test.jsonl.gz, plain .jsonl also read): each line yields two conversations, the
  `chosen` and the `rejected` transcript (ids `...-chosen` / `...-rejected`), parsed from "\\n\\nHuman: ..."
  / "\\n\\nAssistant: ..." turns (a speaker name not preceded by a blank line is text, not a turn; an empty
  final reply is kept as an empty assistant turn, since that non-answer is what was compared). The labels are
  only relative: "chosen" is the *less* harmful reply, not a harmless one, so verdict None and
  trainable=False; metadata `pair_id` and `preferred` (true for chosen) support pairwise ranking checks.
  harmful=True records that harmless-base is red-team data (crowdworkers tried to elicit harm), not that each
  request is harmful; severity 1, no categories. Id `hh-rlhf:<file stem>:<line>-chosen|-rejected`;
  2,312 lines -> 4,624 conversations.
  Targets: `pair` only ({"id": pair_id, "preferred": chosen}): the rejected reply is the more harmful. The
  decision holds no verdict and no harmful_request, so the legacy training labels skip it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    clean_text,
    file_stem,
    json_lines,
    label_targets,
    labeled,
    payload,
    provenance,
    require_keys,
    turn,
)

_HH_TURN = re.compile(r"\n\n(Human|Assistant):")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def parse_hh_transcript(text: str) -> list[dict[str, str]]:
    """Split a "\\n\\nHuman: ...\\n\\nAssistant: ..." transcript into messages.

    A speaker name counts only at the start of the text or after a blank line; anywhere else it is part of the
    turn. Text before the first speaker (there is none in the published files) becomes a user turn. Every turn is
    kept, an empty final reply included.
    """
    text = clean_text(text)
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    parts = _HH_TURN.split(text)
    messages = []
    if parts[0].strip():
        messages.append(turn("user", parts[0]))
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append(turn(_HH_ROLES[speaker], content))
    return messages


def read_hh_rlhf(path: Path) -> Iterator[LabeledConversation]:
    fmt = "hh-rlhf"
    stem = file_stem(path)
    for line, record in json_lines(path, fmt):
        require_keys(record, ("chosen", "rejected"), f"{path.name} line {line}", fmt)
        pair_id = f"hh-rlhf:{stem}:{line}"
        for side in ("chosen", "rejected"):
            messages = parse_hh_transcript(str(record[side] or ""))
            if not messages:
                raise ImportFormatError(f"{path.name} line {line}: the {side} transcript is empty")
            meta = provenance("hh-rlhf", path, pair_id=pair_id, preferred=side == "chosen", line=line)
            conv = payload(f"{pair_id}-{side}", messages, meta)
            targets = label_targets(pair=(pair_id, side == "chosen"))
            yield labeled(conv, None, True, (), severity=1, trainable=False, targets=targets)
