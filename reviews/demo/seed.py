"""The demo: users for each role, a source, and synthetic flagged conversations written for the project.

The demo reviewer decides most routed conversations (with preferred responses where the model failed) and
escalates a few, which the demo senior resolves: every export kind and "My escalations" show real rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Case, Q, When

from reviews.analytics.rollup import analytics_rollup
from reviews.demo.data import demo_label, generate_conversations, generate_passing_traffic
from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.ingest.sources import source_create
from reviews.models import (
    FAILURE_VERDICTS,
    ItemStatus,
    ModelStatus,
    QueueKind,
    ReviewItem,
    ScoringModel,
    Source,
    SourceKind,
)
from reviews.permissions import ADMIN, REVIEWER, SENIOR
from reviews.taskqueue import TRAIN_QUEUE, TRAIN_TASK, enqueue
from reviews.workspace.claims import item_claim
from reviews.workspace.decisions import decision_record
from reviews.workspace.escalations import escalation_raise
from reviews.workspace.reviewing import decision_submit

DEMO_SOURCE = "demo-monitors"
DEMO_USERS = {"admin": ADMIN, "senior": SENIOR, "reviewer": REVIEWER}
_BATCH = 100
DECIDED_SHARE = 0.6  # the rest waits in the queues for whoever tries the demo
ESCALATED_SHARE = 0.02  # of the conversations: escalated by the demo reviewer, resolved by the demo senior
ESCALATION_REASONS = (
    "Not sure whether this crosses a hard limit; I would like a senior's ruling.",
    "The model's answer is partly fine and partly not; which verdict applies?",
    "My preferred response may itself say too much; please word the final one.",
)


@dataclass(frozen=True)
class DemoSummary:
    users: list[str]
    accepted: int
    duplicates: int
    token: str | None  # only when the demo source was created by this run
    decided: int
    model_version: int | None
    escalated: int = 0


@transaction.atomic
def demo_users_ensure(*, password: str) -> list[str]:
    """One user per role; re-running resets their passwords to `password`."""
    for username, role in DEMO_USERS.items():
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = user.is_superuser = role == ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    return list(DEMO_USERS)


def demo_seed(*, password: str, conversations: int = 300, seed: int = 7, train: bool = True) -> DemoSummary:
    """Idempotent: a second run adds nothing but resets the demo passwords."""
    users = demo_users_ensure(password=password)
    source = Source.objects.filter(name=DEMO_SOURCE).first()
    token = None
    if source is None:
        issued = source_create(name=DEMO_SOURCE, kind=SourceKind.OUTPUT_CLASSIFIER, description="Demo detectors")
        source, token = issued.source, issued.token
    # Flagged traffic, then as much traffic the detectors let pass: the default policy's calibration sample (a few
    # percent of it) is what recall is measured on, so the demo's dashboards have one from the start.
    generated = generate_conversations(conversations, seed=seed) + generate_passing_traffic(conversations, seed=seed)
    accepted = duplicates = 0
    ids: list[int] = []
    for start in range(0, len(generated), _BATCH):
        batch = [ConversationIn.model_validate(c) for c in generated[start : start + _BATCH]]
        result = conversations_ingest(source=source, conversations=batch)
        accepted, duplicates, ids = accepted + result.accepted, duplicates + result.duplicates, ids + result.ids
    decided = escalated = 0
    if accepted:  # a second run finds everything there and decides nothing again
        by_id = dict(zip(ids, generated, strict=True))
        flagged = min(len(ids), conversations)  # the shares are of flagged traffic; passing traffic is mostly dropped
        decided = _decide(by_id, limit=int(flagged * DECIDED_SHARE))
        decided += _second_reviews(by_id)
        escalated = _escalate(by_id, limit=int(flagged * ESCALATED_SHARE))
    version = _train_first_model() if train else None
    analytics_rollup()  # the dashboards show the demo's decisions without waiting for beat
    return DemoSummary(
        users=users,
        accepted=accepted,
        duplicates=duplicates,
        token=token,
        decided=decided,
        model_version=version,
        escalated=escalated,
    )


def _label(conversation: dict[str, Any]) -> dict[str, Any]:
    """The decision fields of a generated conversation's ground-truth label."""
    label = demo_label(conversation)
    return {key: label[key] for key in ("verdict", "categories", "severity", "preferred_response")}


