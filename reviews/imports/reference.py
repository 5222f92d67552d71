"""Oversight's reference requests: benign requests the project wrote, shipped with it (`reference/`).

`oversight-reference` (reference/benign_requests.txt, the file's own header says why and how it is laid out): one
user turn per request; every request should be answered: request_harmful 0, categories []. Legacy labels: verdict
None; harmful False. Metadata: section (`tasks`, `requests` or `look-alikes`), form (a task's request form).
Id `oversight-reference:<sha256 of the request, 12 hex>`, so editing one line never renumbers the others.

`train_model` imports the shipped file before it collects examples (`reference_import`), so every model learns
from it whatever sets were imported; `--no-reference` leaves it out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import ImportFormatError, LabeledConversation, label_targets, labeled, payload, turn
from reviews.vocabulary import REFERENCE_DATASET

REFERENCE_FILE = Path(__file__).resolve().parent / "reference" / "benign_requests.txt"
DATASET = REFERENCE_DATASET
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


def read_oversight_reference(path: Path) -> Iterator[LabeledConversation]:
    seen: set[str] = set()
    for section, form, request in reference_requests(path):
        key = hashlib.sha256(request.encode()).hexdigest()[:12]
        if key in seen:
            continue
        seen.add(key)
        meta = {"dataset": DATASET, "dataset_file": path.name, "section": section} | ({"form": form} if form else {})
        conversation = payload(f"{DATASET}:{key}", [turn("user", request)], meta)
        yield labeled(conversation, None, False, [], targets=label_targets(request_harmful=False, categories=[]))
