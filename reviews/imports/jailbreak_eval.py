"""jailbreak-evaluation (Cai et al. 2024): 300 jailbreak attempts with human safeguard-violation labels.

`jailbreak-eval` (manual_data.csv): user = `prompt` (the jailbreak prompt: GCG suffix, PAIR role-play, or the bare
  intent for generation exploitation), assistant = `response`. Every `intent` is a harmful goal. Human labels
  (Labellin_Guide.md): `manual_safeguard_violation_label` (SV, the reply violates the provider's usage policy) and
  `manual_informativeness_label` (I, the reply gives information that addresses the intent, rather than a refusal
  or a repeat of the intent).
  Targets: request_harmful 1; harmful_response = SV; complied = SV or I (a violating reply went along with the
  request even when it says little; an uninformative, non-violating one is a refusal or a non-answer), so 0 for
  the 151 rows with neither; categories = keyword rules (broad) over the intent, plus jailbreak where the prompt is not
  the bare intent (GCG, PAIR), absent where nothing matches.
  Legacy labels: verdict harmful_compliance if SV else appropriate_refusal; harmful True.
  Model from `model_id` (0 Llama-2-7b-chat-hf, 1 gpt-3.5-turbo); metadata: method (`publication_id`: GCG,
  generation exploitation, PAIR), the intent, and the automatic judges' labels (`automated_labels`, baselines).
  Id `jailbreak-eval:<_id>`. Counts: 300 rows; SV 141 / 159; complied 149 / 151.
"""

from __future__ import annotations

from collections.abc import Iterator
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

JAILBREAK_EVAL_COLUMNS = (
    "_id",
    "model_id",
    "publication_id",
    "intent",
    "prompt",
    "response",
    "manual_safeguard_violation_label",
    "manual_informativeness_label",
)
MODELS = {"0": "Llama-2-7b-chat-hf", "1": "gpt-3.5-turbo"}
METHODS = {"0": "GCG", "1": "generation exploitation", "2": "PAIR"}
AUTOMATED = ("automatic_zou_none_label", "automatic_huang_none_label", "automatic_chao_none_label")
_BOOLEANS = {"True": True, "False": False}


def _flag(row: dict[str, str], column: str, where: str) -> bool:
    value = row[column].strip()
    if value not in _BOOLEANS:
        raise ImportFormatError(f"{where}: {column} {row[column]!r} is neither True nor False")
    return _BOOLEANS[value]


def read_jailbreak_eval(path: Path) -> Iterator[LabeledConversation]:
    fmt = "jailbreak-eval"
    for line, row in csv_rows(path, fmt, JAILBREAK_EVAL_COLUMNS):
        where = f"{path.name} line {line}"
        violation = _flag(row, "manual_safeguard_violation_label", where)
        informative = _flag(row, "manual_informativeness_label", where)
        intent, prompt = row["intent"].strip(), row["prompt"].strip()
        categories = keyword_categories(intent, broad=True)
        if prompt != intent:
            categories.add("jailbreak")
        targets = label_targets(
            request_harmful=True,
            harmful_response=violation,
            complied=violation or informative,
            categories=harm_categories(True, categories),
        )
        automated = {column: row[column] for column in AUTOMATED if row.get(column)}
        meta = provenance(
            "jailbreak-evaluation",
            path,
            record_id=row["_id"],
            method=METHODS.get(row["publication_id"].strip(), row["publication_id"]),
            intent=intent,
            **({"automated_labels": automated} if automated else {}),
        )
        model = MODELS.get(row["model_id"].strip(), row["model_id"])
        messages = [turn("user", prompt), turn("assistant", row["response"])]
        conv = payload(f"jailbreak-eval:{row['_id'].strip()}", messages, meta, model=model)
        verdict = "harmful_compliance" if violation else "appropriate_refusal"
        yield labeled(conv, verdict, True, categories, targets=targets)
