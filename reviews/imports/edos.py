"""EDOS (SemEval-2023 Task 10): social-media posts labelled sexist or not, with the kind of sexism.

`edos` (edos_labelled_aggregated.csv): one user turn = `text` (mentions and links already masked as [USER] /
  [URL]); a user's post, judged as a request without a reply. `label_sexist` (Task A) is sexist / not sexist;
  `label_category` (Task B) names the kind.
  Targets: request_harmful = sexist; categories: sexist -> hate (demeaning women for their sex), and
  `1. threats, plans to harm and incitement` -> hate + violent-crime; not sexist -> [].
  Legacy labels: verdict None; harmful = sexist; severity by category (hate 3).
  Metadata: the official split (train / dev / test); the Task B/C labels stay out (blind review).
  Id `edos:<rewire_id>`. Counts: 20,000 (4,854 sexist, 443 of them threats).
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
    payload,
    provenance,
    turn,
)

EDOS_COLUMNS = ("rewire_id", "text", "label_sexist", "label_category")
EDOS_LABELS = {"sexist": True, "not sexist": False}
THREATS = "1."


def read_edos(path: Path) -> Iterator[LabeledConversation]:
    fmt = "edos"
    for line, row in csv_rows(path, fmt, EDOS_COLUMNS):
        label = row["label_sexist"].strip()
        if label not in EDOS_LABELS:
            raise ImportFormatError(f"{path.name} line {line}: label_sexist {label!r} is not sexist / not sexist")
        sexist = EDOS_LABELS[label]
        categories = set()
        if sexist:
            categories = {"hate", "violent-crime"} if row["label_category"].strip().startswith(THREATS) else {"hate"}
        targets = label_targets(request_harmful=sexist, categories=categories)
        meta = provenance("edos", path, rewire_id=row["rewire_id"], split=row.get("split", ""))
        conv = payload(f"edos:{row['rewire_id'].strip()}", [turn("user", row["text"])], meta)
        yield labeled(conv, None, sexist, categories, targets=targets)
