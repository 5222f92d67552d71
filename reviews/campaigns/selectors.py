"""Reads of campaigns, scoped by the one visibility rule: a member exists for a user only while its conversation
has an item in a queue they may work (reviews/workspace/visibility.py), and a campaign only while it has such a
member. Counts, sources and risk shown are those of the visible members."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from reviews.campaigns.diff import Segment, word_diff
from reviews.ingest.minhash import stored_request_text
from reviews.models import (
    BulkVerdict,
    Campaign,
    CampaignMember,
    Decision,
    ItemStatus,
    QueueKind,
    ReviewItem,
    Verdict,
)
from reviews.workspace.visibility import conversation_turns, items_visible_eager

PAGE = 25
RECENT = 100  # members per campaign the list's figures are taken over: the page costs the same at any size
SAMPLE = 12  # members shown when a campaign opens
_CAMPAIGN = "conversation__campaign_member__campaign"
SENIOR_QUEUES = (QueueKind.ESCALATION, QueueKind.ADJUDICATION)


@dataclass
class CampaignRow:
    campaign: Campaign
    size: int = 0
    growth: int = 0  # visible members that joined in the last day
    top_risk: float | None = None
    sources: list[str] = field(default_factory=list)
    capped: bool = False  # figures are of the newest RECENT members; the campaign has more


def _visible_items(user: Any) -> QuerySet[ReviewItem]:
    # The queue rule decided first (one small query): a plain `queue_id IN (...)` lets the planner drive every
    # read here from the campaign's members rather than from the items of the queues the user may work.
    return items_visible_eager(user=user)


def campaigns_visible(*, user: Any, items: QuerySet[ReviewItem] | None = None) -> QuerySet[Campaign]:
    """Campaigns with at least one member the user may see (`items`: `_visible_items(user)` when already read)."""
    member = (_visible_items(user) if items is None else items).filter(**{_CAMPAIGN: OuterRef("pk")})
    return Campaign.objects.filter(Exists(member))


def campaign_list(*, user: Any, page: int = 1) -> list[CampaignRow]:
    """Largest first (by all members: the order does not depend on the reader), each counted as the user sees
    it over its newest RECENT members (a larger campaign shows "RECENT+"). Two queries whatever the page holds:
    the page's campaigns with each one's cutoff (the joined_at of its RECENT-th newest member), then the figures
    of every campaign on the page at once, by campaign and source."""
    visible = _visible_items(user)
    newest = CampaignMember.objects.filter(campaign=OuterRef("pk")).order_by("-joined_at")
    ranked = campaigns_visible(user=user, items=visible).order_by("-size", "pk")
    ranked = ranked.annotate(cutoff=Subquery(newest.values("joined_at")[RECENT - 1 : RECENT]))
    campaigns = list(ranked[(page - 1) * PAGE : page * PAGE])
    rows = {c.pk: CampaignRow(campaign=c, capped=c.size > RECENT) for c in campaigns}
    if not rows:
        return []
    # One index range per campaign on the members' (campaign, joined_at) index, OR-ed: a bitmap of at most
    # PAGE x RECENT members, each joined to its items by conversation.
    ranges = Q()
    for c in campaigns:
        cutoff = c.cutoff if c.size > RECENT else None
        ranges |= Q(campaign=c, joined_at__gte=cutoff) if cutoff is not None else Q(campaign=c)
    members = CampaignMember.objects.filter(ranges).values("conversation_id")
    since = timezone.now() - timedelta(days=1)
    items = visible.filter(conversation_id__in=members)
    figures = items.values_list(_CAMPAIGN, "conversation__source__name").annotate(
        size=Count("conversation", distinct=True),
        growth=Count("conversation", distinct=True, filter=Q(conversation__campaign_member__joined_at__gte=since)),
        top=Max("risk"),
    )
    for campaign_id, source, size, growth, top in figures.order_by():
        row = rows[campaign_id]
        row.size, row.growth = row.size + size, row.growth + growth
        row.top_risk = top if row.top_risk is None or (top is not None and top > row.top_risk) else row.top_risk
        row.sources.append(source)
    for row in rows.values():
        row.sources.sort()
    return list(rows.values())


def campaign_visible(*, user: Any, pk: int) -> Campaign | None:
    return campaigns_visible(user=user).filter(pk=pk).first()


@dataclass
class Member:
    item: ReviewItem
    segments: list[Segment]
    blurred: bool
    is_reference: bool = False


@dataclass
class Sample:
    """The settled decisions (not bulk) on the campaign's members the user may see, and whether they agree."""

    decisions: list[Decision]
    needed: int

    @property
    def verdicts(self) -> set[str]:
        return {d.verdict for d in self.decisions}

    @property
    def verdict(self) -> str | None:
        return next(iter(self.verdicts)) if len(self.verdicts) == 1 else None

    @property
    def verdict_labels(self) -> list[str]:
        return sorted(str(Verdict(v).label) for v in self.verdicts if v in Verdict.values)

    @property
    def ready(self) -> bool:
        return self.verdict is not None and len({d.item.conversation_id for d in self.decisions}) >= self.needed

    @property
    def categories(self) -> list[str]:
        return sorted({c for d in self.decisions for c in d.categories})

    @property
    def severity(self) -> int:
        return max((d.severity for d in self.decisions), default=0)


