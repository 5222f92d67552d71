"""ConvAbuse: users' abuse of conversational agents, labelled by several annotators.

`convabuse` (ConvAbuseEMNLP*.csv): the turns prev_agent, prev_user, agent, user (assistant, user, assistant,
  user; "_" marks a missing turn and is dropped; the one row with no text at all is skipped), so the
  conversation ends with the user message that was annotated; model = bot. Each annotator has one vote; an
  annotator who labelled a row more than once (cells such as "1, 0") has the vote split evenly over those
  annotations. harmful = the abusive (-1/-2/-3) votes are a strict majority of the votes of annotators who
  labelled the row ("0", ambiguous, counts against). For abusive rows: severity = mean strength of the abusive
  votes (-1 -> 1, -2 -> 2, -3 -> 3), rounded half up; categories = the types a strict majority of the abusive
  votes chose, mapped racist / homophobic / transphobic / ableist -> hate and sexist / sex_harassment /
  intellectual -> harassment, falling back to harassment.
  verdict None (this is user-side abuse; there may be no reply to judge). A row nobody labelled would be
  harmful=False with trainable=False. Id `convabuse:<example_id>` (unique across the splits).
  Counts: valid 831 (112 abusive: harassment 107, hate 5), train 2,500 (338 abusive).
  Targets: request_harmful = harmful (of the last user turn, the conversation's judged turn) and categories;
  a row nobody labelled has none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    csv_rows,
    label_targets,
    labeled,
    payload,
    provenance,
    turn,
)

CONVABUSE_COLUMNS = ("example_id", "prev_agent", "prev_user", "agent", "user", "bot")
CONVABUSE_LEVELS = ("1", "0", "-1", "-2", "-3")
CONVABUSE_TYPES = {
    "ableist": "hate",
    "homophobic": "hate",
    "racist": "hate",
    "transphobic": "hate",
    "sexist": "harassment",
    "sex_harassment": "harassment",
    "intellectual": "harassment",
}
_ANNOTATOR = re.compile(r"^Annotator(\d+)_is_abuse\.")


def _cell_values(cell: str) -> list[bool]:
    """A cell is "", "1", "0" or, for an annotator who labelled the row more than once, "1, 0"."""
    values = []
    for token in cell.split(","):
        token = token.strip()
        if not token or token.lower() == "nan":
            continue
        try:
            values.append(float(token) == 1)
        except ValueError:
            values.append(False)
    return values


@dataclass(frozen=True)
class _AbuseVotes:
    total: Fraction  # annotators who labelled the row
    abusive: Fraction  # their votes for -1/-2/-3
    strength: Fraction  # sum of weight * strength (1..3) over abusive votes
    types: dict[str, Fraction]  # abusive votes that chose each type


def _abuse_votes(row: dict[str, str], annotators: list[int]) -> _AbuseVotes:
    total = abusive = strength = Fraction(0)
    types: dict[str, Fraction] = {}
    for annotator in annotators:
        prefix = f"Annotator{annotator}_"
        cells = {level: _cell_values(row.get(f"{prefix}is_abuse.{level}", "")) for level in CONVABUSE_LEVELS}
        count = max(len(values) for values in cells.values())
        chosen = []  # (level, annotation index) per annotation that picked a level
        for index in range(count):
            picked = [level for level in CONVABUSE_LEVELS if index < len(cells[level]) and cells[level][index]]
            if picked:
                chosen.append((int(picked[0]), index))
        if not chosen:
            continue
        weight = Fraction(1, len(chosen))
        total += 1
        for level, index in chosen:
            if level >= 0:
                continue
            abusive += weight
            strength += weight * -level
            for name in CONVABUSE_TYPES:
                marks = _cell_values(row.get(prefix + name, ""))
                if index < len(marks) and marks[index]:
                    types[name] = types.get(name, Fraction(0)) + weight
    return _AbuseVotes(total, abusive, strength, types)


def _convabuse_id(example_id: str) -> str:
    value = example_id.strip()
    return value[:-2] if value.endswith(".0") and value[:-2].isdigit() else value


def read_convabuse(path: Path) -> Iterator[LabeledConversation]:
    fmt = "convabuse"
    annotators: list[int] | None = None
    for _line, row in csv_rows(path, fmt, CONVABUSE_COLUMNS):
        if annotators is None:
            annotators = sorted({int(m.group(1)) for key in row if (m := _ANNOTATOR.match(key))})
            if not annotators:
                raise ImportFormatError(f"{path.name}: not a {fmt} file: no AnnotatorK_is_abuse.* columns")
        turns = [("assistant", "prev_agent"), ("user", "prev_user"), ("assistant", "agent"), ("user", "user")]
        messages = [turn(role, row[column]) for role, column in turns if row[column].strip() not in ("", "_")]
        if not messages:  # every turn is a "_" placeholder (1 row in train): nothing to show or label
            continue
        votes = _abuse_votes(row, annotators)
        harmful = votes.total > 0 and votes.abusive * 2 > votes.total
        categories: set[str] = set()
        severity = 0
        if harmful:
            mean = votes.strength / votes.abusive
            severity = min(3, max(1, int(mean + Fraction(1, 2))))
            chosen = [name for name, weight in votes.types.items() if weight * 2 > votes.abusive]
            categories = {CONVABUSE_TYPES[name] for name in chosen} or {"harassment"}
        example = _convabuse_id(row["example_id"])
        meta = provenance(
            "convabuse", path, example_id=example, conv_id=_convabuse_id(row.get("conv_id", "")), bot=row["bot"]
        )
        conv = payload(f"convabuse:{example}", messages, meta, model=row["bot"])
        if not votes.total:
            yield labeled(conv, None, False, (), trainable=False)
            continue
        targets = label_targets(request_harmful=harmful, categories=categories)
        yield labeled(conv, None, harmful, categories, severity=severity, targets=targets)
