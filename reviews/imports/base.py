"""What every reader of a labelled dataset shares: the item it yields, its error, the labelling rules, helpers.

A reader is a function `(Path) -> Iterator[LabeledConversation]`. Every item is an ingest payload (the
`ConversationIn` shape, with no flags) plus the labels a system account turns into a decision (`verdict`,
`categories`, `severity`) or the rescoring head trains on (`harmful`). Everything is deterministic: the same file
always gives the same items, in file order, with the same ids. Each set's own mapping is documented in its module
(xstest.py, harmbench.py, ...); formats.py lists them all.

Conventions shared by every format
----------------------------------
* External ids are `<format prefix>:<original id>`, stable across runs and unique within a file. Rows that are
  the same conversation in two files (the XSTest completion and automated-label copies, the HarmBench
  all/val/test split files) get the same id, so importing both deduplicates.
* Text is copied verbatim except that NUL characters are removed and lone surrogates replaced (PostgreSQL cannot
  store them); turns are stripped of surrounding whitespace.
* Metadata holds provenance (dataset, file, original ids, original category names, attack method) and never the
  ground-truth label itself, so a blind review of an imported conversation stays blind. Exception: hh-rlhf's
  `preferred`, which *is* the only label of that set and is needed for pairwise ranking checks.
* Categories are taxonomy slugs in taxonomy order. Benign items (safe prompts, helpful answers, benign twins)
  get no categories, as in the demo data: a category names the harm that is present.
* `verdict` is None when the set has no response to judge (prompt-only sets) or no absolute label (hh-rlhf).
  Where a response is labelled it follows the safety grid (`verdict_for`):
  harmful request + complied = harmful_compliance, harmful + refused = appropriate_refusal,
  benign + refused = over_refusal, benign + complied = appropriate_help.
* Severity (0-4) is the realised harm, as in the demo data. Each category has a base severity:
  4 for weapons-cbrn, child-safety and self-harm; 3 for violent-crime, cyber and hate; 2 for the rest
  (2 when a harmful item has no category). An item takes the highest base of its categories, then:
  harmful_compliance = base, appropriate_refusal = max(1, base - 2), over_refusal = 1, appropriate_help = 0;
  a harmful prompt with no response = base (the potential harm); anything benign = 0.
  DiaSafety and ConvAbuse override this (see their modules).
* `trainable=False` marks items whose labels must not train the rescoring head (relative or out-of-taxonomy
  labels). They are still imported for display and evaluation.
* Keyword rules (keywords.py, case-insensitive, whole words) refine categories where a set's own category is
  coarser than the taxonomy.
* `targets` are the labels of the verdict contract (the table in reviews/imports/README.md),
  what the verdict-grid model trains on; the import service stores them on the imported decision. Keys, each
  optional: `request_harmful` 0/1 (the judged request should be refused), `complied` 0 / 0.5 / 1 (the judged
  reply complied; 0.5 = partial refusal), `harmful_response` 0/1 (the reply is harmful in its context: the
  harmful-compliance cell), `categories` (taxonomy slugs present; [] = labelled, none) and `pair`
  (`{"id", "preferred"}`: relative labels, the rejected reply is the more harmful). A key a set does not give is
  absent (masked), never guessed. A harmful row whose categories come from keyword rules alone and match nothing
  has no `categories` (`harm_categories`). An item with no targets and trainable=False gets no decision.
* Metadata `license` names the set's licence (`LICENSES`), so a dataset card built from imported rows can say it;
  ShareAlike sets (ToxiChat CC-BY-SA-4.0, Stormfront CC-BY-SA-3.0-ES) bind what is derived from them.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from reviews.vocabulary import TAXONOMY, VERDICTS

TARGET_KEYS = ("request_harmful", "complied", "harmful_response", "categories", "pair")
COMPLIED_VALUES = (0, 0.5, 1)
# The licence of each public set, by its `dataset` name in metadata (our own exports carry none).
LICENSES = {
    "xstest": "CC-BY-4.0 (prompts); completions under the models' own terms",
    "harmbench": "MIT",
    "jailbreakbench": "MIT",
    "hh-rlhf": "MIT",
    "diasafety": "Apache-2.0",
    "convabuse": "CC-BY-4.0",
    "gptfuzz": "MIT",
    "jailbreak-evaluation": "Apache-2.0",
    "toxichat": "CC-BY-SA-4.0",
    "coconot": "MIT",
    "edos": "CC0-1.0",
    "hatemoji": "CC-BY-4.0",
    "stormfront": "CC-BY-SA-3.0-ES",
    "aart": "CC-BY-4.0",
    "catqa": "Apache-2.0",
    "harmfulqa": "Apache-2.0",
    "simplesafetytests": "CC-BY-4.0",
}
SHARE_ALIKE = frozenset(name for name, licence in LICENSES.items() if licence.startswith("CC-BY-SA"))

BASE_SEVERITY = {"weapons-cbrn": 4, "child-safety": 4, "self-harm": 4, "violent-crime": 3, "cyber": 3, "hate": 3}
DEFAULT_SEVERITY = 2


class ImportFormatError(ValueError):
    """The file cannot be read as the requested format (unknown format, missing file, wrong columns, bad row)."""


@dataclass(frozen=True)
class LabeledConversation:
    conversation: dict[str, Any]  # ingest payload: external_id, model, messages, flags ([]), metadata
    verdict: str | None  # one of VERDICTS, or None when the set gives no response to judge
    categories: list[str]  # taxonomy slugs, in taxonomy order
    harmful: bool  # the request (or the conversation) is harmful: the rescoring head's overall label
    severity: int  # 0..4
    trainable: bool = True  # False: keep these labels out of the rescoring head's training data
    preferred_response: str = ""  # a better answer, where the set has one (our own preference exports)
    targets: dict[str, Any] = field(default_factory=dict)  # the verdict contract's labels; absent key = masked

    def __post_init__(self) -> None:
        validate_targets(self.targets)
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        unknown = [c for c in self.categories if c not in TAXONOMY]
        if unknown:
            raise ValueError(f"unknown category slugs {unknown}")
        if not 0 <= self.severity <= 4:
            raise ValueError(f"severity {self.severity} is outside 0..4")


Reader = Callable[[Path], Iterator[LabeledConversation]]


# --- targets (the verdict contract) ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_targets(targets: Any) -> None:
    """ValueError unless `targets` holds only the contract's keys with values of their types."""
    if not isinstance(targets, dict):
        raise ValueError(f"targets must be a dict, not {type(targets).__name__}")
    unknown = sorted(set(targets) - set(TARGET_KEYS))
    if unknown:
        raise ValueError(f"unknown target keys {unknown}; known: {', '.join(TARGET_KEYS)}")
    for key in ("request_harmful", "harmful_response"):
        if key in targets and not (_is_number(targets[key]) and targets[key] in (0, 1)):
            raise ValueError(f"target {key} must be 0 or 1, not {targets[key]!r}")
    if "complied" in targets and not (_is_number(targets["complied"]) and targets["complied"] in COMPLIED_VALUES):
        raise ValueError(f"target complied must be 0, 0.5 or 1, not {targets['complied']!r}")
    if "categories" in targets:
        categories = targets["categories"]
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ValueError(f"target categories must be a list of slugs, not {categories!r}")
        unknown = [c for c in categories if c not in TAXONOMY]
        if unknown or len(set(categories)) != len(categories):
            raise ValueError(f"target categories {categories} hold unknown or repeated slugs")
    if "pair" in targets:
        pair = targets["pair"]
        if (
            not isinstance(pair, dict)
            or set(pair) != {"id", "preferred"}
            or not isinstance(pair["id"], str)
            or not pair["id"]
            or not isinstance(pair["preferred"], bool)
        ):
            raise ValueError(f'target pair must be {{"id": non-empty str, "preferred": bool}}, not {pair!r}')


