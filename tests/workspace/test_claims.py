"""Claim next: no item is ever claimed twice, leases expire, and a naive claim would fail the same test."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection, connections, transaction
from django.utils import timezone

from reviews.models import Conversation, Decision, Queue, ReviewItem, Source
from reviews.workspace.claims import item_claim, item_renew_lease
from reviews.workspace.errors import ClaimConflict


def _items(n: int, queue: Queue) -> None:
    source = Source.objects.create(name=f"load-{n}", kind="sampler")
    conversations = Conversation.objects.bulk_create(
        [Conversation(source=source, external_id=str(i), messages=[]) for i in range(n)], batch_size=2000
    )
    ReviewItem.objects.bulk_create(
        [ReviewItem(conversation=c, queue=queue, priority=i % 97) for i, c in enumerate(conversations)],
        batch_size=2000,
    )


def _reviewers(n: int) -> list[User]:
    group = Group.objects.get(name="reviewer")
    users = User.objects.bulk_create([User(username=f"r{i}") for i in range(n)])
    for user in users:
        user.groups.add(group)
    return users


def _naive_claim(*, reviewer: User, queue: Queue) -> ReviewItem | None:
    """Select, then update: the race the real claim exists to prevent."""
    item = ReviewItem.objects.filter(queue=queue, status="open").order_by("-priority").first()
    if item is not None:
        ReviewItem.objects.filter(pk=item.pk).update(claimed_by=reviewer)
    return item


def _hammer(claim, reviewers: list[User], queue: Queue) -> list[tuple[int, int]]:
    taken: list[tuple[int, int]] = []
    lock = threading.Lock()

    def work(reviewer: User) -> None:
        try:
            while True:
                item = claim(reviewer=reviewer, queue=queue)
                if item is None:
                    return
                with lock:
                    taken.append((item.pk, reviewer.pk))
                # Done with it, as a reviewer would be: claimed items don't pile up in the queue.
                ReviewItem.objects.filter(pk=item.pk).update(status="done")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(r,)) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return taken


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED concurrency needs PostgreSQL")


@postgres_only
@pytest.mark.timeout(1200)  # 10,000 claims by 50 threads on 2 loaded cores: minutes, and a hang must still end
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_reviewers_claiming_ten_thousand_items_never_share_one():
    queue = Queue.objects.get(slug="triage")
    _items(10_000, queue)
    reviewers = _reviewers(50)

    taken = _hammer(item_claim, reviewers, queue)

    items = [pk for pk, _ in taken]
    assert len(items) == 10_000
    assert len(set(items)) == len(items)  # zero double claims


@postgres_only
@pytest.mark.timeout(1200)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_test_finds_doubles_in_a_naive_claim():
    queue = Queue.objects.get(slug="triage")
    _items(3_000, queue)
    reviewers = _reviewers(50)

    taken = _hammer(_naive_claim, reviewers, queue)

    items = [pk for pk, _ in taken]
    assert len(set(items)) < len(items)  # the race is real, so the test above can fail


@pytest.mark.django_db
def test_claim_resumes_your_item_then_gives_the_next_and_respects_leases(reviewer, senior):
    queue = Queue.objects.get(slug="triage")
    _items(2, queue)

    first = item_claim(reviewer=reviewer, queue=queue)
    assert item_claim(reviewer=reviewer, queue=queue) == first  # your open item comes back
    other = item_claim(reviewer=senior, queue=queue)
    assert other != first

    ReviewItem.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert item_claim(reviewer=senior, queue=queue) in (first, other)


@pytest.mark.django_db
def test_a_higher_priority_arrival_does_not_strand_the_item_you_hold(reviewer):
    queue = Queue.objects.get(slug="triage")
    _items(1, queue)
    held = item_claim(reviewer=reviewer, queue=queue)
    source = Source.objects.get(name="load-1")
    urgent = Conversation.objects.create(source=source, external_id="urgent", messages=[])
    ReviewItem.objects.create(conversation=urgent, queue=queue, priority=10_000)

    assert item_claim(reviewer=reviewer, queue=queue) == held


@pytest.mark.django_db
def test_renewing_a_lease_that_passed_to_someone_else_is_refused(reviewer, senior):
    queue = Queue.objects.get(slug="triage")
    _items(1, queue)
    item = item_claim(reviewer=reviewer, queue=queue)
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    taken = item_claim(reviewer=senior, queue=queue)
    assert taken == item

    with pytest.raises(ClaimConflict):
        item_renew_lease(item=item, reviewer=reviewer)
    renewed = item_renew_lease(item=item, reviewer=senior)
    assert renewed.lease_expires_at > timezone.now()


@pytest.mark.django_db
def test_nobody_claims_from_a_queue_they_may_not_work(reviewer):
    queue = Queue.objects.get(slug="escalation")
    _items(1, queue)

    with transaction.atomic():
        assert item_claim(reviewer=reviewer, queue=queue) is None


def _both_paths(reviewer: User, queue: Queue, exclude: tuple[int, ...] = ()) -> tuple[int | None, int | None]:
    """What the prepared PostgreSQL claim takes, and what the ORM claim (used inside a transaction) takes from
    the same state: each claim is undone before the next."""
    taken = []
    for in_transaction in (False, True):
        state = {
            pk: (by, until) for pk, by, until in ReviewItem.objects.values_list("pk", "claimed_by", "lease_expires_at")
        }
        if in_transaction:
            with transaction.atomic():
                item = item_claim(reviewer=reviewer, queue=queue, exclude=exclude)
        else:
            item = item_claim(reviewer=reviewer, queue=queue, exclude=exclude)
        taken.append(item.pk if item else None)
        for pk, (by, until) in state.items():
            ReviewItem.objects.filter(pk=pk).update(claimed_by=by, lease_expires_at=until)
    return taken[0], taken[1]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_prepared_claim_takes_what_the_orm_claim_takes(reviewer, senior):
    if connection.vendor != "postgresql":
        pytest.skip("the prepared claim is PostgreSQL's; elsewhere the ORM claim is the only one")
    queue = Queue.objects.get(slug="triage")
    source = Source.objects.create(name="paths", kind="sampler")
    now = timezone.now()
    items = []
    for i, priority in enumerate([5, 9, 9, 1, 7]):
        conversation = Conversation.objects.create(source=source, external_id=str(i), messages=[])
        items.append(
            ReviewItem.objects.create(
                conversation=conversation, queue=queue, priority=priority, created_at=now - timedelta(minutes=i)
            )
        )
    # Highest priority first, the older of two equal ones first.
    assert _both_paths(reviewer, queue) == (items[2].pk, items[2].pk)
    # Held by someone else: passed over; their expired lease: free again; your own: yours.
    ReviewItem.objects.filter(pk=items[2].pk).update(claimed_by=senior, lease_expires_at=now + timedelta(hours=1))
    assert _both_paths(reviewer, queue) == (items[1].pk, items[1].pk)
    ReviewItem.objects.filter(pk=items[2].pk).update(lease_expires_at=now - timedelta(seconds=1))
    assert _both_paths(reviewer, queue) == (items[2].pk, items[2].pk)
    ReviewItem.objects.filter(pk=items[2].pk).update(claimed_by=reviewer, lease_expires_at=now + timedelta(hours=1))
    assert _both_paths(senior, queue) == (items[1].pk, items[1].pk)
    # Skipped items and items the reviewer already decided are passed over; other states too.
    assert _both_paths(senior, queue, exclude=(items[1].pk,)) == (items[4].pk, items[4].pk)
    Decision.objects.create(item=items[4], reviewer=senior, verdict="over_refusal")
    ReviewItem.objects.filter(pk=items[0].pk).update(status="done")
    assert _both_paths(senior, queue, exclude=(items[1].pk,)) == (items[3].pk, items[3].pk)
    # The item you hold comes back before any other, even when a higher-priority one is free.
    ReviewItem.objects.filter(pk=items[3].pk).update(claimed_by=senior, lease_expires_at=now + timedelta(hours=1))
    assert _both_paths(senior, queue, exclude=(items[1].pk,)) == (items[3].pk, items[3].pk)
    ReviewItem.objects.filter(pk=items[3].pk).update(claimed_by=None, lease_expires_at=None)
    # No access: neither path hands out anything; a superuser needs no group.
    outsider = User.objects.create_user("nobody")
    assert _both_paths(outsider, queue) == (None, None)
    root = User.objects.create_superuser("root")
    assert _both_paths(root, queue) == (items[1].pk, items[1].pk)
    Queue.objects.filter(pk=queue.pk).update(is_active=False)
    queue.refresh_from_db()
    assert _both_paths(reviewer, queue) == (None, None)
