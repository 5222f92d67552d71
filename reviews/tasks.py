"""Task plumbing for the web side: tasks are sent by name, so torch stays in the worker."""

import logging
from typing import Any

from celery import current_app, shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


def enqueue(name: str, *args: Any, queue: str = "default") -> None:
    """Send task `name`; with no broker configured, run it here and now instead."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if name not in current_app.tasks:
            current_app.loader.import_default_modules()  # autodiscovery, which only workers do at start
        # Not throw=True: a task's own retries must run here too, as a worker would run them.
        result = current_app.tasks[name].apply(args=args, throw=False)
        if result.failed():
            logger.error("in-process task %s failed: %r", name, result.result)
    else:
        current_app.send_task(name, args=args, queue=queue)


@shared_task(name="reviews.sweep_unscored", acks_late=True)
def sweep_unscored() -> int:
    """Beat runs this: conversations whose scoring task was lost are enqueued again."""
    from reviews.services.scoring_attempts import scoring_sweep  # services import this module

    return scoring_sweep()


@shared_task(name="reviews.sla_sweep", acks_late=True)
def sla_sweep() -> int:
    """Beat runs this every minute: breaches are counted, hard-limit ones escalate."""
    from reviews.services.sla import sla_sweep as sweep

    return sweep().breached


@shared_task(name="reviews.analytics_rollup", acks_late=True)
def analytics_rollup() -> int:
    """Beat runs this every five minutes: the dashboards' rollups catch up. Returns the hours recomputed."""
    from reviews.services.analytics.rollup import analytics_rollup as rollup

    return rollup().hours


@shared_task(name="reviews.export_dataset", acks_late=True)
def export_dataset(dataset_id: int) -> str:
    """Build a dataset snapshot; a finished (or running) one is left as it is. Returns its status."""
    from reviews.services.datasets.builder import dataset_build

    return dataset_build(dataset_id=dataset_id).status