def label_targets(
    *,
    request_harmful: bool | None = None,
    complied: float | None = None,
    harmful_response: bool | None = None,
    categories: Iterable[str] | None = None,
    pair: tuple[str, bool] | None = None,
) -> dict[str, Any]:
    """The contract's targets from what a set says; None (the default) leaves a key out, i.e. masked."""
    targets: dict[str, Any] = {}
    if request_harmful is not None:
        targets["request_harmful"] = int(request_harmful)
    if complied is not None:
        targets["complied"] = 0.5 if complied == 0.5 else int(complied)
    if harmful_response is not None:
        targets["harmful_response"] = int(harmful_response)
    if categories is not None:
        targets["categories"] = _ordered(categories)
    if pair is not None:
        targets["pair"] = {"id": pair[0], "preferred": pair[1]}
    return targets


def grid_targets(*, request_harmful: bool, complied: float | None, categories: Iterable[str] | None) -> dict[str, Any]:
    """Targets of a labelled (request, reply) in the safety grid: harmful_response follows when the reply fully
    complied or fully refused (a partial refusal of a harmful request is not said to be harmful or not)."""
    harmful_response = None if complied is None or complied == 0.5 else bool(request_harmful and complied)
    return label_targets(
        request_harmful=request_harmful, complied=complied, harmful_response=harmful_response, categories=categories
    )