def _decide(conversations: dict[int, dict[str, Any]], *, limit: int) -> int:
    """The demo reviewer labels the first `limit` routed conversations with their ground truth."""
    reviewer = User.objects.get(username="reviewer")
    items = ReviewItem.objects.filter(conversation_id__in=list(conversations), status=ItemStatus.OPEN)
    # The calibration sample first: it is what recall is measured on.
    calibration_first = Case(When(queue__kind=QueueKind.CALIBRATION, then=0), default=1)
    items = items.order_by(calibration_first, "pk")[:limit]
    for item in items:
        decision_record(
            item=item, reviewer=reviewer, rationale="Demo label.", **_label(conversations[item.conversation_id])
        )
    return len(items)


def _claim_this(item: ReviewItem, user: User) -> None:
    """Claim this very item, as a person who opened it from the queue would hold it (the workspace acts on held
    items only): the claim service, passing over every other item."""
    if item_claim(reviewer=user, queue=item.queue, avoid=~Q(pk=item.pk)) is None:
        raise RuntimeError(f"The demo could not claim item {item.pk}.")


def _second_reviews(conversations: dict[int, dict[str, Any]]) -> int:
    """The demo senior gives the second, blind review the policy asked for on a share of the items (double review,
    so the reviewers dashboard has agreement to measure); in a triage queue it is a reviewer's decision, not final."""
    senior = User.objects.get(username="senior")
    waiting = ReviewItem.objects.filter(
        conversation_id__in=list(conversations), status=ItemStatus.OPEN, reviews_done__gte=1
    ).order_by("pk")
    for item in waiting:
        decision_record(
            item=item, reviewer=senior, rationale="Demo second review.", **_label(conversations[item.conversation_id])
        )
    return len(waiting)


def _escalate(conversations: dict[int, dict[str, Any]], *, limit: int) -> int:
    """The demo reviewer escalates `limit` open items (model failures first); the demo senior resolves each.

    Through the workspace's own services, so the escalation, the senior's final decision and the audit trail are
    what a real escalation leaves behind.
    """
    if limit <= 0:
        return 0
    reviewer = User.objects.get(username="reviewer")
    senior = User.objects.get(username="senior")
    open_items = (
        ReviewItem.objects.select_related("queue")
        .filter(conversation_id__in=list(conversations), status=ItemStatus.OPEN)
        .exclude(queue__kind__in=[QueueKind.ESCALATION, QueueKind.ADJUDICATION])
        .order_by("pk")
    )
    failures_first = sorted(
        open_items, key=lambda i: demo_label(conversations[i.conversation_id])["verdict"] not in FAILURE_VERDICTS
    )
    chosen = failures_first[:limit]
    for n, item in enumerate(chosen):
        _claim_this(item, reviewer)
        escalation_raise(item=item, reviewer=reviewer, reason=ESCALATION_REASONS[n % len(ESCALATION_REASONS)])
        senior_item = ReviewItem.objects.select_related("queue").get(
            conversation_id=item.conversation_id, queue__kind=QueueKind.ESCALATION, status=ItemStatus.OPEN
        )
        _claim_this(senior_item, senior)
        decision_submit(
            item=senior_item,
            reviewer=senior,
            rationale="Senior ruling on a demo escalation.",
            **_label(conversations[item.conversation_id]),
        )
    return len(chosen)


def _train_first_model() -> int | None:
    """Train and promote a first head from the demo labels, unless a model is already active.

    Sent by task name, so the demo never imports the worker: without a broker it runs here and now (its version
    is returned); with one, it runs on the score worker and None is returned."""
    if ScoringModel.objects.filter(status=ModelStatus.ACTIVE).exists():
        return None
    enqueue(TRAIN_TASK, None, True, True, queue=TRAIN_QUEUE)
    active = ScoringModel.objects.filter(status=ModelStatus.ACTIVE).first()
    return active.version if active is not None else None
