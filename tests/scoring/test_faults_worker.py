"""Faults around scoring, with a real Celery worker over Redis and PostgreSQL: workers killed mid-batch, a
conversation that crashes the worker every time, and Redis stopped during ingest."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import current_app
from django.db import transaction
from django.test import Client
from django.utils import timezone

from reviews.demo.data import generate_conversations
from reviews.ingest.schemas import ConversationIn
from reviews.ingest.services import conversations_ingest
from reviews.ingest.sources import source_create
from reviews.models import (
    FALLBACK_PRODUCER,
    Conversation,
    Flag,
    RoutingRecord,
    Score,
    ScoringModel,
    ScoringStatus,
)
from reviews.scoring.attempts import MAX_ATTEMPTS, SWEEP_AFTER, scoring_sweep
from reviews.taskqueue import enqueue
from tests import workerproc
from tests.live import free_port
from tests.workerproc import (
    children,
    embeddings_cache,
    ingest,
    kill_group,
    model_scored,
    needs_redis_and_postgres,
    wait_for,
)

worker = workerproc.worker  # fixtures
untrained_model = workerproc.untrained_model

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    needs_redis_and_postgres,
]

INGEST_URL = "/api/v1/conversations"
HOOKS = ["tests.worker_fault_hooks"]


def _pending(ids: list[int]) -> int:
    return Conversation.objects.filter(pk__in=ids, scoring_status=ScoringStatus.PENDING).count()


def _kill_mid_batches(
    hooks: dict[str, str], kill: Callable[[], None], model: ScoringModel, what: str, times: int = 1
) -> None:
    """Hold every batch of several conversations in the middle of scoring (the hooks say which) and `kill()` the
    worker while one is held, `times` times, each on a batch not killed before; then let everything run.

    The hold stays in place between kills, so however slow the machine (or this test process) is, no batch of
    several can slip through between two kills and leave only single-conversation retries to kill."""
    busy, hold = Path(hooks["TEST_BUSY_FILE"]), Path(hooks["TEST_HOLD_FILE"])
    killed: list[list[int]] = []
    batch: list[int] = []

    def fresh_batch_held() -> bool:
        try:
            batch[:] = json.loads(busy.read_text())
        except (FileNotFoundError, ValueError):  # none held yet
            batch.clear()
        return len(batch) > 1 and batch not in killed

    hold.touch()
    try:
        for n in range(1, times + 1):
            wait_for(fresh_batch_held, timeout=180, what=f"a batch held in scoring before {what} {n}")
            kill()
            # Held until killed, and what follows it is held too or queued behind a held batch.
            assert model_scored(batch, model) == 0, f"the held batch was scored before {what} {n}"
            killed.append(list(batch))
    finally:
        hold.unlink()  # a batch the new pool process took meanwhile goes on, and removes the busy file itself
        busy.unlink(missing_ok=True)


def _kill_pool_children(process: subprocess.Popen[bytes]) -> None:
    for child in children(process.pid):
        os.kill(child, signal.SIGKILL)


@pytest.mark.timeout(300)
def test_sigkill_of_pool_children_then_the_whole_worker_loses_no_conversation_and_doubles_no_score(
    worker, untrained_model, tmp_path
):
    hooks = {
        "TEST_BUSY_FILE": str(tmp_path / "busy.json"),
        "TEST_HOLD_FILE": str(tmp_path / "hold"),
        "TEST_EMBED_SECONDS": "0.03",  # a batch of fifty: 1.5 s, so batches are left for each kill
    }
    with transaction.atomic():  # the tasks are sent on commit, once the vectors are cached too
        first = ingest(300, seed=202, batch=50)  # scoring tasks of fifty conversations
        embeddings_cache(first)
    process = worker(env=hooks, include=HOOKS)

    # Three pool kills, each of the child the parent forked after the last one, mid-batch.
    _kill_mid_batches(hooks, lambda: _kill_pool_children(process), untrained_model, "pool kill", times=3)
    # The parent saw each child die: the batch went back to Redis, was redelivered, split, and scored.
    wait_for(lambda: _pending(first) == 0, timeout=180, what="every conversation scored, without the sweeper")

    with transaction.atomic():
        then = ingest(200, seed=203, batch=50)
        embeddings_cache(then)
    _kill_mid_batches(hooks, lambda: kill_group(process), untrained_model, "kill of the whole worker")
    worker(env=hooks, include=HOOKS)
    # What the dead worker held stays unacked in Redis for the visibility timeout (an hour); the sweeper
    # re-enqueues it. Run it as beat would, once those tasks count as lost.
    scoring_sweep(now=timezone.now() + SWEEP_AFTER)
    wait_for(lambda: _pending(then) == 0, timeout=180, what="every conversation scored")

    ids = first + then
    scored = list(
        Score.objects.filter(conversation_id__in=ids, producer=f"model-v{untrained_model.version}").values_list(
            "conversation_id", flat=True
        )
    )
    assert len(scored) == len(set(scored)), "a conversation was scored twice by the same model"
    assert set(scored) == set(ids), "a conversation was lost (or parked though it never crashed anything)"


@pytest.mark.timeout(240)
def test_a_conversation_that_kills_the_worker_every_time_is_parked_and_the_queue_moves_on(
    worker, untrained_model, django_user_model
):
    marker = f"POISON-{uuid.uuid4().hex}"
    generated = generate_conversations(8, seed=404)
    generated[3]["messages"][0]["content"] += f" {marker}"
    source = source_create(name="poison", kind="output_classifier").source
    with transaction.atomic():  # the task is sent on commit, once the vectors are cached too
        first = conversations_ingest(source=source, conversations=[ConversationIn.model_validate(c) for c in generated])
        embeddings_cache(first.ids)
    poison = first.ids[3]
    worker(env={"TEST_POISON_MARKER": marker}, include=HOOKS)
    with transaction.atomic():
        later = ingest(6, seed=405, batch=3)  # queued behind the poison
        embeddings_cache(later)

    innocent = [cid for cid in first.ids if cid != poison] + later
    wait_for(
        lambda: Conversation.objects.get(pk=poison).scoring_status == ScoringStatus.PARKED,
        timeout=180,
        what="the poison parked",
    )
    wait_for(lambda: model_scored(innocent, untrained_model) == len(innocent), timeout=120, what="the others scored")

    parked = Conversation.objects.get(pk=poison)
    assert parked.scoring_attempts == MAX_ATTEMPTS
    assert "worker died" in parked.scoring_error
    assert not Score.objects.filter(conversation=parked).exclude(producer=FALLBACK_PRODUCER).exists()
    # It still reaches reviewers, on its detectors' own scores.
    assert Score.objects.filter(conversation=parked, producer=FALLBACK_PRODUCER).exists()
    assert RoutingRecord.objects.filter(conversation=parked).exists()

    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", password="pw-root"))
    listing = admin.get("/admin/reviews/conversation/", {"scoring_status__exact": "parked"}).content.decode()
    assert f"/admin/reviews/conversation/{poison}/change/" in listing
    assert listing.count("/change/") == listing.count(f"/{poison}/change/")  # the only parked one
    page = admin.get(f"/admin/reviews/conversation/{poison}/change/").content.decode()
    assert "Parked" in page
    assert parked.scoring_error in page


# --- Redis stopped during ingest ---------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own, so stopping it never touches the Redis other tests use."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        command += ["no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._up, timeout=20, what="the private redis-server")

    def stop(self) -> None:
        """Gone at once, with what it held: queued tasks are lost (SHUTDOWN NOSAVE, no persistence)."""
        assert self.process is not None
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(self.url).shutdown(nosave=True)
        self.process.wait(timeout=20)
        self.process = None

    def _up(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.ConnectionError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process is not None:
        kill_group(server.process)


@contextlib.contextmanager
def _web_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app (what ingest enqueues through) at `url`, then back."""
    app = current_app
    before = app.conf.broker_url

    def reset_pools() -> None:
        # Drop the app's references, as Celery does after a fork; the pools stay open in kombu's registry,
        # per URL, for whoever asks for that URL again (closing them would leave closed pools there).
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url = url
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url = before
        reset_pools()


