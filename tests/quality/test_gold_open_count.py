"""A gold answer lowers the queue's open count as a real answer does: the copy stands in for a real item's slot
until that item closes, so the home page's figure gives no hint of which answers were gold."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from reviews.models import GoldPresentation, PolicyVersion, Queue, ReviewItem
from reviews.quality.gold import gold_mark
from reviews.workspace.decisions import decision_record
from reviews.workspace.reviewing import decision_submit, item_claim_next
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _real(n: int) -> ReviewItem:
    return make_item(n=n, policy_version=PolicyVersion.objects.filter(is_active=True).first())


def _open_shown(client: Client, queue: Queue) -> int:
    page = client.get(reverse("reviews:home")).content.decode()
    cell = page[page.index(f'id="queue-{queue.pk}-open"') :]
    return int(cell[cell.index(">") + 1 : cell.index("</td>")])


def test_a_gold_answer_and_a_real_answer_lower_the_open_count_alike(
    reviewer: User, senior: User, client: Client
) -> None:
    original = _real(900)
    decision_record(item=original, reviewer=senior, verdict="appropriate_refusal", categories=["cyber"], severity=2)
    gold_mark(item=original, senior=senior)
    real = [_real(n) for n in range(1, 4)]
    queue = Queue.objects.get(slug="triage")
    client.force_login(reviewer)
    assert _open_shown(client, queue) == 3

    queue.gold_percent = 100
    queue.save(update_fields=["gold_percent"])
    presented = item_claim_next(reviewer=reviewer, queue=queue)
    assert presented is not None and GoldPresentation.objects.filter(item=presented).exists()
    assert _open_shown(client, queue) == 3  # claimed: unchanged, as a real claim leaves it
    decision_submit(item=presented, reviewer=reviewer, verdict="appropriate_refusal")
    assert _open_shown(client, queue) == 2  # answered: one fewer, as a real answer makes it

    queue.gold_percent = 0
    queue.save(update_fields=["gold_percent"])
    claimed = item_claim_next(reviewer=reviewer, queue=queue)
    assert claimed is not None and claimed.pk == real[0].pk  # the slot is the one claims reach last
    assert _open_shown(client, queue) == 2
    decision_submit(item=claimed, reviewer=reviewer, verdict="appropriate_refusal")
    assert _open_shown(client, queue) == 1

    for item in real[1:]:  # the last of them is the slot: closing it leaves the figure exact again
        decision_record(item=item, reviewer=senior, verdict="appropriate_help")
    assert _open_shown(client, queue) == 0 == ReviewItem.objects.filter(queue=queue, status="open").count()
