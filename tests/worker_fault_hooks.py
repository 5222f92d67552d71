"""Test-only hooks for a Celery worker that a fault test starts with `--include tests.worker_fault_hooks`.

The product never imports this module. Both hooks act in `worker.scoring.embed`, where the encoder spends its
time: after the scoring attempt is counted, before any result is written.

- TEST_POISON_MARKER: scoring a conversation whose messages hold the marker SIGKILLs the pool process, every
  time, as a crash in native code (tokenizer, torch) would.
- TEST_BUSY_FILE, TEST_EMBED_SECONDS: while a batch is in `embed`, the file holds its conversation ids, and the
  batch takes TEST_EMBED_SECONDS per conversation there, as encoding would; so a test kills a worker in the
  middle of a batch it knows, not by luck, and without spending the CPU an encoder would.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

# Imported in the parent, before the pool forks: a child the test kills is replaced at once. Importing torch
# in each new child instead can outlast the pool's start-up timeout on a loaded machine.
import torch  # noqa: F401
from celery.signals import task_prerun

_armed: list[bool] = []


@task_prerun.connect
def _arm(**_: Any) -> None:
    """Once per pool process, before its first task (Django is set up by then)."""
    if _armed:
        return
    _armed.append(True)
    from reviews.models import Conversation
    from worker import scoring

    marker = os.environ.get("TEST_POISON_MARKER", "")
    busy = Path(os.environ["TEST_BUSY_FILE"]) if os.environ.get("TEST_BUSY_FILE") else None
    seconds = float(os.environ.get("TEST_EMBED_SECONDS", "0"))
    real_embed = scoring.embed

    def embed(conversation_ids: list[int], **options: Any) -> Any:
        if marker:
            messages = Conversation.objects.filter(pk__in=conversation_ids).values_list("messages", flat=True)
            if any(marker in json.dumps(m) for m in messages):
                os.kill(os.getpid(), signal.SIGKILL)
        if busy is not None:
            staged = busy.with_suffix(".tmp")
            staged.write_text(json.dumps(conversation_ids))
            staged.replace(busy)  # whole or absent to a reader
        time.sleep(seconds * len(conversation_ids))
        vectors = real_embed(conversation_ids, **options)
        if busy is not None:
            busy.unlink(missing_ok=True)
        return vectors

    scoring.embed = embed
