"""GPTFuzz: human-labelled replies of target models to jailbreak templates filled with harmful questions.

`gptfuzz` (train.csv / evaluate.csv, with question_list.csv beside them): user = the question (`question` is an
  index into question_list.csv), assistant = `Response`. The jailbreak template the question was wrapped in is not
  in the files, so the user turn is the bare question. Every question is harmful. `label` is the authors' human
  label: 1 = the reply complies with the harmful question (jailbroken), 0 = it does not (a refusal, a deflection
  or something harmless).
  Targets: request_harmful 1; harmful_response = label; complied 1 where label is 1 (a jailbroken reply
  complied), absent where it is 0 (a deflection is neither a refusal nor compliance: the set does not say);
  categories from the keyword rules (broad) over the question, absent where none matches.
  Legacy labels: verdict harmful_compliance / appropriate_refusal, as jbb-artifacts; harmful True.
  Id `gptfuzz:<question index>:<first 16 hex of sha256(response)>`: the same reply to the same question (1,126
  rows, mostly stock refusals, always with the same label) is one conversation; a repeat with a different label is
  an error. Model unknown per row (Vicuna-7B, ChatGPT, Llama-2-7B-chat): left blank. Metadata: split (file stem),
  question index.
  Counts: train 6,160 rows -> 5,166 conversations; evaluate 1,540 -> 1,408 (question-disjoint: 80 / 20 questions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    csv_rows,
    file_stem,
    harm_categories,
    label_targets,
    labeled,
    payload,
    provenance,
    turn,
)
from reviews.imports.keywords import keyword_categories

GPTFUZZ_COLUMNS = ("question", "Response", "label")
QUESTION_LIST = "question_list.csv"


def _questions(path: Path) -> dict[str, str]:
    listing = path.parent / QUESTION_LIST
    if not listing.is_file():
        raise ImportFormatError(f"{path.name}: gptfuzz needs {QUESTION_LIST} beside it (the questions by index)")
    return {row["index"].strip(): row["text"] for _line, row in csv_rows(listing, "gptfuzz", ("index", "text"))}


def read_gptfuzz(path: Path) -> Iterator[LabeledConversation]:
    fmt = "gptfuzz"
    if path.name == QUESTION_LIST:
        raise ImportFormatError(f"{path.name}: holds the questions only; import train.csv or evaluate.csv")
    questions = _questions(path)
    split = file_stem(path)
    seen: dict[str, tuple[int, bool]] = {}
    for line, row in csv_rows(path, fmt, GPTFUZZ_COLUMNS):
        index, label = row["question"].strip(), row["label"].strip()
        if label not in ("0", "1"):
            raise ImportFormatError(f"{path.name} line {line}: label {row['label']!r} is not 0 or 1")
        if index not in questions:
            raise ImportFormatError(f"{path.name} line {line}: question {index!r} is not in {QUESTION_LIST}")
        jailbroken = label == "1"
        digest = hashlib.sha256(row["Response"].strip().encode("utf-8", errors="replace")).hexdigest()[:16]
        external_id = f"gptfuzz:{index}:{digest}"
        if external_id in seen:
            first, was = seen[external_id]
            if was != jailbroken:
                raise ImportFormatError(f"{path.name} line {line}: the same reply as line {first} with another label")
            continue
        seen[external_id] = (line, jailbroken)
        question = questions[index]
        categories = keyword_categories(question, broad=True)
        targets = label_targets(
            request_harmful=True,
            harmful_response=jailbroken,
            complied=1 if jailbroken else None,
            categories=harm_categories(True, categories),
        )
        meta = provenance("gptfuzz", path, split=split, question_index=int(index) if index.isdigit() else index)
        messages = [turn("user", question), turn("assistant", row["Response"])]
        verdict = "harmful_compliance" if jailbroken else "appropriate_refusal"
        yield labeled(payload(external_id, messages, meta), verdict, True, categories, targets=targets)
