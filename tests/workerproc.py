"""Real Celery worker processes for tests: start them against the test database, kill them, wait on them.

Used by tests/scoring/test_worker_process.py and the fault tests (tests/*/test_faults_*.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from django.db import connection

from reviews.demo.data import generate_conversations
from reviews.demo.seed import demo_seed
from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.ingest.sources import source_create
from reviews.models import ModelStatus, Score, ScoringModel
from reviews.scoring.embeddings import embeddings_store
from reviews.scoring.model_registry import model_promote
from reviews.scoring.training_data import category_names

ROOT = Path(__file__).resolve().parent.parent

needs_redis_and_postgres = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres")),
    reason="needs REDIS_URL and a PostgreSQL DATABASE_URL: a worker process cannot see an in-memory SQLite test db",
)

StartWorker = Callable[..., subprocess.Popen[bytes]]


def database_url() -> str:
    """The test database (test_<name>), for processes started by the test."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with start_new_session and everything it forked."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def worker(settings) -> Iterator[StartWorker]:
    """Starts `celery worker` processes against the test database; all are killed at the end.

    `start(env={...}, include=[...])`: extra environment (another REDIS_URL) and modules for `--include`
    (test-only signal handlers from tests/, which the product never loads).
    """
    broker = redis.Redis.from_url(settings.REDIS_URL)  # the tests' own db; a test may point settings elsewhere
    broker.flushdb()
    base_env = os.environ | {"DATABASE_URL": database_url(), "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str] | None = None, include: list[str] | None = None) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "celery", "-A", "oversight", "worker", "-Q", "score,default"]
        command += ["--concurrency", "1", "--without-gossip", "--without-mingle"]
        command += ["-n", f"test-{uuid.uuid4().hex[:8]}@%h"]
        if include:
            command += ["--include", ",".join(include)]
        process = subprocess.Popen(command, cwd=ROOT, env=base_env | (env or {}), start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        kill_group(process)
    broker.flushdb()


@pytest.fixture
def active_model(settings) -> ScoringModel:
    """A head trained in-process on demo labels and promoted; then tasks go to the broker."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    demo_seed(password="x", conversations=60, seed=3)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    return ScoringModel.objects.get(status=ModelStatus.ACTIVE)


@pytest.fixture
def untrained_model() -> ScoringModel:
    """An active head with seeded random weights: real scores by the real code, with nothing trained first.

    For fault tests, with `embeddings_cache`: what they check is delivery (nothing lost, nothing twice), which
    neither the head's accuracy nor the encoder's speed changes; test_worker_model.py covers those.
    """
    import torch

    from worker.encoder import views_key
    from worker.head import HeadConfig, VerdictHead, checkpoint_dumps

    labels = category_names()
    torch.manual_seed(0)
    head = VerdictHead(HeadConfig(n_categories=len(labels), views=3))
    model = ScoringModel.objects.create(
        version=1,
        encoder=views_key(),
        labels=labels,
        status=ModelStatus.READY,
        checkpoint=checkpoint_dumps(head, version=1, labels=labels),
    )
    model_promote(model=model)
    return model


def embeddings_cache(conversation_ids: list[int]) -> None:
    """Cached vectors for these conversations, as a backlog rescored after a promotion has: no encoding."""
    from worker.encoder import DIM, views_key

    rng = np.random.default_rng(len(conversation_ids))
    vectors = rng.standard_normal((len(conversation_ids), 3, DIM)).astype(np.float32)  # [u, r, o]
    vectors = (vectors / np.linalg.norm(vectors, axis=2, keepdims=True)).reshape(len(conversation_ids), 3 * DIM)
    embeddings_store(
        encoder=views_key(), vectors={cid: v.tobytes() for cid, v in zip(conversation_ids, vectors, strict=True)}
    )


def ingest(n: int, *, seed: int, batch: int = 100) -> list[int]:
    """n demo conversations through the ingest service, `batch` per call (so per scoring task)."""
    source = source_create(name=f"live-{seed}", kind="output_classifier").source
    generated = generate_conversations(n, seed=seed)
    ids: list[int] = []
    for start in range(0, n, batch):
        payloads = [ConversationIn.model_validate(c) for c in generated[start : start + batch]]
        ids += conversations_ingest(source=source, conversations=payloads).ids
    return ids


def model_scored(ids: list[int], model: ScoringModel) -> int:
    return Score.objects.filter(conversation_id__in=ids, producer=f"model-v{model.version}").count()
