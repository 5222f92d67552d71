"""The web side's Celery tasks: thin wrappers that call a feature's service, found by Celery's autodiscovery.

Nothing in Oversight imports this module: tasks are sent by name through reviews/taskqueue.py.
"""

from celery import shared_task

from reviews import taskqueue
from reviews.analytics.rollup import analytics_rollup as rollup
from reviews.audit import audit_head_log
from reviews.campaigns.bulk import bulk_verdict_run
from reviews.datasets.builder import dataset_build
from reviews.ingest.clustering_jobs import campaigns_cluster as cluster
from reviews.ingest.clustering_jobs import campaigns_sweep
from reviews.routing.sla import sla_sweep as sweep
from reviews.scoring.attempts import scoring_sweep


@shared_task(name=taskqueue.SWEEP_UNSCORED_TASK, acks_late=True)
def sweep_unscored() -> int:
    """Beat runs this: conversations whose scoring task was lost are enqueued again."""
    return scoring_sweep()


@shared_task(name=taskqueue.SLA_SWEEP_TASK, acks_late=True)
def sla_sweep() -> int:
    """Beat runs this every minute: breaches are counted, hard-limit ones escalate."""
    return sweep().breached


@shared_task(name=taskqueue.ANALYTICS_ROLLUP_TASK, acks_late=True)
def analytics_rollup() -> int:
    """Beat runs this every five minutes: the dashboards' rollups catch up. Returns the hours recomputed."""
    return rollup().hours


@shared_task(name=taskqueue.AUDIT_HEAD_TASK, acks_late=True)
def audit_head() -> int:
    """Beat runs this every five minutes: the audit trail's count and head hash go to the log. Returns the count."""
    return audit_head_log().events


@shared_task(name=taskqueue.EXPORT_TASK, acks_late=True)
def export_dataset(dataset_id: int) -> str:
    """Build a dataset snapshot; a finished (or running) one is left as it is. Returns its status."""
    return dataset_build(dataset_id=dataset_id).status


@shared_task(name=taskqueue.CAMPAIGNS_TASK, acks_late=True)
def campaigns_cluster(conversation_ids: list[int]) -> int:
    """File newly ingested conversations under their campaigns; those already filed are skipped. Returns how many
    were filed."""
    return cluster(conversation_ids=conversation_ids)


@shared_task(name=taskqueue.SWEEP_UNCLUSTERED_TASK, acks_late=True)
def sweep_unclustered() -> int:
    """Beat runs this: conversations whose clustering task was lost are enqueued again."""
    return campaigns_sweep()


@shared_task(name=taskqueue.BULK_APPLY_TASK, acks_late=True)
def bulk_verdict_apply(bulk_id: int) -> int:
    """A large campaign's bulk verdict, in batches; a finished one is left as it is. Returns the members decided."""
    return bulk_verdict_run(bulk_id=bulk_id).applied_count
