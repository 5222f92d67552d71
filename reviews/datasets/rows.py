"""Row shapes of each dataset kind, built from one conversation's group of settled decisions.

One row per conversation (settled.py decides which conversations are settled): its final
decision (a senior's adjudication or escalation resolution) where there is one, else its
newest. `agreement` is the share of the reviewers' (non-final) decisions whose verdict
matches that row's verdict (1.0 with a single review); `label_source` says whose label it
is. The judged turn is the last assistant message; the prompt is every message before it
and ends with the user turn it answers, or with the tool results the answer follows
(tool turns are kept as TRL's `{"role": "tool", "content": ...}` messages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from django.db.models import TextField
from django.db.models.functions import Cast

from reviews.models import FAILURE_VERDICTS, HARMFUL_REQUEST_VERDICTS, DatasetKind, Verdict
from reviews.scoring.text import judged_turn, text_views
from reviews.scoring.training_data import HARMFUL

# The JSON columns are read as text and decoded here with orjson: on PostgreSQL that halves the client's cost
# of reading them (psycopg's JSON loaders are Python, called per value).
AS_TEXT = {
    "categories_json": Cast("categories", TextField()),
    "messages_json": Cast("item__conversation__messages", TextField()),
}
# Columns read from the database per decision, in this order (values_list, no model instances).
COLUMNS = (
    "pk",
    "item__conversation_id",
    "verdict",
    "harmful_request",
    "categories_json",
    "severity",
    "preferred_response",
    "is_final",
    "created_at",
    "item__policy_version__number",
    "messages_json",
    "item__conversation__model_name",
    "item__conversation__source__name",
    "split_key",  # filters.split_key: the conversation's split hash, computed by the database
    "is_imported",
    "item__status",
    "item__reviews_required",
    "item__queue__edit_window_minutes",
    "item__queue__slug",
    "bulk_id",  # applied with a campaign's bulk verdict (reviews/campaigns/bulk.py)
)
AT = {name: index for index, name in enumerate(COLUMNS)}
REFUSALS = frozenset({Verdict.APPROPRIATE_REFUSAL, Verdict.OVER_REFUSAL})
ANSWERS = frozenset({"user", "tool"})  # the judged answer follows the user's turn or the tool results it asked for
ORDER = ("item__conversation_id", "is_final", "created_at", "pk")  # the effective decision sorts last

Message = dict[str, str]
Row = dict[str, Any]


class Skip(Exception):
    """This conversation yields no row of this kind; `reason` is counted on the snapshot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Judged:
    """A conversation with the decision that labels it."""

    conversation_id: int
    decision_id: int
    decision_ids: tuple[int, ...]
    verdict: str
    harmful: bool
    categories: tuple[str, ...]
    severity: int
    preferred_response: str
    is_final: bool
    decided_at: datetime
    agreement: float
    policy_version: int | None
    messages: list[Message]
    model: str
    source: str
    split_key: str
    label_source: str


def judge(group: Sequence[tuple[Any, ...]], merged: Mapping[str, str], label_source: str) -> Judged:
    """`group`: one conversation's decisions as COLUMNS, in ORDER."""
    last = group[-1]
    pk, conversation_id, verdict, harmful_request, categories, severity, preferred, is_final = last[:8]
    decided_at, policy_version, messages, model, source, split_key = last[8:14]
    if len(group) == 1:  # the common case: one review, which agrees with itself
        agreement, decision_ids = 1.0, (pk,)
    else:
        reviews = [d[2] for d in group if not d[7] and d[2]]
        agreement = sum(v == verdict for v in reviews) / len(reviews) if reviews and verdict else 1.0
        agreement, decision_ids = round(agreement, 4), tuple(d[0] for d in group)
    if harmful_request is None:
        harmful_request = verdict in HARMFUL_REQUEST_VERDICTS
    if categories and categories != "[]":
        slugs = tuple(dict.fromkeys(merged.get(slug, slug) for slug in orjson.loads(categories)))
    else:
        slugs = ()
    # Positional, in field order: keywords cost a microsecond a row here (the effective decision's id is pk).
    return Judged(
        conversation_id,
        pk,
        decision_ids,
        verdict,
        bool(harmful_request),
        slugs,
        severity,
        preferred or "",
        is_final,
        decided_at,
        agreement,
        policy_version,
        _messages(orjson.loads(messages) if messages else None),
        model,
        source,
        split_key,
        label_source,
    )


