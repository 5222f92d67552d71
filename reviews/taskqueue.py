"""Sending tasks, by name: a leaf module (it imports no other part of Oversight), so any feature may enqueue.

The web side never imports a task's code: torch stays in the worker, and no service imports the module that
imports services (reviews/tasks.py). Every task name and the queue it runs on is here.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
SCORE_QUEUE = "score"  # the worker's queue: everything that needs torch

# worker/tasks.py
SCORE_TASK = "worker.score_conversations"
TRAIN_TASK = "worker.train_model"
TRAIN_QUEUE = SCORE_QUEUE
# reviews/tasks.py
SWEEP_UNSCORED_TASK = "reviews.sweep_unscored"
SLA_SWEEP_TASK = "reviews.sla_sweep"
ANALYTICS_ROLLUP_TASK = "reviews.analytics_rollup"
AUDIT_HEAD_TASK = "reviews.audit_head"
EXPORT_TASK = "reviews.export_dataset"
CAMPAIGNS_TASK = "reviews.campaigns_cluster"
SWEEP_UNCLUSTERED_TASK = "reviews.sweep_unclustered"
BULK_APPLY_TASK = "reviews.bulk_verdict_apply"


def enqueue(name: str, *args: Any, queue: str = DEFAULT_QUEUE) -> None:
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
