"""XSTest (Röttger et al.): exaggerated-safety prompts and model completions.

`xstest-prompts` (xstest_prompts.csv): one user turn. harmful = `label == "unsafe"`; verdict None; severity by
  category. Safe prompts get no categories. Unsafe prompts: `contrast_discr` -> hate, `contrast_privacy` ->
  privacy; the other contrast types (homonyms, figurative language, safe targets/contexts, definitions, historical
  events) are mostly violence, so they get the keyword rules over the prompt with violent-crime as the fallback:
  killing, assault, bombing ... -> violent-crime; drugs (coke, crack, weed, meth, LSD ...) -> dangerous-advice
  (as the demo data files drug dosing); crime for gain (fraud, laundering, identity theft, theft, robbery) ->
  fraud, the taxonomy's only slug for it (armed robbery is violent-crime too); self-directed harm (hang/drown
  myself, suicide, "die like Amy Winehouse") -> self-harm instead of violent-crime; bombs/guns/explosions ->
  weapons-cbrn (with violent-crime for attacks); pedophilia -> child-safety; protected groups (gay, Roma,
  immigrants, genocide ...) -> hate; denial of atrocities -> misinformation instead of violent-crime.
  Counts (450): 250 safe, 200 unsafe; violent-crime 116, hate 35, privacy 25, weapons-cbrn 13, fraud 10,
  self-harm 9, dangerous-advice 9, misinformation 4, child-safety 1. Id `xstest:<id>`.
`xstest-completions` (model_completions/*.csv and automated_evaluation_labels/*.csv): user prompt + model reply.
  The label is the human `final_label`: 1_full_compliance = complied; 2_full_refusal and 3_partial_refusal =
  refused. The prompt is unsafe iff its `type` starts with `contrast_` (the 200 unsafe prompts of
  xstest_prompts.csv are exactly the eight contrast types). Verdict from the safety grid; categories as
  xstest-prompts for unsafe prompts, none for safe ones. The model is taken from the file name
  (`xstest_v2_completions_<model>[_gpteval|_streval].csv`); the automated judge's label, when the file has one,
  goes to metadata `automated_labels` (a baseline, not ground truth). Id `xstest:<model>:<id>`. Verdicts for gpt4:
  appropriate_help 229, appropriate_refusal 199, over_refusal 21, harmful_compliance 1.
Targets: prompts: request_harmful and categories ([] for safe prompts). Completions: request_harmful, complied
  (1_full_compliance 1, 2_full_refusal 0, 3_partial_refusal 0.5), harmful_response = request_harmful and complied
  where complied is 0 or 1 (masked for a partial refusal), categories.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    csv_rows,
    file_stem,
    grid_targets,
    label_targets,
    labeled,
    payload,
    provenance,
    turn,
    verdict_for,
)
from reviews.imports.keywords import keyword_categories

XSTEST_PROMPT_COLUMNS = ("id", "prompt", "type", "label")
XSTEST_COMPLETION_COLUMNS = ("id", "type", "prompt", "completion", "final_label")
XSTEST_COMPLIANCE = {"1_full_compliance": 1, "2_full_refusal": 0, "3_partial_refusal": 0.5}  # targets
XSTEST_COMPLIED = {"1_full_compliance": True, "2_full_refusal": False, "3_partial_refusal": False}
XSTEST_AUTOMATED_COLUMNS = ("gpt4_label", "strmatch_label")


def _xstest_categories(prompt: str, xstest_type: str) -> set[str]:
    """Categories of an unsafe XSTest prompt (see the module docstring)."""
    if xstest_type == "contrast_discr":
        return {"hate"}
    if xstest_type == "contrast_privacy":
        return {"privacy"}
    found = keyword_categories(prompt)
    if found & {"self-harm", "misinformation"}:  # harm to oneself; denying an atrocity is not committing one
        found.discard("violent-crime")
    return found or {"violent-crime"}


def read_xstest_prompts(path: Path) -> Iterator[LabeledConversation]:
    fmt = "xstest-prompts"
    for line, row in csv_rows(path, fmt, XSTEST_PROMPT_COLUMNS):
        label = row["label"].strip().lower()
        if label not in ("safe", "unsafe"):
            raise ImportFormatError(f"{path.name} line {line}: label {row['label']!r} is neither safe nor unsafe")
        harmful = label == "unsafe"
        categories = _xstest_categories(row["prompt"], row["type"]) if harmful else set()
        meta = provenance("xstest", path, xstest_id=row["id"], xstest_type=row["type"], focus=row.get("focus", ""))
        conv = payload(f"xstest:{row['id']}", [turn("user", row["prompt"])], meta)
        yield labeled(
            conv, None, harmful, categories, targets=label_targets(request_harmful=harmful, categories=categories)
        )


def _xstest_model(path: Path) -> str:
    match = re.search(r"completions_(?P<model>.+?)(?:_(?:gpteval|streval))?$", file_stem(path))
    return match.group("model") if match else file_stem(path)


def read_xstest_completions(path: Path) -> Iterator[LabeledConversation]:
    fmt = "xstest-completions"
    model = _xstest_model(path)
    for line, row in csv_rows(path, fmt, XSTEST_COMPLETION_COLUMNS):
        final = row["final_label"].strip()
        if final not in XSTEST_COMPLIED:
            raise ImportFormatError(
                f"{path.name} line {line}: final_label {final!r} is not one of {', '.join(XSTEST_COMPLIED)}"
            )
        harmful = row["type"].startswith("contrast_")
        verdict = verdict_for(harmful, XSTEST_COMPLIED[final])
        categories = _xstest_categories(row["prompt"], row["type"]) if harmful else set()
        automated = {column: row[column] for column in XSTEST_AUTOMATED_COLUMNS if row.get(column)}
        extra = {"automated_labels": automated} if automated else {}
        meta = provenance("xstest", path, xstest_id=row["id"], xstest_type=row["type"], **extra)
        messages = [turn("user", row["prompt"]), turn("assistant", row["completion"])]
        conv = payload(f"xstest:{model}:{row['id']}", messages, meta, model=model)
        targets = grid_targets(request_harmful=harmful, complied=XSTEST_COMPLIANCE[final], categories=categories)
        yield labeled(conv, verdict, harmful, categories, targets=targets)
