"""Test-only hooks for a Celery worker that a fault test starts with `--include tests.worker_fault_hooks`.

The product never imports this module. Both hooks act in `worker.scoring.embed`, where the encoder spends its
time: after the scoring attempt is counted, before any result is written.

- TEST_POISON_MARKER: scoring a conversation whose messages hold the marker SIGKILLs the pool process, every
  time, as a crash in native code (tokenizer, torch) would.
- TEST_EMBED_SECONDS: a batch takes that long per conversation in `embed`, as encoding would, without spending
  the CPU an encoder would.
- TEST_HOLD_FILE, TEST_BUSY_FILE: while the hold file exists, a batch of several conversations entering `embed`
  writes its ids to the busy file and waits there until the hold file is gone (then removes the busy file);
  so a test kills a worker (one pool process) in the middle of a batch it knows, which cannot finish before
  the kill, however slow the machine.
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
    hold = Path(os.environ["TEST_HOLD_FILE"]) if os.environ.get("TEST_HOLD_FILE") else None
    seconds = float(os.environ.get("TEST_EMBED_SECONDS", "0"))
    real_embed = scoring.embed

    def embed(conversation_ids: list[int], **options: Any) -> Any:
        if marker:
            messages = Conversation.objects.filter(pk__in=conversation_ids).values_list("messages", flat=True)
            if any(marker in json.dumps(m) for m in messages):
                os.kill(os.getpid(), signal.SIGKILL)
        if busy is not None and hold is not None and len(conversation_ids) > 1 and hold.exists():
            staged = busy.with_suffix(f".{os.getpid()}.tmp")
            staged.write_text(json.dumps(conversation_ids))
            staged.replace(busy)  # whole or absent to a reader
            while hold.exists():
                time.sleep(0.02)
            busy.unlink(missing_ok=True)  # released, not killed: no longer the batch to kill
        time.sleep(seconds * len(conversation_ids))
        return real_embed(conversation_ids, **options)

    scoring.embed = embed
