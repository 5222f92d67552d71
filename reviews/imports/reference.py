"""Oversight's reference conversations: user turns the project wrote, shipped with it (`reference/`).

`oversight-reference` reads both files (each one's header says why and how it is laid out); one user turn per line,
judged as a request without a reply:
* reference/benign_requests.txt (dataset `oversight-reference`): requests that should be answered:
  request_harmful 0, categories []. Metadata: section (`tasks`, `requests` or `look-alikes`), form (a task's form);
* reference/user_turns.txt (dataset `oversight-reference-user-turns`): what input guardrails flag and the public
  sets lack (self-harm intent, sexual content, grooming, threats, harassment), in `@ harmful <category>` sections:
  request_harmful 1, categories [category]; and look-alikes on the same topics in `@ benign`: 0, [].
Legacy labels: verdict None; harmful = request_harmful. Any other file is read as the first's dataset.
Id `oversight-reference:<sha256 of the turn, 12 hex>`, so editing one line never renumbers the others.

`train_model` imports the shipped files before it collects examples (`reference_import`), so every model learns
from them whatever sets were imported; `--no-reference` leaves them out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import ImportFormatError, LabeledConversation, label_targets, labeled, payload, turn
from reviews.vocabulary import REFERENCE_DATASET, REFERENCE_TURNS_DATASET, TAXONOMY

REFERENCE_FILE = Path(__file__).resolve().parent / "reference" / "benign_requests.txt"
USER_TURNS_FILE = REFERENCE_FILE.with_name("user_turns.txt")
DATASET = REFERENCE_DATASET
FILE_DATASETS = {REFERENCE_FILE.name: REFERENCE_DATASET, USER_TURNS_FILE.name: REFERENCE_TURNS_DATASET}
HARMFUL = "harmful"  # "@ harmful <category>": a section of turns a reviewer must see
FORMS, TASKS = "forms", "tasks"
FORMS_PER_TASK = 2


def _sections(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path.name}: not UTF-8 text ({exc})") from exc
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            current = sections.setdefault(line[1:].strip(), [])
        elif current is None:
            raise ImportFormatError(f"{path.name} line {number}: a request before the first '@ section' line")
        else:
            current.append(line)
    return sections


def _forms_of(task: str, forms: list[str]) -> list[str]:
    """Which request forms a task is written in: a hash of the task picks them, so the file alone decides."""
    start = int(hashlib.sha256(task.encode()).hexdigest(), 16) % len(forms)
    # forms 7 apart: neighbours in the list are alike ("How do I", "How can I"), so a task gets two unlike ones
    return [forms[(start + k * 7) % len(forms)] for k in range(min(FORMS_PER_TASK, len(forms)))]


def reference_requests(path: Path = REFERENCE_FILE) -> Iterator[tuple[str, str, str]]:
    """(section, form or "", request) for every request the file gives."""
    sections = _sections(path)
    forms = sections.get(FORMS, [])
    if sections.get(TASKS) and not any("{task}" in form for form in forms):
        raise ImportFormatError(f"{path.name}: '@ {TASKS}' needs an '@ {FORMS}' section of lines holding {{task}}")
    for name, lines in sections.items():
        if name == FORMS:
            continue
        for line in lines:
            if name == TASKS:
                for form in _forms_of(line, forms):
                    yield name, form, form.replace("{task}", line)
            else:
                yield name, "", line


def section_label(name: str, path: Path) -> tuple[bool, list[str]]:
    """(harmful, categories) of a section: `harmful <category>` names a taxonomy category; any other is benign."""
    kind, _, category = name.partition(" ")
    if kind != HARMFUL:
        return False, []
    if category not in TAXONOMY:
        raise ImportFormatError(f"{path.name}: '@ {name}' names no taxonomy category (one of {', '.join(TAXONOMY)})")
    return True, [category]


def read_oversight_reference(path: Path) -> Iterator[LabeledConversation]:
    seen: set[str] = set()
    dataset = FILE_DATASETS.get(path.name, DATASET)
    for section, form, request in reference_requests(path):
        key = hashlib.sha256(request.encode()).hexdigest()[:12]
        if key in seen:
            continue
        seen.add(key)
        harmful, categories = section_label(section, path)
        meta = {"dataset": dataset, "dataset_file": path.name, "section": section} | ({"form": form} if form else {})
        conversation = payload(f"{DATASET}:{key}", [turn("user", request)], meta)
        targets = label_targets(request_harmful=harmful, categories=categories)
        yield labeled(conversation, None, harmful, categories, targets=targets)
