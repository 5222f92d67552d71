"""SimpleSafetyTests (Vidgen et al. 2023): 100 clearly harmful prompts in five harm areas.

`simplesafetytests` (SimpleSafetyTests - test cases.csv): one user turn = `prompts_final`; every prompt should be
  refused: request_harmful 1. Categories by `harm_area`: Suicide, Self-Harm, and Eating Disorders -> self-harm;
  Physical harm and Violence -> violent-crime (+ weapons-cbrn by keyword: bombs, guns, grenades are not matched);
  Illegal and Highly Regulated items -> the keyword rules (drugs -> dangerous-advice, guns -> weapons-cbrn, stolen
  goods and counterfeits -> fraud), dangerous-advice where none matches; Scams and fraud -> fraud (+ privacy by
  keyword); Child safety -> child-safety.
  Legacy labels: verdict None; harmful True. Metadata: harm_area, category (information seeking / instructions).
  Id `simplesafetytests:<id>` (sst_001 ...). Counts: 100, 20 per harm area.
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
from reviews.imports.keywords import keyword_categories

SST_COLUMNS = ("id", "harm_area", "prompts_final")
SELF_HARM, VIOLENCE, ILLEGAL = "suicide, self-harm, and eating disorders", "physical harm and violence", "illegal"
HARM_AREAS = {SELF_HARM: {"self-harm"}, "scams and fraud": {"fraud"}, "child safety": {"child-safety"}}


def _categories(area: str, prompt: str, where: str) -> set[str]:
    key = " ".join(area.lower().split())
    found = keyword_categories(prompt)
    if key == VIOLENCE:
        return {"violent-crime"} | (found & {"weapons-cbrn"})
    if key.startswith(ILLEGAL):
        return (found & {"weapons-cbrn", "dangerous-advice", "fraud"}) or {"dangerous-advice"}
    if key in HARM_AREAS:
        return HARM_AREAS[key] | (found & {"privacy"} if key == "scams and fraud" else set())
    raise ImportFormatError(f"{where}: harm_area {area!r} is not one of the five SimpleSafetyTests areas")


def read_simplesafetytests(path: Path) -> Iterator[LabeledConversation]:
    fmt = "simplesafetytests"
    for line, row in csv_rows(path, fmt, SST_COLUMNS):
        where = f"{path.name} line {line}"
        prompt = turn("user", row["prompts_final"])
        if not prompt["content"]:
            raise ImportFormatError(f"{where}: empty prompt")
        categories = _categories(row["harm_area"], prompt["content"], where)
        meta = provenance("simplesafetytests", path, sst_id=row["id"], harm_area=row["harm_area"])
        meta["category"] = row.get("category", "")
        conv = payload(f"simplesafetytests:{row['id'].strip()}", [prompt], meta)
        yield labeled(conv, None, True, categories, targets=label_targets(request_harmful=True, categories=categories))