def _messages(stored: Any) -> list[Message]:
    """The conversation as {"role", "content"} strings. Ingest stores exactly that, so the stored list is
    used as it is; anything else (rows written around ingest) is rebuilt in that shape."""
    if not stored:
        return []
    for m in stored:
        if type(m) is not dict or len(m) != 2 or type(m.get("role")) is not str or type(m.get("content")) is not str:
            return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in stored]
    return stored


def _prompt_and_answer(judged: Judged) -> tuple[list[Message], str]:
    messages = judged.messages
    end = judged_turn(messages)
    if end < 1 or messages[end]["role"] != "assistant" or messages[end - 1]["role"] not in ANSWERS:
        raise Skip("no_judged_turn")
    if messages[end - 1]["role"] == "tool" and not any(m["role"] == "user" for m in messages[:end]):
        raise Skip("no_judged_turn")
    return messages[:end], messages[end]["content"]


def _meta(judged: Judged) -> Row:
    return {
        "verdict": judged.verdict,
        "categories": list(judged.categories),
        "severity": judged.severity,
        "agreement": judged.agreement,
        "source": judged.source,
        "model": judged.model,
        "decided_at": judged.decided_at,  # a datetime: the writers give ISO 8601 text
    }


def _ids(judged: Judged) -> Row:
    return {
        "id": f"ovs-{judged.conversation_id}",
        "conversation_id": judged.conversation_id,
        "decision_id": judged.decision_id,
        "label_source": judged.label_source,
    }


def _verdict(judged: Judged) -> str:
    if not judged.verdict:
        raise Skip("no_verdict")
    return judged.verdict


def preference_row(judged: Judged) -> Row:
    """A failure with the reviewer's better answer: the model's answer is rejected, the reviewer's chosen."""
    if _verdict(judged) not in FAILURE_VERDICTS:
        raise Skip("not_a_failure")
    prompt, answer = _prompt_and_answer(judged)
    if not judged.preferred_response.strip():
        raise Skip("no_preferred_response")
    return {
        **_ids(judged),
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": judged.preferred_response}],
        "rejected": [{"role": "assistant", "content": answer}],
        **_meta(judged),
    }


def sft_row(judged: Judged) -> Row:
    """Messages ending in a good answer: the model's when judged appropriate, the reviewer's otherwise."""
    verdict = _verdict(judged)
    prompt, answer = _prompt_and_answer(judged)
    if verdict in FAILURE_VERDICTS:
        if not judged.preferred_response.strip():
            raise Skip("no_preferred_response")
        answer = judged.preferred_response
    return {**_ids(judged), "messages": [*prompt, {"role": "assistant", "content": answer}], **_meta(judged)}


def classifier_row(judged: Judged, labels: Sequence[str]) -> Row:
    """The judged `request` and `response` exactly as the rescoring encoder reads them (each in its own window;
    `text` the two in one string), and one 0/1 column per label (categories, then harmful)."""
    positive = set(judged.categories)
    if judged.harmful:
        positive.add(HARMFUL)
    views = text_views(judged.messages)
    row: Row = {**_ids(judged), "request": views.request, "response": views.response, "text": views.text}
    row.update({label: int(label in positive) for label in labels})
    return row


def eval_row(judged: Judged) -> Row:
    """One cell of the safety grid: was the request harmful, what did the model answer, what was the verdict."""
    verdict = _verdict(judged)
    prompt, answer = _prompt_and_answer(judged)
    return {  # _ids inlined: a dict and a call less per row
        "id": f"ovs-{judged.conversation_id}",
        "conversation_id": judged.conversation_id,
        "decision_id": judged.decision_id,
        "label_source": judged.label_source,
        "prompt": prompt,
        "response": answer,
        "is_harmful": verdict in HARMFUL_REQUEST_VERDICTS,
        "model_refused": verdict in REFUSALS,
        "verdict": verdict,
        "categories": list(judged.categories),
        "severity": judged.severity,
        "agreement": judged.agreement,
        "source": judged.source,
        "model": judged.model,
        "decided_at": judged.decided_at,
    }


def row_builder(kind: str, labels: Sequence[str]) -> Callable[[Judged], Row]:
    """The function that makes `kind`'s row from a judged conversation (raising Skip where there is none)."""
    if kind == DatasetKind.PREFERENCE:
        return preference_row
    if kind == DatasetKind.SFT:
        return sft_row
    if kind == DatasetKind.CLASSIFIER:
        return partial(classifier_row, labels=labels)
    return eval_row
