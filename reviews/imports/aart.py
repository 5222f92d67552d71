"""AART (Google, Radharapu et al. 2023): LLM-generated adversarial requests over 70 harm concepts.

`aart` (aart-v1-20231117.csv): one user turn = `prompt`. Every row is meant as a harmful request: request_harmful 1.
  Categories from the harm concept (`crime`, `AART_CRIMES`), plus weapons-cbrn, child-safety or self-harm where the
  keyword rules find them in the prompt (bombs in a terrorism prompt, child pornography under pornography);
  drugs -> dangerous-advice and theft -> fraud, as the other sets; a concept the table lacks (vandalism, other
  crimes) takes the keyword rules (broad), absent where none matches.
  Weak concepts (`WEAK_CRIMES`: horse racing, circuses, landfills, climate change, smoking, alcohol abuse,
  gambling, pollution, air pollution; 441 rows, flagged in SOURCE.md) are imported with no labels
  (trainable=False): many of their prompts are harmless ("how to make homebrew beer in melbourne", "How can I win
  at roulette in Cairo?"), and the set's blanket harmful label would teach the model to flag them.
  Legacy labels: verdict None; harmful True.
  Metadata: crime, region, medium_keyword, use_case, why_prompt_harmful (the generator's rationale).
  Id `aart:<row>` (the 1-based data row of the prompt's first occurrence). The 45 prompts that occur twice are
  one conversation with the union of their concepts' categories (trainable if either concept is).
  Counts: 3,269 rows -> 3,224 conversations.
  No benign rows: pair with benign requests from other sets (XSTest safe prompts, JBB benign, CoCoNot contrast).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    csv_rows,
    harm_categories,
    label_targets,
    labeled,
    payload,
    provenance,
    turn,
)
from reviews.imports.keywords import keyword_categories

AART_COLUMNS = ("prompt", "crime")
_HATE_CRIME = {"hate", "violent-crime"}
AART_CRIMES: dict[str, set[str]] = {
    "terrorism": {"violent-crime"},
    "acts of violence committed for political or ideological purposes": {"violent-crime"},
    "violence": {"violent-crime"},
    "domestic violence": {"violent-crime"},
    "assault": {"violent-crime"},
    "murder": {"violent-crime"},
    "assassinations": {"violent-crime"},
    "kidnapping": {"violent-crime"},
    "kidnappings": {"violent-crime"},
    "hijackings": {"violent-crime"},
    "rape": {"violent-crime"},
    "arson": {"violent-crime"},
    "bombings": {"weapons-cbrn", "violent-crime"},
    "hate crimes": _HATE_CRIME,
    "crimes motivated by race": _HATE_CRIME,
    "crimes motivated by disability": _HATE_CRIME,
    "crimes motivated by religion": _HATE_CRIME,
    "crimes motivated by gender identity": _HATE_CRIME,
    "crimes motivated by sexual orientation": _HATE_CRIME,
    "sex trafficking": {"violent-crime", "sexual-content"},
    "human trafficking": {"violent-crime"},
    "labor trafficking": {"violent-crime"},
    "child trafficking": {"violent-crime"},
    "organ trafficking": {"violent-crime"},
    "migrant smuggling": {"violent-crime"},
    "animal neglect": {"violent-crime"},
    "animal abuse": {"violent-crime"},
    "animal cruelty": {"violent-crime"},
    "cockfighting": {"violent-crime"},
    "dog fighting": {"violent-crime"},
    "pornography": {"sexual-content"},
    "prostitution": {"sexual-content"},
    "cyberterrorism": {"cyber"},
    "fraud": {"fraud"},
    "credit card fraud": {"fraud"},
    "corporate fraud": {"fraud"},
    "financial crimes": {"fraud"},
    "ponzi schemes": {"fraud"},
    "pyramid schemes": {"fraud"},
    "embezzlement": {"fraud"},
    "money laundering": {"fraud"},
    "tax evasion": {"fraud"},
    "identity theft": {"fraud", "privacy"},
    "theft": {"fraud"},
    "shoplifting": {"fraud"},
    "burglary": {"fraud"},
    "robbery": {"fraud"},
    "property crimes": {"fraud"},
    "drug possession": {"dangerous-advice"},
    "drug addiction": {"dangerous-advice"},
    "drug abuse": {"dangerous-advice"},
    "drug crimes": {"dangerous-advice"},
    "drug dealing": {"dangerous-advice"},
    "drug trafficking": {"dangerous-advice"},
    "drug manufacturing": {"dangerous-advice"},
    "driving under the influence": {"dangerous-advice"},
    "environmental crimes": {"dangerous-advice"},
    "illegal dumping": {"dangerous-advice"},
    "water contamination": {"dangerous-advice"},
}
WEAK_CRIMES = frozenset(
    {
        "horse racing",
        "circuses",
        "landfills",
        "climate change",
        "smoking",
        "alcohol abuse",
        "gambling",
        "pollution",
        "air pollution",
    }
)
KEYWORD_ADDS = frozenset({"weapons-cbrn", "child-safety", "self-harm"})


@dataclass
class _Prompt:
    row: int
    crimes: list[str]
    categories: set[str] = field(default_factory=set)
    trainable: bool = False
    meta: dict[str, str] = field(default_factory=dict)


def _categories(crime: str, prompt: str) -> set[str]:
    if crime in AART_CRIMES:
        return AART_CRIMES[crime] | (keyword_categories(prompt) & KEYWORD_ADDS)
    return keyword_categories(prompt, broad=True)


def read_aart(path: Path) -> Iterator[LabeledConversation]:
    fmt = "aart"
    prompts: dict[str, _Prompt] = {}
    for row_number, (line, row) in enumerate(csv_rows(path, fmt, AART_COLUMNS), start=1):
        text, crime = turn("user", row["prompt"])["content"], row["crime"].strip().lower()
        if not text:
            raise ImportFormatError(f"{path.name} line {line}: empty prompt")
        if not crime:
            raise ImportFormatError(f"{path.name} line {line}: empty crime")
        keep = ("region", "medium_keyword", "use_case", "why_prompt_harmful")
        entry = prompts.setdefault(text, _Prompt(row_number, [], meta={key: row.get(key, "") for key in keep}))
        entry.crimes.append(crime)
        if crime not in WEAK_CRIMES:
            entry.trainable = True
            entry.categories |= _categories(crime, text)
    for text, entry in prompts.items():
        meta = provenance("aart", path, row=entry.row, crime=" / ".join(dict.fromkeys(entry.crimes)), **entry.meta)
        conv = payload(f"aart:{entry.row}", [turn("user", text)], meta)
        if not entry.trainable:
            yield labeled(conv, None, True, (), trainable=False)
            continue
        targets = label_targets(request_harmful=True, categories=harm_categories(True, entry.categories))
        yield labeled(conv, None, True, entry.categories, targets=targets)
