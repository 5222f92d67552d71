"""Dataset snapshots of decisions and their lineage."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


def pack_decision_ids(decision_ids: Iterable[int]) -> bytes:
    """`DatasetLineage.decision_ids`: ascending int64, little-endian."""
    packed = array("q", sorted(decision_ids))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack_decision_ids(blob: bytes | memoryview) -> array[int]:
    ids = array("q")
    ids.frombytes(bytes(blob))
    if sys.byteorder == "big":
        ids.byteswap()
    return ids


class DatasetKind(models.TextChoices):
    PREFERENCE = "preference", "Preference pairs"
    SFT = "sft", "Supervised fine-tuning"
    CLASSIFIER = "classifier", "Classifier labels"
    EVAL = "eval", "Evaluation set"


class DatasetFormat(models.TextChoices):
    JSONL = "jsonl", "JSONL"
    JSONL_GZ = "jsonl.gz", "JSONL (gzip)"
    PARQUET = "parquet", "Parquet"


class DatasetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Dataset(models.Model):
    """An immutable snapshot of decisions turned into training data."""

    kind = models.CharField(max_length=16, choices=DatasetKind.choices)
    format = models.CharField(max_length=16, choices=DatasetFormat.choices, default=DatasetFormat.JSONL)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.PENDING)
    row_count = models.PositiveIntegerField(default=0)
    split_counts = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=dict, blank=True, help_text="Split name → {path, sha256, rows}.")
    card = models.TextField(blank=True)
    taxonomy_version = models.CharField(max_length=64, blank=True)
    policy_version = models.CharField(max_length=64, blank=True)
    is_stale = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(db_default=Now())
    # Build options and lineage (see reviews/datasets/).
    seed = models.PositiveIntegerField(default=0, help_text="Split seed: a conversation's split is a hash of it.")
    split_ratios = models.JSONField(default=dict, blank=True, help_text="Split name → share, e.g. train 0.8.")
    license = models.CharField(max_length=100, blank=True)
    label_distribution = models.JSONField(default=dict, blank=True)
    skipped = models.JSONField(default=dict, blank=True, help_text="Reason → conversations left out.")
    stale_changes = models.JSONField(default=list, blank=True, help_text="What changed since the build.")
    # Work state of the build task.
    progress = models.PositiveIntegerField(default=0, help_text="Conversations read so far.")
    total = models.PositiveIntegerField(default=0, help_text="Conversations to read (estimated at start).")
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} dataset {self.pk}"

    def decision_ids(self) -> list[int]:
        """Every decision the snapshot used, ascending (from its lineage rows)."""
        ids: list[int] = []
        for blob in self.lineage.values_list("decision_ids", flat=True):
            ids.extend(unpack_decision_ids(blob))
        return sorted(ids)

    @property
    def is_building(self) -> bool:
        """Pending or running: the build has not ended (the page keeps polling it, cancel still applies)."""
        return self.status in (DatasetStatus.PENDING, DatasetStatus.RUNNING)

    @property
    def percent(self) -> int:
        return 100 if self.status == DatasetStatus.READY else min(99, 100 * self.progress // max(1, self.total))


class DatasetLineage(models.Model):
    """The decisions a snapshot used, for one chunk of conversations: ids packed, not one row per decision.

    A row per decision cost the build more than writing the files (index and foreign-key work per row, and
    a row lock on every decision referenced); a snapshot of 1M decisions now adds ~200 rows of 40 KB.
    Conversation ranges of a snapshot's chunks do not overlap, so "which snapshots used this conversation's
    decisions" reads the few rows whose range holds it. See reviews/datasets/lineage.py.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="lineage")
    first_conversation_id = models.BigIntegerField()
    last_conversation_id = models.BigIntegerField()
    decision_ids = models.BinaryField(help_text="Ascending int64, little-endian.")

    class Meta:
        indexes = [models.Index(fields=["last_conversation_id", "first_conversation_id"], name="lineage_range")]

    def __str__(self) -> str:
        return f"dataset {self.dataset_id} conversations {self.first_conversation_id}..{self.last_conversation_id}"
