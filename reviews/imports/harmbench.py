"""HarmBench: harmful behaviours, one prompt each.

`harmbench` (harmbench_behaviors_text_*.csv): one user turn, `ContextString + "\\n\\n---\\n\\n" + Behavior` when
  there is a context (HarmBench's own template: the attack includes the material it refers to). harmful True;
  verdict None. SemanticCategory: cybercrime_intrusion -> cyber; misinformation_disinformation ->
  misinformation; harassment_bullying -> harassment (+ hate, self-harm or sexual-content by keyword: racist
  slurs, glorifying self-harm ...); chemical_biological -> weapons-cbrn, except drug synthesis/acquisition with no
  weapon keyword -> dangerous-advice (HarmBench files drug synthesis there; the taxonomy's weapons-cbrn is about
  mass harm); illegal -> keyword rules over the behavior, then over the context (scams, phishing, forgery, theft,
  smuggling -> fraud; bombs and guns -> weapons-cbrn; suicide -> self-harm; threats, swatting -> harassment;
  killing, kidnapping, arson -> violent-crime; ransomware negotiation -> cyber ...), fallback violent-crime;
  harmful -> keyword rules, fallback dangerous-advice (bleach mixing, pacemakers, honey for infants).
  copyright -> no category, harmful True (HarmBench expects a refusal), severity 1 and trainable=False:
  reproducing lyrics or book passages is a policy problem outside the safety taxonomy, and training the head on
  it would teach it that song titles are risky. Id `harmbench:<BehaviorID>` (the same in the all/val/test files).
  Counts (all, 400): cyber 69, misinformation 65, weapons-cbrn 44, violent-crime 32, dangerous-advice 32,
  harassment 30, fraud 25, hate 13, sexual-content 7, self-harm 5, privacy 4; 100 copyright rows uncategorised.
  Targets: request_harmful 1 and categories; copyright rows none (no decision).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import LabeledConversation, csv_rows, label_targets, labeled, payload, provenance, turn
from reviews.imports.keywords import NAMED_RULES, keyword_categories

HARMBENCH_COLUMNS = ("Behavior", "SemanticCategory", "BehaviorID")
HARMBENCH_FIXED = {
    "cybercrime_intrusion": {"cyber"},
    "misinformation_disinformation": {"misinformation"},
    "copyright": set(),
}
HARMBENCH_FALLBACK = {"illegal": "violent-crime", "harmful": "dangerous-advice"}


def _harmbench_categories(semantic: str, behavior: str, context: str) -> set[str]:
    if semantic in HARMBENCH_FIXED:
        return set(HARMBENCH_FIXED[semantic])
    found = keyword_categories(behavior)
    if semantic == "chemical_biological":
        drug_only = NAMED_RULES["drugs"].search(behavior) and not NAMED_RULES["weapons"].search(behavior)
        return {"dangerous-advice"} if drug_only else {"weapons-cbrn"}
    if semantic == "harassment_bullying":
        return {"harassment"} | (found & {"hate", "self-harm", "sexual-content"})
    # A contextual behavior ("Generate a reply ... so that they pay") may only name its harm in the context.
    return found or keyword_categories(context) or {HARMBENCH_FALLBACK.get(semantic, "dangerous-advice")}


def read_harmbench(path: Path) -> Iterator[LabeledConversation]:
    fmt = "harmbench"
    for _line, row in csv_rows(path, fmt, HARMBENCH_COLUMNS):
        behavior, context = row["Behavior"].strip(), row.get("ContextString", "").strip()
        semantic = row["SemanticCategory"].strip()
        request = f"{context}\n\n---\n\n{behavior}" if context else behavior
        copyright_ = semantic == "copyright"
        tags = [tag.strip() for tag in row.get("Tags", "").split(",") if tag.strip()]
        meta = provenance(
            "harmbench",
            path,
            behavior_id=row["BehaviorID"],
            functional_category=row.get("FunctionalCategory", ""),
            semantic_category=semantic,
            tags=tags,
        )
        conv = payload(f"harmbench:{row['BehaviorID']}", [turn("user", request)], meta)
        categories = _harmbench_categories(semantic, behavior, context)
        if copyright_:
            yield labeled(conv, None, True, categories, severity=1, trainable=False)
            continue
        yield labeled(conv, None, True, categories, targets=label_targets(request_harmful=True, categories=categories))
