"""A large campaign's bulk verdict goes to a task: applied in batches with its progress on the page, safe to run
twice, never past a queue's hard-limit daily cap; and on a real Celery worker over Redis and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from reviews.campaigns import bulk as bulk_module
from reviews.campaigns.bulk import CampaignError, bulk_verdict_apply, bulk_verdict_revert, bulk_verdict_run
from reviews.campaigns.selectors import campaign_open_items
from reviews.models import AuditAction, AuditEvent, BulkStatus, BulkVerdict, Campaign, Decision, Flag, ItemStatus, Queue
from tests import workerproc
from tests.campaigns.conftest import member
from tests.workerproc import needs_redis_and_postgres, wait_for

worker = workerproc.worker  # fixture


def _sample(user: User, campaign: Campaign, n: int = 3) -> None:
    for item in list(campaign_open_items(user=user, campaign=campaign).order_by("pk"))[:n]:
        bulk_module.campaign_sample_decide(user=user, campaign=campaign, item_id=item.pk, verdict="harmful_compliance")


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past two members a bulk verdict is a task, two members per batch: the campaign fixture's three open
    members take two batches."""
    monkeypatch.setattr(bulk_module, "INLINE_MAX", 2)
    monkeypatch.setattr(bulk_module, "BATCH", 2)


@pytest.mark.django_db
def test_a_large_bulk_verdict_is_applied_by_the_task_and_shows_progress_until_done(
    reviewer: User,
    client: Client,
    campaign: Campaign,
    small_batches: None,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    _sample(reviewer, campaign)
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=False) as queued:  # the task is sent, not yet run
        page = client.post(reverse("reviews:campaign-apply", args=[campaign.pk])).content.decode()
    bulk = BulkVerdict.objects.get()
    assert bulk.status == BulkStatus.APPLYING and len(bulk.item_ids) == 3 and len(queued) == 1
    assert "in the background" in page and 'hx-trigger="every 2s"' in page and 'id="bulk-apply"' not in page
    assert 'value="0"' in page and "0 of 3" in page
    with pytest.raises(CampaignError, match="still being applied"):
        bulk_verdict_apply(user=reviewer, campaign=campaign)
    with pytest.raises(CampaignError, match="still being applied"):
        bulk_verdict_revert(user=reviewer, bulk=bulk)
    queued[0]()  # the task, in-process (tests run tasks eagerly)
    bulk.refresh_from_db()
    assert (bulk.status, bulk.progress, bulk.applied_count) == (BulkStatus.APPLIED, 3, 3)
    assert not campaign_open_items(user=reviewer, campaign=campaign).exists()
    page = client.get(reverse("reviews:campaign", args=[campaign.pk])).content.decode()
    assert "every 2s" not in page and f'id="bulk-revert-{bulk.pk}"' in page
    event = AuditEvent.objects.get(action=AuditAction.BULK_VERDICT)
    assert sorted(event.data["items"]) == sorted(bulk.item_ids)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # real commits: the task runs at commit
def test_without_a_broker_the_task_runs_in_process_before_the_page_answers(
    reviewer: User, client: Client, campaign: Campaign, small_batches: None
) -> None:
    _sample(reviewer, campaign)
    client.force_login(reviewer)
    page = client.post(reverse("reviews:campaign-apply", args=[campaign.pk])).content.decode()
    assert "Applied to 3 open members." in page and "every 2s" not in page
    assert BulkVerdict.objects.get().status == BulkStatus.APPLIED


@pytest.mark.django_db
def test_the_task_run_twice_decides_each_member_once(
    reviewer: User, campaign: Campaign, small_batches: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    _sample(reviewer, campaign)
    with django_capture_on_commit_callbacks(execute=False):
        bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    BulkVerdict.objects.filter(pk=bulk.pk).update(progress=0)
    first, second = bulk_verdict_run(bulk_id=bulk.pk), bulk_verdict_run(bulk_id=bulk.pk)
    assert first.applied_count == second.applied_count == 3
    assert Decision.objects.filter(bulk=bulk).count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.BULK_VERDICT).count() == 1


@pytest.mark.django_db
def test_a_run_cut_short_resumes_where_its_last_batch_committed(
    reviewer: User, campaign: Campaign, small_batches: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    _sample(reviewer, campaign)
    with django_capture_on_commit_callbacks(execute=False):
        bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    bulk_module._apply_batch(bulk, bulk.item_ids[:2])  # a first batch committed, then the worker died
    BulkVerdict.objects.filter(pk=bulk.pk).update(progress=2, applied_count=2)
    assert bulk_verdict_run(bulk_id=bulk.pk).applied_count == 3
    assert Decision.objects.filter(bulk=bulk).count() == 3


@pytest.mark.django_db
def test_hard_limit_members_past_the_daily_cap_stay_open(reviewer: User, campaign: Campaign) -> None:
    Queue.objects.filter(slug="triage").update(hard_limit_daily_cap=1)
    _sample(reviewer, campaign)  # on members without a hard-limit flag
    rest = list(campaign_open_items(user=reviewer, campaign=campaign).order_by("pk"))
    for item in rest[:2]:
        Flag.objects.create(conversation_id=item.conversation_id, detector="guard", category="violent-crime", score=1)
    bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    assert (bulk.applied_count, bulk.capped_count) == (2, 1)
    left = campaign_open_items(user=reviewer, campaign=campaign).get()
    assert left.pk == rest[1].pk and left.status == ItemStatus.OPEN


@pytest.mark.worker
@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@needs_redis_and_postgres
def test_a_real_worker_applies_a_large_bulk_verdict(worker: Any, settings: Any, monkeypatch: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(bulk_module, "INLINE_MAX", 2)
    Queue.objects.filter(slug="triage").update(edit_window_minutes=0)
    reviewer = User.objects.create_user(username="worker-reviewer")
    reviewer.groups.add(Group.objects.get(name="reviewer"))
    for n in range(8):
        member(n)
    campaign = Campaign.objects.get()
    _sample(reviewer, campaign)
    bulk = bulk_verdict_apply(user=reviewer, campaign=campaign)
    assert bulk.status == BulkStatus.APPLYING and len(bulk.item_ids) == 5
    worker()
    wait_for(lambda: BulkVerdict.objects.filter(pk=bulk.pk, status=BulkStatus.APPLIED).exists(), 120, "the bulk task")
    assert Decision.objects.filter(bulk=bulk).count() == 5
    assert not campaign_open_items(user=reviewer, campaign=campaign).exists()
