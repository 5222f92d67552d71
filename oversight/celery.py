"""The Celery app. Tasks are enqueued by name so the web process never imports torch."""

import os

from celery import Celery

from reviews.ops.heartbeats import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oversight.settings")

app = Celery("oversight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["reviews", "worker"])
app.steps["worker"].add(WorkerHeartbeat)  # seconds since each worker's last beat: /metrics
