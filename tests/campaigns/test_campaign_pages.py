"""The campaigns page and one campaign: counts as the user may see them, escaped word diffs, bounded queries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from reviews.campaigns.diff import word_diff
from reviews.models import Campaign, Queue
from tests.campaigns.conftest import member


def test_the_word_diff_marks_only_what_changed() -> None:
    segments = word_diff("how do I hotwire a car today", "how do I hotwire a truck today")
    assert [(s.text, s.changed) for s in segments] == [
        ("how do I hotwire a ", False),
        ("truck", True),
        (" today", False),
    ]


@pytest.mark.django_db
def test_the_list_shows_visible_members_growth_sources_and_top_risk(
    reviewer: User, client: Client, campaign: Campaign
) -> None:
    client.force_login(reviewer)
    page = client.get(reverse("reviews:campaigns")).content.decode()
    row = page[page.index(f'id="campaign-{campaign.pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="num">6</td>' in row and "+6" in row and "guard" in row and "0.62" in row


@pytest.mark.django_db
def test_members_in_queues_the_user_may_not_work_are_invisible(reviewer: User, client: Client) -> None:
    cbrn = Queue.objects.get(slug="triage")
    team = Group.objects.create(name="cbrn-team")
    cbrn.allowed_groups.set([team])  # triage is now the team's alone
    for n in range(3):
        member(n)
    campaign = Campaign.objects.get()
    client.force_login(reviewer)
    assert f'id="campaign-{campaign.pk}"' not in client.get(reverse("reviews:campaigns")).content.decode()
    assert client.get(reverse("reviews:campaign", args=[campaign.pk])).status_code == 404
    reviewer.groups.add(team)
    assert client.get(reverse("reviews:campaign", args=[campaign.pk])).status_code == 200


@pytest.mark.django_db
def test_a_campaign_opens_on_its_members_with_hostile_text_escaped(reviewer: User, client: Client) -> None:
    member(0, word="car")
    member(1, word="<marquee>")  # one word to the shingles: still a near-duplicate
    campaign = Campaign.objects.get()
    client.force_login(reviewer)
    page = client.get(reverse("reviews:campaign", args=[campaign.pk])).content.decode()
    assert "<marquee>" not in page
    assert "&lt;marquee&gt;?" in page
    assert page.count('class="member card"') == 2


@pytest.mark.django_db
def test_the_list_reads_in_a_fixed_number_of_queries(
    reviewer: User, client: Client, django_assert_max_num_queries: object
) -> None:
    client.force_login(reviewer)
    for campaigns in (1, 3):
        for n in range(campaigns * 2):  # pairs of near-duplicates, each pair its own campaign
            member(100 * campaigns + n, word=f"{'x' * (n // 2)} gardening request about roses {n // 2}")
        client.get(reverse("reviews:campaigns"))
        # session, user, roles (twice), the queues the user may work, the page, its figures: whatever it holds
        with django_assert_max_num_queries(7):  # type: ignore[operator]
            page = client.get(reverse("reviews:campaigns")).content.decode()
        assert page.count('<tr id="campaign-') == Campaign.objects.count()
