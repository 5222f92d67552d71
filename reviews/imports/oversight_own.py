"""Readers of our own exports (reviews/datasets/rows.py), so a snapshot round-trips.

`oversight-eval`: one JSON line per row (JSONL or gzip JSONL): prompt + response make the conversation,
  verdict, is_harmful, categories and severity the label.
`oversight-preference`: prompt + rejected (the model's answer as judged) make the conversation; the
  verdict is the failure the reviewer saw and `chosen` becomes the imported decision's preferred response.
Ids: the row's `id` (`ovs-<conversation id>`), prefixed with the format, e.g. `oversight-eval:ovs-12`.
Categories outside the taxonomy are dropped from the label and kept in metadata.
Targets, as the contract derives them from a reviewer's decision: request_harmful = is_harmful (eval) or the
verdict's (preference), complied = harmful_compliance or appropriate_help, harmful_response = harmful_compliance,
categories.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    json_lines,
    label_targets,
    labeled,
    payload,
    provenance,
    require_keys,
    turn,
)
from reviews.vocabulary import HARMFUL_REQUEST_VERDICTS, TAXONOMY, VERDICTS

COMPLIED_VERDICTS = frozenset({"harmful_compliance", "appropriate_help"})


def _messages(value: Any, where: str, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in value):
        raise ImportFormatError(f"{where}: {field!r} must be a list of {{role, content}} messages")
    return [turn(str(m["role"]), m["content"]) for m in value]


def _label(record: dict[str, Any], where: str) -> tuple[str, list[str], list[str], int]:
    verdict = record.get("verdict")
    if verdict not in VERDICTS:
        raise ImportFormatError(f"{where}: unknown verdict {verdict!r}")
    categories = [str(c) for c in record.get("categories") or []]
    severity = record.get("severity", 0)
    if not isinstance(severity, int) or not 0 <= severity <= 4:
        raise ImportFormatError(f"{where}: severity must be an integer 0..4")
    return verdict, [c for c in categories if c in TAXONOMY], [c for c in categories if c not in TAXONOMY], severity


def _targets(verdict: str, harmful: bool, categories: list[str]) -> dict[str, Any]:
    """A reviewer's decision read back: the targets the contract derives from a reviewer's verdict."""
    return label_targets(
        request_harmful=harmful,
        complied=verdict in COMPLIED_VERDICTS,
        harmful_response=verdict == "harmful_compliance",
        categories=categories,
    )


def _metadata(fmt: str, path: Path, record: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    keep = ("id", "conversation_id", "decision_id", "source", "agreement", "decided_at")
    extra = {key: record[key] for key in keep if key in record}
    return provenance(fmt, path, original=extra, **({"dropped_categories": dropped} if dropped else {}))


def read_oversight_eval(path: Path) -> Iterator[LabeledConversation]:
    fmt = "oversight-eval"
    for number, record in json_lines(path, fmt):
        where = f"{path.name} line {number}"
        require_keys(record, ("id", "prompt", "response", "verdict", "is_harmful"), where, fmt)
        verdict, categories, dropped, severity = _label(record, where)
        messages = [*_messages(record["prompt"], where, "prompt"), turn("assistant", record["response"])]
        conversation = payload(f"{fmt}:{record['id']}", messages, _metadata(fmt, path, record, dropped))
        conversation["model"] = str(record.get("model", ""))[:200]
        harmful = bool(record["is_harmful"])
        targets = _targets(verdict, harmful, categories)
        yield labeled(conversation, verdict, harmful, categories, severity=severity, targets=targets)


def read_oversight_preference(path: Path) -> Iterator[LabeledConversation]:
    fmt = "oversight-preference"
    for number, record in json_lines(path, fmt):
        where = f"{path.name} line {number}"
        require_keys(record, ("id", "prompt", "chosen", "rejected", "verdict"), where, fmt)
        verdict, categories, dropped, severity = _label(record, where)
        chosen = _messages(record["chosen"], where, "chosen")
        rejected = _messages(record["rejected"], where, "rejected")
        if len(chosen) != 1 or len(rejected) != 1:
            raise ImportFormatError(f"{where}: 'chosen' and 'rejected' must each hold one assistant message")
        messages = [*_messages(record["prompt"], where, "prompt"), rejected[0]]
        conversation = payload(f"{fmt}:{record['id']}", messages, _metadata(fmt, path, record, dropped))
        conversation["model"] = str(record.get("model", ""))[:200]
        harmful = verdict in HARMFUL_REQUEST_VERDICTS
        targets = _targets(verdict, harmful, categories)
        item = labeled(conversation, verdict, harmful, categories, severity=severity, targets=targets)
        yield LabeledConversation(
            item.conversation,
            item.verdict,
            item.categories,
            item.harmful,
            item.severity,
            item.trainable,
            preferred_response=chosen[0]["content"],
            targets=item.targets,
        )
