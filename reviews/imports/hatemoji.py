"""Hatemoji (Kirk et al. 2022): emoji-based hate, as functional tests (HatemojiCheck) and adversarial examples
written against models (HatemojiBuild).

`hatemoji` reads both layouts, told apart by their columns: HatemojiCheck/test.csv (`case_id`, `functionality`)
  and HatemojiBuild/{train,validation,test}.csv (`entry_id`, `type`). One user turn = `text`, judged as a request
  without a reply. `label_gold` 1 = hateful, 0 = not.
  Targets: request_harmful = label_gold; categories for hateful rows: hate (every target is a protected group),
  plus violent-crime for Build's `threateninglanguage`; Build's derogation, animosity and dehumanizinglanguage ->
  hate; Check has no type (its threats are emoji verbs, 🔪 / 💣, no keyword rule reads), so hate only.
  Non-hateful rows -> [].
  Legacy labels: verdict None; harmful = label_gold.
  Metadata: Check's functionality, set and unrealistic_flags; Build's split, set, round and matched_id (the
  contrastive twin). The target group and Build's type stay out (they give the label away).
  Id `hatemoji:check:<case_id>` / `hatemoji:build:<entry_id>` (entry ids are unique over Build's three files).
  Counts: Check 3,930 (2,654 hateful); Build train 4,728 (2,387), validation 591 (270), test 593 (308).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    csv_rows,
    label_targets,
    labeled,
    open_text,
    payload,
    provenance,
    turn,
)

CHECK_COLUMNS = ("case_id", "text", "functionality", "label_gold")
BUILD_COLUMNS = ("entry_id", "text", "type", "label_gold")
BUILD_TYPES = {
    "derogation": {"hate"},
    "animosity": {"hate"},
    "dehumanizinglanguage": {"hate"},
    "threateninglanguage": {"hate", "violent-crime"},
    "none": set(),
}


def _layout(path: Path) -> str:
    try:
        with open_text(path) as handle:
            header = handle.readline()
    except (UnicodeDecodeError, OSError) as exc:
        raise ImportFormatError(f"{path.name}: cannot read as hatemoji CSV: {exc}") from exc
    columns = {column.strip().strip('"') for column in header.split(",")}
    if "case_id" in columns:
        return "check"
    if "entry_id" in columns:
        return "build"
    raise ImportFormatError(
        f"{path.name}: not a hatemoji file: neither HatemojiCheck (case_id, ...) nor HatemojiBuild (entry_id, ...)"
    )


def _label(row: dict[str, str], where: str) -> bool:
    value = row["label_gold"].strip()
    if value not in ("0", "1"):
        raise ImportFormatError(f"{where}: label_gold {row['label_gold']!r} is not 0 or 1")
    return value == "1"


def read_hatemoji(path: Path) -> Iterator[LabeledConversation]:
    fmt = "hatemoji"
    layout = _layout(path)
    for line, row in csv_rows(path, fmt, CHECK_COLUMNS if layout == "check" else BUILD_COLUMNS):
        where = f"{path.name} line {line}"
        hateful = _label(row, where)
        if layout == "check":
            categories = {"hate"} if hateful else set()
            extra = {"functionality": row["functionality"], "set": row.get("set", "")}
            extra["unrealistic_flags"] = row.get("unrealistic_flags", "")
            external_id = f"hatemoji:check:{row['case_id'].strip()}"
        else:
            kind = row["type"].strip()
            if kind not in BUILD_TYPES:
                raise ImportFormatError(f"{where}: type {kind!r} is not one of {', '.join(BUILD_TYPES)}")
            categories = (BUILD_TYPES[kind] or {"hate"}) if hateful else set()
            extra = {"split": row.get("split", ""), "set": row.get("set", ""), "round": row.get("round.set", "")}
            extra["matched_id"] = row.get("matched_id", "")
            external_id = f"hatemoji:build:{row['entry_id'].strip()}"
        targets = label_targets(request_harmful=hateful, categories=categories)
        meta = provenance("hatemoji", path, **extra)
        yield labeled(
            payload(external_id, [turn("user", row["text"])], meta), None, hateful, categories, targets=targets
        )