def _post(client: Client, token: str, conversations: list[dict]) -> tuple[int, float]:
    began = time.monotonic()
    response = client.post(
        INGEST_URL,
        data={"conversations": conversations},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code, time.monotonic() - began


@pytest.mark.timeout(300)
def test_ingest_goes_on_while_redis_is_down_and_everything_is_scored_once_it_returns(
    worker, private_redis, source_token, settings
):
    source, token = source_token
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = private_redis.url  # everything of the web side's that uses Redis, as in production
    generated = generate_conversations(120, seed=505)
    batches = [generated[i : i + 20] for i in range(0, 120, 20)]
    client = Client()

    with _web_broker(private_redis.url):
        worker(env={"REDIS_URL": private_redis.url})  # no model yet: it scores on the detectors' scores, fast
        status, _ = _post(client, token, batches[0])
        assert status == 202
        wait_for(lambda: not _any_pending(), timeout=120, what="the first batch scored")

        private_redis.stop()
        timings = []
        for batch in batches[1:]:
            status, seconds = _post(client, token, batch)
            assert status == 202, "ingest refused while Redis was down"
            timings.append(seconds)
        assert max(timings) < 5, f"ingest hung on the missing broker: {timings}"
        sent = {c["external_id"]: len(c["flags"]) for batch in batches[1:] for c in batch}
        stored = Conversation.objects.filter(source=source, external_id__in=sent)
        assert stored.count() == len(sent), "PostgreSQL holds every conversation accepted"
        assert Flag.objects.filter(conversation__in=stored).count() == sum(sent.values())
        assert stored.filter(scoring_status=ScoringStatus.PENDING).count() == len(sent)

        private_redis.start()  # same port, empty: the tasks of those batches were never queued anywhere
        # As if SWEEP_AFTER had passed since ingest, beat sends its sweep: the worker, connected again, runs it
        # and re-enqueues whatever is still pending.
        stored.update(scoring_enqueued_at=timezone.now() - 2 * SWEEP_AFTER)
        enqueue("reviews.sweep_unscored")
        wait_for(lambda: not _any_pending(), timeout=120, what="every conversation scored after Redis returned")

    assert Score.objects.filter(conversation__source=source).count() == 120  # one each, none twice


def _any_pending() -> bool:
    return Conversation.objects.filter(scoring_status=ScoringStatus.PENDING).exists()
