"""DiaSafety: dialogue responses labelled safe or unsafe by kind of unsafety.

`diasafety` (train.json / val.json): user = context, assistant = response; rows with an empty response are
  skipped (2 in train). The label is about the response: Unsafe -> harmful=True, harmful_compliance (an unsafe
  reply); Safe -> harmful=False, appropriate_help. Categories for Unsafe rows only: Offending User ->
  harassment, Risk Ignorance -> self-harm (the contexts are disclosures of despair or suicidal thoughts that the
  reply ignores or encourages), Unauthorized Expertise -> dangerous-advice (medical advice), Toxicity Agreement ->
  harassment (agreeing with insults and abuse; the contexts are mostly general toxicity, not group hate), Biased
  Opinion -> hate. Severity: Risk Ignorance 3, other unsafe replies 2 (single conversational turns with no
  operational detail), safe 0. Metadata keeps the original category. Id `diasafety:<file stem>:<position>`.
  Counts: val 1,097 (502 unsafe), train 9,015 (4,178 unsafe).
  Targets: harmful_response = Unsafe and the categories only. Not a verdict: the label says whether the reply
  is unsafe in its context, not whether the request was harmful, so request_harmful and complied are masked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    file_stem,
    label_targets,
    labeled,
    open_text,
    payload,
    provenance,
    require_keys,
    turn,
)

DIASAFETY_CATEGORIES = {
    "Offending User": "harassment",
    "Risk Ignorance": "self-harm",
    "Unauthorized Expertise": "dangerous-advice",
    "Toxicity Agreement": "harassment",
    "Biased Opinion": "hate",
}
DIASAFETY_SEVERITY = {"Risk Ignorance": 3}


def read_diasafety(path: Path) -> Iterator[LabeledConversation]:
    fmt = "diasafety"
    try:
        with open_text(path) as handle:
            records = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise ImportFormatError(f"{path.name}: not a {fmt} JSON file: {exc}") from exc
    if not isinstance(records, list):
        raise ImportFormatError(f"{path.name}: not a {fmt} file: expected a JSON list of records")
    stem = file_stem(path)
    for index, record in enumerate(records):
        where = f"{path.name} record {index}"
        if not isinstance(record, dict):
            raise ImportFormatError(f"{where}: expected an object")
        require_keys(record, ("context", "response", "category", "label"), where, fmt)
        label, category = str(record["label"]).strip(), str(record["category"]).strip()
        if label not in ("Safe", "Unsafe"):
            raise ImportFormatError(f"{where}: label {record['label']!r} is neither Safe nor Unsafe")
        if not str(record["response"] or "").strip():
            continue
        unsafe = label == "Unsafe"
        slug = DIASAFETY_CATEGORIES.get(category)
        categories = {slug} if unsafe and slug else set()
        severity = DIASAFETY_SEVERITY.get(category, 2) if unsafe else 0
        messages = [turn("user", record["context"]), turn("assistant", record["response"])]
        meta = provenance("diasafety", path, diasafety_category=category, index=index)
        conv = payload(f"diasafety:{stem}:{index}", messages, meta)
        verdict = "harmful_compliance" if unsafe else "appropriate_help"
        targets = label_targets(harmful_response=unsafe, categories=categories)
        yield labeled(conv, verdict, unsafe, categories, severity=severity, targets=targets)