def harm_categories(harmful: bool, found: Iterable[str]) -> list[str] | None:
    """Categories target of a row whose categories may come from keyword rules alone: [] for a benign row, the
    slugs found for a harmful one, None (masked) where no harm category was found (jailbreak alone is no harm)."""
    found = set(found)
    if not harmful:
        return []
    return _ordered(found) if found - {"jailbreak"} else None


# --- labels ---------------------------------------------------------------------------------------------------


def verdict_for(harmful_request: bool, complied: bool) -> str:
    """The safety grid."""
    if harmful_request:
        return "harmful_compliance" if complied else "appropriate_refusal"
    return "appropriate_help" if complied else "over_refusal"


def _ordered(categories: Iterable[str]) -> list[str]:
    chosen = set(categories)
    return [slug for slug in TAXONOMY if slug in chosen]


def _base_severity(categories: Iterable[str]) -> int:
    return max(
        (BASE_SEVERITY.get(c, DEFAULT_SEVERITY) for c in categories if c != "jailbreak"), default=DEFAULT_SEVERITY
    )


def _severity(verdict: str | None, harmful: bool, categories: list[str]) -> int:
    base = _base_severity(categories)
    if verdict == "harmful_compliance":
        return base
    if verdict == "appropriate_refusal":
        return max(1, base - 2)
    if verdict == "over_refusal":
        return 1
    if verdict == "appropriate_help" or not harmful:
        return 0
    return base


def labeled(
    conversation: dict[str, Any],
    verdict: str | None,
    harmful: bool,
    categories: Iterable[str],
    *,
    severity: int | None = None,
    trainable: bool = True,
    targets: dict[str, Any] | None = None,
) -> LabeledConversation:
    cats = _ordered(categories)
    if severity is None:
        severity = _severity(verdict, harmful, cats)
    return LabeledConversation(conversation, verdict, cats, harmful, severity, trainable, targets=targets or {})


# --- text and payloads ----------------------------------------------------------------------------------------


def clean_text(text: Any) -> str:
    """Text the ingest schema accepts: no NUL characters, no lone surrogates."""
    value = "" if text is None else str(text)
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value


def turn(role: str, content: Any) -> dict[str, str]:
    return {"role": role, "content": clean_text(content).strip()}


def payload(
    external_id: str, messages: list[dict[str, str]], metadata: dict[str, Any], model: str = ""
) -> dict[str, Any]:
    return {
        "external_id": clean_text(external_id)[:255],
        "model": clean_text(model)[:200],
        "messages": messages,
        "flags": [],
        "metadata": metadata,
    }


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): _clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(item) for item in value]
    return value


def provenance(dataset: str, path: Path, **extra: Any) -> dict[str, Any]:
    """Provenance metadata: the dataset, the file and whatever original ids and names the format keeps."""
    licence = {"license": LICENSES[dataset]} if dataset in LICENSES else {}
    meta: dict[str, Any] = _clean_json({"dataset": dataset, "dataset_file": path.name, **licence, **extra})
    return meta


def file_stem(path: Path) -> str:
    """The file name without any suffix: "harmless-base_test.jsonl.gz" -> "harmless-base_test"."""
    return path.name.split(".", 1)[0]


# --- file readers ---------------------------------------------------------------------------------------------


def open_text(path: Path) -> TextIO:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def csv_rows(path: Path, fmt: str, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) after checking the header has the required columns."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
    try:
        with open_text(path) as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [column for column in required if column not in header]
            if missing:
                raise ImportFormatError(
                    f"{path.name}: not a {fmt} file: missing column(s) {', '.join(missing)}; "
                    f"found {', '.join(header[:12]) or 'no header'}{' ...' if len(header) > 12 else ''}"
                )
            for row in reader:
                yield reader.line_num, {key: value if value is not None else "" for key, value in row.items() if key}
    except (csv.Error, UnicodeDecodeError, EOFError, OSError) as exc:
        raise ImportFormatError(f"{path.name}: cannot read as {fmt} CSV: {exc}") from exc


def json_lines(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ImportFormatError(f"{path.name} line {number}: not JSON ({exc.msg})") from exc
                if not isinstance(record, dict):
                    raise ImportFormatError(f"{path.name} line {number}: expected a JSON object for {fmt}")
                yield number, record
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        raise ImportFormatError(f"{path.name}: cannot read as {fmt} JSON lines: {exc}") from exc


def require_keys(record: dict[str, Any], keys: Iterable[str], where: str, fmt: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise ImportFormatError(f"{where}: not a {fmt} record: missing field(s) {', '.join(missing)}")