def campaign_sample(*, user: Any, campaign: Campaign) -> Sample:
    decisions = Decision.objects.filter(
        item__in=_visible_items(user).filter(**{_CAMPAIGN: campaign}, status=ItemStatus.DONE),
        bulk__isnull=True,
        is_imported=False,
    ).exclude(verdict="")
    rows = decisions.select_related("item", "reviewer").order_by("created_at", "pk")
    return Sample(decisions=list(rows), needed=settings.CAMPAIGN_SAMPLE_MIN)


def campaign_open_items(*, user: Any, campaign: Campaign) -> QuerySet[ReviewItem]:
    """Open items of the campaign the user may work and a bulk verdict may decide: not the seniors' inboxes, not
    one the user has decided already, not one another reviewer holds under a live lease."""
    items = _visible_items(user).filter(**{_CAMPAIGN: campaign}, status=ItemStatus.OPEN)
    held_by_another = Q(claimed_by__isnull=False, lease_expires_at__gt=timezone.now()) & ~Q(claimed_by=user)
    return items.exclude(queue__kind__in=SENIOR_QUEUES).exclude(decisions__reviewer=user).exclude(held_by_another)


def bulk_verdicts(*, campaign: Campaign) -> list[BulkVerdict]:
    return list(campaign.bulk_verdicts.select_related("applied_by", "reverted_by").order_by("-created_at", "-pk"))


def campaign_members(*, user: Any, campaign: Campaign) -> list[Member]:
    """A sample of the visible members, open ones first, newest first; each request diffed word by word against
    the first one shown. Blurred requests (reviews/workspace/visibility.py's rule) show no text."""
    items = _visible_items(user).filter(**{_CAMPAIGN: campaign})
    # Open ones, then the rest, each newest first: two walks down the members' (campaign, joined_at) index that
    # stop after a few rows, where ordering open-first in one query sorted every member of a large campaign.
    newest = ("-conversation__campaign_member__joined_at", "-pk")
    ids = list(items.filter(status=ItemStatus.OPEN).order_by(*newest).values_list("pk", flat=True)[: SAMPLE * 2])
    if len(ids) < SAMPLE * 2:
        rest = items.exclude(status=ItemStatus.OPEN).order_by(*newest).values_list("pk", flat=True)
        ids += rest[: SAMPLE * 2 - len(ids)]
    loaded = items.filter(pk__in=ids).select_related("queue", "conversation__source")
    loaded = loaded.prefetch_related("conversation__flags", "conversation__scores")
    by_pk = {item.pk: item for item in loaded}
    chosen = [by_pk[pk] for pk in ids if pk in by_pk]
    reference, seen = "", set()
    members: list[Member] = []
    for item in chosen:
        conversation = item.conversation
        if conversation.pk in seen or len(members) == SAMPLE:
            continue
        seen.add(conversation.pk)
        turns = conversation_turns(
            conversation=conversation,
            user=user,
            flags=list(conversation.flags.all()),
            scores=sorted(conversation.scores.all(), key=lambda s: (s.created_at, s.pk), reverse=True),
        )
        blurred = any(t.blurred for t in turns if t.role == "user")
        text = stored_request_text(conversation.messages)
        is_reference = not members
        if is_reference:
            reference = text
        segments = [Segment(text[:4000], False)] if is_reference else word_diff(reference, text)
        members.append(Member(item=item, segments=segments, blurred=blurred, is_reference=is_reference))
    return members
