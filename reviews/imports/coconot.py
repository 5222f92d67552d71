"""CoCoNot (Brahman et al. 2024): prompts a model should not fully comply with, and look-alikes it should.

`coconot` reads three files; the file name says which (as jbb-behaviors does):
* `coconot_eval.jsonl` (name without "contrast" or "pref"): 1,001 prompts that should not be fully complied
  with. Only category "Requests with safety concerns" is a harm label: request_harmful 1, with categories by
  subcategory: misinformation -> misinformation; privacy violations -> privacy (+ fraud or cyber by keyword: fake
  licences, hacking); triggers for offensive language -> hate (+ harassment by keyword); dangerous or sensitive
  topics and wildchats -> the keyword rules (broad) plus a few of this set's own words (sex, nude, kinky ... ->
  sexual-content), absent where none matches; copyright violations -> no category and trainable=False, as
  HarmBench's copyright rows (a policy question outside the safety taxonomy). The other categories (incomplete,
  unsupported, indeterminate and humanizing requests) should not be complied with for reasons other than harm:
  request_harmful 0, categories [].
* `coconot_contrast_eval.jsonl` ("contrast" in the name): 379 look-alike prompts that should be complied with
  (the over-refusal test): request_harmful 0, categories [].
* `coconot_pref.jsonl` ("pref" in the name): 927 contrast prompts, each with a `chosen` (GPT-4) and a `rejected`
  reply -> two conversations, `...-chosen` / `...-rejected`. Targets: request_harmful 0 only. The preference is
  about helpfulness ("rejected" is often worse or over-cautious, not more harmful), so it is not given as the
  contract's `pair` (whose loss says the rejected reply is the more harmful one); metadata `pair_id` and
  `preferred` keep it for evaluation. No complied: the set does not say whether either reply refused.
Legacy labels: verdict None; harmful = request_harmful. Metadata: category, subcategory.
Id `coconot:<id>` (`coconot:<id>-chosen|-rejected` for pairs). Counts: eval 1,001 (362 harmful + 33 copyright
untrainable + 606 not harmful); contrast 379; pref 927 -> 1,854.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    harm_categories,
    json_lines,
    label_targets,
    labeled,
    payload,
    provenance,
    require_keys,
    turn,
)
from reviews.imports.keywords import keyword_categories

SAFETY = "Requests with safety concerns"
COPYRIGHT = "copyright violations"
SUBCATEGORIES = {
    "misinformation": {"misinformation"},
    "privacy violations": {"privacy"},
    "triggers for offensive language": {"hate"},
}
KEEP_BY_KEYWORD = {
    "privacy violations": {"fraud", "cyber"},
    "triggers for offensive language": {"harassment"},
}
# Words the shared keyword rules leave out and this set's wild prompts use.
_SEXUAL = re.compile(
    r"\b(?:sex\w*|nude|naked|nsfw|kinky|orgasm\w*|erotica|hentai|yaoi|yuri|sissy|fuck\w*|horny|masturbat\w*|lust)\b",
    re.IGNORECASE,
)


def _kind(path: Path) -> str:
    name = path.name.lower()
    if "pref" in name:
        return "pref"
    if "contrast" in name:
        return "contrast"
    if "eval" in name:
        return "eval"
    raise ImportFormatError(
        f"{path.name}: coconot needs 'eval', 'contrast' or 'pref' in the file name to know the label "
        "(coconot_eval.jsonl / coconot_contrast_eval.jsonl / coconot_pref.jsonl)"
    )


def _categories(subcategory: str, prompt: str) -> set[str]:
    if subcategory in SUBCATEGORIES:
        return SUBCATEGORIES[subcategory] | (keyword_categories(prompt) & KEEP_BY_KEYWORD.get(subcategory, set()))
    found = keyword_categories(prompt, broad=True)
    if _SEXUAL.search(prompt):
        found.add("sexual-content")
    return found


def read_coconot(path: Path) -> Iterator[LabeledConversation]:
    fmt = "coconot"
    kind = _kind(path)
    fields = ("id", "category", "subcategory", "prompt", *(("chosen", "rejected") if kind == "pref" else ()))
    for line, record in json_lines(path, fmt):
        where = f"{path.name} line {line}"
        require_keys(record, fields, where, fmt)
        category, subcategory = str(record["category"]).strip(), str(record["subcategory"]).strip()
        meta = provenance("coconot", path, category=category, subcategory=subcategory)
        prompt = turn("user", record["prompt"])
        if not prompt["content"]:
            raise ImportFormatError(f"{where}: empty prompt")
        external_id = f"coconot:{str(record['id']).strip()}"
        if kind == "pref":
            for side in ("chosen", "rejected"):
                side_meta = {**meta, "pair_id": external_id, "preferred": side == "chosen"}
                side_meta["reply_model"] = str(record.get(f"{side}_model") or "")
                messages = [prompt, turn("assistant", record[side])]
                conv = payload(f"{external_id}-{side}", messages, side_meta)
                yield labeled(conv, None, False, (), targets=label_targets(request_harmful=False))
            continue
        harmful = kind == "eval" and category == SAFETY
        if harmful and subcategory == COPYRIGHT:
            yield labeled(payload(external_id, [prompt], meta), None, True, (), severity=1, trainable=False)
            continue
        categories = _categories(subcategory, prompt["content"]) if harmful else set()
        targets = label_targets(request_harmful=harmful, categories=harm_categories(harmful, categories))
        yield labeled(payload(external_id, [prompt], meta), None, harmful, categories, targets=targets)
