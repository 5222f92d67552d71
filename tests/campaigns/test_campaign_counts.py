"""The campaigns pages' figures against a recount by hand: after clustering, sampled decisions, a bulk verdict and
its revert, and for a reader who may work one queue of a campaign that spans two."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reviews.campaigns import selectors
from reviews.campaigns.bulk import bulk_verdict_apply, bulk_verdict_revert, campaign_sample_decide
from reviews.models import Campaign, ItemStatus, Queue, ReviewItem
from reviews.workspace.visibility import user_may_work
from tests.campaigns.conftest import member

_ROW_FIGURES = re.compile(
    r'<td class="num">(\d+)\+?</td>\s*<td class="num">.*?(\d+)</span></td>\s*<td class="num">(\S+)</td>'
)


def _listed(client: Client, campaign: Campaign) -> tuple[int, int, str] | None:
    """(members, last day, top risk) as the list shows them, None when the campaign is not listed."""
    page = client.get(reverse("reviews:campaigns")).content.decode()
    if f'id="campaign-{campaign.pk}"' not in page:
        return None
    row = page[page.index(f'id="campaign-{campaign.pk}"') :]
    found = _ROW_FIGURES.search(row[: row.index("</tr>")])
    assert found is not None
    return int(found[1]), int(found[2]), found[3]


def _open_shown(client: Client, campaign: Campaign) -> int:
    page = client.get(reverse("reviews:campaign", args=[campaign.pk])).content.decode()
    if "no open member is left" in page:
        return 0
    found = re.search(r"(\d+) open member", page)
    assert found is not None
    return int(found[1])


def _recount(user: User, campaign: Campaign) -> tuple[int, int, str]:
    """Members, last day and top risk counted one item at a time, by the queue rule alone."""
    items = ReviewItem.objects.filter(conversation__campaign_member__campaign=campaign).select_related(
        "queue", "conversation__campaign_member"
    )
    seen = [i for i in items if user_may_work(user=user, queue=i.queue)]
    day_ago = timezone.now() - timezone.timedelta(days=1)
    recent = {i.conversation_id for i in seen if i.conversation.campaign_member.joined_at >= day_ago}
    return len({i.conversation_id for i in seen}), len(recent), f"{max(i.risk for i in seen):.2f}"


def _open_recount(user: User, campaign: Campaign) -> int:
    items = ReviewItem.objects.filter(conversation__campaign_member__campaign=campaign, status=ItemStatus.OPEN)
    return sum(
        1
        for i in items.select_related("queue")
        if user_may_work(user=user, queue=i.queue)
        and i.queue.kind not in selectors.SENIOR_QUEUES
        and not i.decisions.filter(reviewer=user).exists()
    )


def _agree(client: Client, user: User, campaign: Campaign) -> None:
    assert _listed(client, campaign) == _recount(user, campaign)
    assert _open_shown(client, campaign) == _open_recount(user, campaign)


@pytest.mark.django_db
def test_figures_match_a_recount_after_clustering_deciding_applying_and_reverting(
    reviewer: User, client: Client, campaign: Campaign
) -> None:
    client.force_login(reviewer)
    _agree(client, reviewer, campaign)
    ReviewItem.objects.filter(pk=member(6).pk).update(risk=0.91)  # clustering adds a riskier member
    _agree(client, reviewer, campaign)
    assert _listed(client, campaign) == (7, 7, "0.91")
    for item in list(selectors.campaign_open_items(user=reviewer, campaign=campaign).order_by("pk"))[:3]:
        campaign_sample_decide(user=reviewer, campaign=campaign, item_id=item.pk, verdict="harmful_compliance")
    _agree(client, reviewer, campaign)
    assert _open_shown(client, campaign) == 4
    bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    _agree(client, reviewer, campaign)
    assert _open_shown(client, campaign) == 0 and _listed(client, campaign) == (7, 7, "0.91")
    bulk_verdict_revert(user=reviewer, bulk=bulk)
    _agree(client, reviewer, campaign)
    assert _open_shown(client, campaign) == 4


@pytest.mark.django_db
def test_a_reviewer_of_one_queue_never_counts_another_queues_members(reviewer: User, client: Client) -> None:
    team = Group.objects.create(name="cbrn-team")
    Queue.objects.filter(slug="over-refusal").get().allowed_groups.set([team])
    for n in range(3):
        member(n)  # triage: the reviewer's
    for n in range(3, 7):
        ReviewItem.objects.filter(pk=member(n, "over-refusal").pk).update(risk=0.99)  # the team's alone
    campaign = Campaign.objects.get()
    assert campaign.size == 7
    client.force_login(reviewer)
    assert _listed(client, campaign) == (3, 3, "0.62") == _recount(reviewer, campaign)
    assert _open_shown(client, campaign) == 3
    Queue.objects.filter(slug="triage").get().allowed_groups.set([team])  # now nothing of it is the reviewer's
    assert _listed(client, campaign) is None
    assert client.get(reverse("reviews:campaign", args=[campaign.pk])).status_code == 404
    reviewer.groups.add(team)
    assert _listed(client, campaign) == (7, 7, "0.99") == _recount(reviewer, campaign)


@pytest.mark.django_db
def test_a_campaign_past_the_recent_window_is_counted_over_its_newest_members(
    reviewer: User, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "RECENT", 4)
    for n in range(6):
        member(n)
    campaign = Campaign.objects.get()
    ReviewItem.objects.filter(conversation_id=campaign.seed_id).update(risk=0.99)  # the oldest member
    client.force_login(reviewer)
    page = client.get(reverse("reviews:campaigns")).content.decode()
    assert '<td class="num">4+</td>' in page
    assert _listed(client, campaign) == (4, 4, "0.62")
