"""Dataset snapshots: row shapes read back with the `datasets` library, splits, lineage, staleness."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from reviews.datasets.builder import dataset_build, dataset_cancel, dataset_create
from reviews.datasets.filters import DatasetError, SplitKey, split_key, split_of
from reviews.datasets.lineage import lineage_decision_ids
from reviews.models import (
    AuditEvent,
    Conversation,
    Dataset,
    DatasetStatus,
    Decision,
    ItemStatus,
    Queue,
    ReviewItem,
)
from reviews.scoring.text import text_views
from reviews.scoring.training_data import label_names
from reviews.workspace.decisions import decision_record

datasets = pytest.importorskip("datasets")


def _build(kind: str, fmt: str = "jsonl", **options: Any) -> Dataset:
    dataset = dataset_create(kind=kind, format=fmt, enqueue=False, **options)
    return dataset_build(dataset_id=dataset.pk)


def _local(dataset: Dataset, settings: Any) -> dict[str, str]:
    return {split: str(Path(settings.MEDIA_ROOT) / info["path"]) for split, info in dataset.files.items()}


def _load(dataset: Dataset, settings: Any) -> Any:
    """As the card says: the snapshot's folder, whose README.md header gives the splits and column types."""
    folder = Path(settings.MEDIA_ROOT) / "datasets" / str(dataset.pk)
    return datasets.load_dataset(str(folder), cache_dir=str(Path(settings.MEDIA_ROOT).parent / "hf"))


def test_a_json_split_without_categories_loads_with_the_cards_types(corpus, settings):
    """Inferred from JSON lines, a first split whose category lists are all empty types them as nulls, and
    the next split fails to load; the card's header gives the types."""
    ratios = {"train": 0.9, "test": 0.1}  # `datasets` reads the test split first
    seed = next(s for s in range(1000) if _test_has_no_categories(s, ratios))
    dataset = _build("eval", "jsonl", seed=seed, split_ratios=ratios)

    loaded = _load(dataset, settings)

    assert loaded["test"].num_rows > 0 and all(row["categories"] == [] for row in loaded["test"])
    assert any(row["categories"] == ["violent-crime"] for row in loaded["train"])
    assert loaded["test"].features["categories"] == datasets.List(datasets.Value("string"))


def _test_has_no_categories(seed: int, ratios: dict[str, float]) -> bool:
    conversations = Decision.objects.values_list("item__conversation_id", flat=True).distinct()
    test = [cid for cid in conversations if split_of(cid, seed=seed, ratios=ratios) == "test"]
    categories = Decision.objects.filter(item__conversation_id__in=test).values_list("categories", flat=True)
    return bool(test) and not any(categories)


def _is_message_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(m, dict) and set(m) == {"role", "content"} and isinstance(m["content"], str) for m in value
    )


def assert_trl_conversational_preference(row: dict[str, Any]) -> None:
    """TRL's conversational preference format: prompt messages ending in a user turn, one assistant reply each."""
    assert _is_message_list(row["prompt"]) and row["prompt"], row
    assert row["prompt"][-1]["role"] == "user"
    assert all(m["role"] in ("system", "user", "assistant", "tool") for m in row["prompt"])
    for key in ("chosen", "rejected"):
        assert _is_message_list(row[key]) and len(row[key]) == 1
        assert row[key][0]["role"] == "assistant" and row[key][0]["content"].strip()
    assert row["chosen"] != row["rejected"]


META_TYPES = {
    "id": str,
    "conversation_id": int,
    "decision_id": int,
    "label_source": str,
    "verdict": str,
    "severity": int,
    "agreement": float,
    "source": str,
    "model": str,
    "decided_at": str,
}


def _check_meta(row: dict[str, Any]) -> None:
    for key, kind in META_TYPES.items():
        assert isinstance(row[key], kind), (key, row[key])
    assert isinstance(row["categories"], list) and all(isinstance(c, str) for c in row["categories"])
    assert 0 <= row["agreement"] <= 1


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "parquet"])
def test_preference_rows_load_with_datasets_and_pass_trls_format_rules(corpus, settings, fmt):
    dataset = _build("preference", fmt)

    assert dataset.status == DatasetStatus.READY
    loaded = _load(dataset, settings)
    rows = [row for split in loaded.values() for row in split]
    # 10 harmful compliance and 10 over-refusals with a preferred response, plus the adjudicated one.
    assert len(rows) == dataset.row_count == 21
    assert dataset.skipped["no_preferred_response"] == 20
    assert dataset.skipped["not_a_failure"] == 20
    for row in rows:
        assert_trl_conversational_preference(row)
        _check_meta(row)
        assert row["verdict"] in ("harmful_compliance", "over_refusal")
        conversation = Conversation.objects.get(pk=row["conversation_id"])
        assert row["rejected"][0]["content"] == conversation.messages[-1]["content"]
        assert row["prompt"] == conversation.messages[:-1]
        assert row["chosen"][0]["content"] == Decision.objects.get(pk=row["decision_id"]).preferred_response
    adjudicated = next(r for r in rows if r["conversation_id"] == corpus["adjudicated"].pk)
    assert adjudicated["chosen"][0]["content"] == "I won't help with that."
    assert adjudicated["agreement"] == 0.5


def test_sft_rows_end_in_a_good_answer(corpus, settings):
    dataset = _build("sft", "parquet")

    rows = [row for split in _load(dataset, settings).values() for row in split]
    assert len(rows) == 41  # every decided conversation but the 20 failures without a preferred response
    for row in rows:
        _check_meta(row)
        assert _is_message_list(row["messages"]) and row["messages"][-1]["role"] == "assistant"
        conversation = Conversation.objects.get(pk=row["conversation_id"])
        if row["verdict"] in ("appropriate_help", "appropriate_refusal"):
            assert row["messages"] == conversation.messages
        else:
            assert row["messages"][:-1] == conversation.messages[:-1]
            assert row["messages"][-1]["content"] == Decision.objects.get(pk=row["decision_id"]).preferred_response


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_classifier_rows_hold_the_request_and_response_the_encoder_reads_and_a_label_per_category(
    corpus, settings, fmt
):
    dataset = _build("classifier", fmt)

    labels = label_names()
    loaded = _load(dataset, settings)
    rows = [row for split in loaded.values() for row in split]
    assert len(rows) == 61
    for split in loaded.values():
        columns = {"id", "conversation_id", "decision_id", "label_source", "request", "response", "text", *labels}
        assert set(split.column_names) == columns
    for row in rows:
        conversation = Conversation.objects.get(pk=row["conversation_id"])
        views = text_views(conversation.messages)
        assert (row["request"], row["response"]) == (views.request, "".join(views.reply_chunks))
        assert row["response"] and row["request"] != row["response"]
        assert row["text"] == f"Request: {views.request}\nResponse: {row['response']}"
        assert all(row[label] in (0, 1) and isinstance(row[label], int) for label in labels)
        decision = Decision.objects.get(pk=row["decision_id"])
        assert row["harmful"] == int(decision.harmful_request)
        assert row["violent-crime"] == int("violent-crime" in decision.categories)
    assert dataset.label_distribution["labels"]["harmful"] == sum(r["harmful"] for r in rows)


def test_eval_rows_cover_the_four_cells(corpus, settings):
    dataset = _build("eval", "jsonl.gz")

    rows = [row for split in _load(dataset, settings).values() for row in split]
    assert len(rows) == 61
    cells = {(r["is_harmful"], r["model_refused"]): r["verdict"] for r in rows}
    assert cells == {
        (True, False): "harmful_compliance",
        (True, True): "appropriate_refusal",
        (False, True): "over_refusal",
        (False, False): "appropriate_help",
    }
    for row in rows:
        _check_meta(row)
        assert isinstance(row["response"], str) and _is_message_list(row["prompt"])
        assert row["prompt"][-1]["role"] == "user"


def test_decided_at_is_the_same_iso_text_in_jsonl_and_parquet(corpus, settings):
    decided = {f"ovs-{c}": t for c, t in Decision.objects.values_list("item__conversation_id", "created_at")}
    by_format = {}
    for fmt in ("jsonl", "parquet"):
        rows = [row for split in _load(_build("eval", fmt), settings).values() for row in split]
        by_format[fmt] = {row["id"]: row["decided_at"] for row in rows}

    assert by_format["jsonl"] == by_format["parquet"]
    # The effective decision's time: the adjudication's for the adjudicated conversation.
    assert all(decided_at == decided[id_].isoformat() for id_, decided_at in by_format["jsonl"].items())


def test_messages_stored_around_ingest_are_exported_as_role_and_content_text(corpus, settings, reviewer):
    odd = Conversation.objects.create(
        source=corpus["source"],
        external_id="odd",
        messages=[
            {"role": "user", "content": "What is 6 times 7?", "name": "guest"},
            {"role": "assistant", "content": 42},
        ],
    )
    item = ReviewItem.objects.create(conversation=odd, queue=Queue.objects.get(slug="triage"))
    decision_record(item=item, reviewer=reviewer, verdict="appropriate_help")

    rows = [row for split in _load(_build("sft", "jsonl"), settings).values() for row in split]

    row = next(row for row in rows if row["conversation_id"] == odd.pk)
    assert row["messages"] == [
        {"role": "user", "content": "What is 6 times 7?"},
        {"role": "assistant", "content": "42"},
    ]


def test_the_database_computes_the_split_key_python_computes(corpus):
    for seed in (0, 7, 2**40 + 3):
        keys = Decision.objects.annotate(key=SplitKey(seed)).values_list("item__conversation_id", "key")
        assert {key for _, key in keys} and all(key == split_key(cid, seed=seed) for cid, key in keys)


def test_splits_are_disjoint_by_conversation_and_follow_the_seed(corpus, settings):
    first = _build("classifier", seed=3)
    again = _build("classifier", seed=3)
    other = _build("classifier", seed=4)

    ids = {
        split: {json.loads(line)["conversation_id"] for line in Path(path).read_text().splitlines()}
        for split, path in _local(first, settings).items()
    }
    assert set(ids) == {"train", "validation", "test"}
    assert not ids["train"] & ids["validation"] and not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]
    assert sum(len(v) for v in ids.values()) == first.row_count
    for split, members in ids.items():
        assert all(split_of(cid, seed=3, ratios=first.split_ratios) == split for cid in members)
    assert {s: f["sha256"] for s, f in first.files.items()} == {s: f["sha256"] for s, f in again.files.items()}
    assert first.split_counts != other.split_counts or first.files != other.files


def test_snapshot_records_lineage_and_hashes_and_writes_a_card(corpus, settings):
    dataset = _build("eval", filters={"verdicts": ["harmful_compliance", "appropriate_refusal"]}, license="cc-by-4.0")

    assert dataset.row_count == 31
    assert dataset.filters["verdicts"] == ["appropriate_refusal", "harmful_compliance"]
    assert dataset.taxonomy_version.startswith("tax-") and dataset.policy_version
    assert sum(dataset.split_counts.values()) == dataset.row_count
    assert dataset.label_distribution["verdicts"] == {"appropriate_refusal": 10, "harmful_compliance": 21}
    for split, path in _local(dataset, settings).items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == dataset.files[split]["sha256"]
    used = set(lineage_decision_ids(dataset=dataset))
    adjudicated = set(Decision.objects.filter(item__conversation=corpus["adjudicated"]).values_list("pk", flat=True))
    assert adjudicated <= used and len(used) == 30 + len(adjudicated)
    card = (Path(settings.MEDIA_ROOT) / f"datasets/{dataset.pk}/README.md").read_text()
    assert card == dataset.card
    assert "license: cc-by-4.0" in card and "| harmful_compliance | 21 |" in card
    assert "verdicts: ['appropriate_refusal', 'harmful_compliance']" in card


def test_filters_final_only_agreement_and_unknown_values(corpus):
    assert _build("eval", filters={"final_only": True}).row_count == 1
    assert _build("eval", filters={"min_agreement": 0.9}).row_count == 60
    assert _build("eval", filters={"categories": ["violent-crime"]}).row_count == 31
    assert _build("eval", filters={"queues": ["adjudication"]}).row_count == 1
    assert _build("eval", filters={"sources": ["guardrail"], "until": "2000-01-01"}).row_count == 0
    with pytest.raises(DatasetError, match="Unknown verdicts"):
        dataset_create(kind="eval", filters={"verdicts": ["bad"]}, enqueue=False)
    with pytest.raises(DatasetError, match="Unknown filters"):
        dataset_create(kind="eval", filters={"colour": "red"}, enqueue=False)
    with pytest.raises(DatasetError, match="add up to 1"):
        dataset_create(kind="eval", split_ratios={"train": 0.5}, enqueue=False)


def test_adjudicating_an_exported_decision_marks_the_snapshot_stale(corpus, reviewer, senior):
    conversation = corpus["conversations"][0]
    exported = Decision.objects.get(item__conversation=conversation)
    dataset = _build("preference")
    assert exported.pk in set(lineage_decision_ids(dataset=dataset))
    untouched = _build("eval", filters={"verdicts": ["appropriate_help"]})

    escalation = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="escalation"))
    final = decision_record(item=escalation, reviewer=senior, verdict="appropriate_refusal")

    dataset.refresh_from_db()
    untouched.refresh_from_db()
    assert dataset.is_stale and not untouched.is_stale
    [change] = dataset.stale_changes
    assert change["decision_ids"] == [exported.pk]
    assert change["decision_id"] == final.pk and change["conversation_id"] == conversation.pk
    assert change["change"] == "superseded by a final decision"


def test_a_new_non_final_review_that_changes_a_row_marks_the_snapshot_stale(corpus, senior):
    conversation = corpus["conversations"][1]  # harmful compliance, one review
    dataset = _build("eval")
    untouched = _build("eval", filters={"verdicts": ["appropriate_help"]})
    item = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="calibration"))
    decision_record(item=item, reviewer=senior, verdict="appropriate_refusal")  # a disagreement, not a ruling

    dataset.refresh_from_db()
    untouched.refresh_from_db()
    assert dataset.is_stale and not untouched.is_stale
    assert dataset.stale_changes[0]["change"] == "a rebuild would differ"
    # Stale means a rebuild differs: the disputed conversation leaves the snapshot.
    rebuilt = _build("eval")
    assert rebuilt.row_count == dataset.row_count - 1 and rebuilt.skipped["awaiting_senior"] == 1


def test_a_review_that_changes_no_row_leaves_snapshots_fresh(corpus, senior):
    conversation = corpus["conversations"][1]  # harmful compliance: not in a snapshot of appropriate help
    dataset = _build("eval", filters={"verdicts": ["appropriate_help"]})
    item = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="calibration"))
    decision_record(item=item, reviewer=senior, verdict="harmful_compliance")

    dataset.refresh_from_db()
    assert not dataset.is_stale
    assert (
        _build("eval", filters={"verdicts": ["appropriate_help"]}).files["train"]["sha256"]
        == (dataset.files["train"]["sha256"])
    )


def test_export_task_runs_on_commit_and_twice_builds_once(corpus, django_capture_on_commit_callbacks):
    from reviews.tasks import export_dataset

    with django_capture_on_commit_callbacks(execute=True):
        dataset = dataset_create(kind="classifier", format="parquet")
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY and dataset.progress == dataset.total == 61
    files = dict(dataset.files)

    assert export_dataset(dataset.pk) == DatasetStatus.READY
    dataset.refresh_from_db()
    assert dataset.files == files and len(lineage_decision_ids(dataset=dataset)) == 63
    assert AuditEvent.objects.filter(action="export", target_id=str(dataset.pk)).count() == 1


def test_cancel_stops_a_pending_build(corpus):
    dataset = dataset_create(kind="eval", enqueue=False)
    dataset_cancel(dataset=dataset)

    dataset = dataset_build(dataset_id=dataset.pk)
    assert dataset.status == DatasetStatus.CANCELLED and not dataset.files


def _cancel_while_judging(dataset: Dataset, monkeypatch: Any) -> None:
    """A cancel arrives while the first conversation is judged (the build notices it at the chunk's end)."""
    from reviews.datasets import settled

    real = settled.judge

    def cancel_midway(group: Any, merged: Any, label_source: str) -> Any:
        Dataset.objects.filter(pk=dataset.pk).update(cancel_requested=True)
        return real(group, merged, label_source)

    monkeypatch.setattr(settled, "judge", cancel_midway)


def test_cancel_stops_a_running_build_at_the_next_chunk(corpus, monkeypatch):
    from reviews.datasets import builder

    monkeypatch.setattr(builder, "CHUNK", 10)
    dataset = dataset_create(kind="eval", enqueue=False)
    _cancel_while_judging(dataset, monkeypatch)
    dataset = dataset_build(dataset_id=dataset.pk)
    assert dataset.status == DatasetStatus.CANCELLED
    assert dataset.progress == 10 and len(lineage_decision_ids(dataset=dataset)) == 0


def test_export_dataset_command_prints_the_files(corpus, settings, capsys):
    call_command("export_dataset", "preference", "--format", "jsonl.gz", "--filters", '{"verdicts": ["over_refusal"]}')

    out = capsys.readouterr().out
    dataset = Dataset.objects.get()
    assert f"Dataset {dataset.pk}: 10 preference rows" in out
    for path in _local(dataset, settings).values():
        with gzip.open(path, "rt") as handle:
            assert all(json.loads(line)["verdict"] == "over_refusal" for line in handle)


def test_items_remain_done_and_decisions_untouched_by_exports(corpus):
    before = list(Decision.objects.order_by("pk").values_list("pk", "verdict", "updated_at"))
    _build("sft")
    assert list(Decision.objects.order_by("pk").values_list("pk", "verdict", "updated_at")) == before
    assert not ReviewItem.objects.filter(status=ItemStatus.OPEN).exists()


@pytest.mark.parametrize("kind", ["eval", "preference"])
def test_our_own_exports_import_back(corpus, settings, kind):
    dataset = _build(kind, "jsonl.gz", split_ratios={"train": 1.0})
    path = _local(dataset, settings)["train"]
    with gzip.open(path, "rt") as handle:
        exported = [json.loads(line) for line in handle]

    call_command("import_dataset", f"oversight-{kind}", path, "--source", "round-trip")

    imported = Decision.objects.filter(is_imported=True, item__conversation__source__name="round-trip")
    assert imported.count() == len(exported) == dataset.row_count
    by_id = {d.item.conversation.external_id: d for d in imported.select_related("item__conversation")}
    for row in exported:
        decision = by_id[f"oversight-{kind}:{row['id']}"]
        assert decision.verdict == row["verdict"] and decision.categories == row["categories"]
        assert decision.severity == row["severity"]
        messages = decision.item.conversation.messages
        assert messages[:-1] == row["prompt"]
        if kind == "preference":
            assert messages[-1] == row["rejected"][0]
            assert decision.preferred_response == row["chosen"][0]["content"]
        else:
            assert messages[-1] == {"role": "assistant", "content": row["response"]}
            assert decision.harmful_request is row["is_harmful"]
    # Imported labels stay out unless asked for, and then say where they come from.
    assert _build(kind, "jsonl", filters={"sources": ["round-trip"]}).skipped == {"imported_label": len(exported)}
    again = _build(
        kind, "jsonl", filters={"sources": ["round-trip"], "include_imported": True}, split_ratios={"train": 1.0}
    )
    assert again.row_count == dataset.row_count
    with default_storage.open(again.files["train"]["path"], "rb") as handle:
        assert {json.loads(line)["label_source"] for line in handle} == {"imported:round-trip"}


def test_an_edited_decision_marks_the_snapshot_stale(corpus):
    from reviews.workspace.reviewing import decision_edit

    decision = Decision.objects.select_related("item__queue").get(item__conversation=corpus["conversations"][2])
    dataset = _build("classifier")
    Queue.objects.filter(slug="triage").update(edit_window_minutes=60)
    decision.item.queue.refresh_from_db()
    verdict = "appropriate_help" if decision.verdict != "appropriate_help" else "over_refusal"

    decision_edit(decision=decision, reviewer=decision.reviewer, verdict=verdict, categories=[], severity=1)

    dataset.refresh_from_db()
    assert dataset.is_stale
    assert dataset.stale_changes[0]["change"] == "edited" and dataset.stale_changes[0]["decision_ids"] == [decision.pk]


@pytest.mark.parametrize("chunk", [7, 61, 62])
def test_chunking_does_not_change_the_files_or_the_lineage(corpus, monkeypatch, chunk):
    """Chunk bounds come BOUNDS_AHEAD at a time: several batches, a chunk ending on the last conversation
    (61 of them), and a single chunk holding them all write what one unchunked read writes."""
    from reviews.datasets import builder

    whole = _build("sft", seed=5)
    monkeypatch.setattr(builder, "CHUNK", chunk)
    monkeypatch.setattr(builder, "BOUNDS_AHEAD", 2)
    chunked = _build("sft", seed=5)

    assert chunked.row_count == whole.row_count > 0
    assert {s: f["sha256"] for s, f in chunked.files.items()} == {s: f["sha256"] for s, f in whole.files.items()}
    assert lineage_decision_ids(dataset=chunked) == lineage_decision_ids(dataset=whole)
    assert chunked.label_distribution == whole.label_distribution


def _reader_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name == "dataset-read-ahead"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reading_ahead_writes_what_the_plain_read_writes(corpus, settings, monkeypatch):
    """Outside a transaction (as in the worker) the next chunk is read on a thread; inside one it is not."""
    from django.db import connection, transaction

    from reviews.datasets import builder

    if connection.vendor != "postgresql":
        pytest.skip("reading ahead is PostgreSQL's")
    monkeypatch.setattr(builder, "CHUNK", 7)
    ahead = _build("eval", seed=3)
    with transaction.atomic():
        plain = _build("eval", seed=3)

    assert ahead.row_count == plain.row_count == 61
    assert {s: f["sha256"] for s, f in ahead.files.items()} == {s: f["sha256"] for s, f in plain.files.items()}
    assert lineage_decision_ids(dataset=ahead) == lineage_decision_ids(dataset=plain)
    assert not _reader_threads()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cancel_or_a_read_error_stops_the_reader_thread(corpus, monkeypatch):
    from django.db import connection

    from reviews.datasets import builder

    if connection.vendor != "postgresql":
        pytest.skip("reading ahead is PostgreSQL's")
    monkeypatch.setattr(builder, "CHUNK", 7)
    dataset = dataset_create(kind="eval", enqueue=False)
    from reviews.datasets import settled

    real_judge = settled.judge
    _cancel_while_judging(dataset, monkeypatch)
    dataset = dataset_build(dataset_id=dataset.pk)
    assert dataset.status == DatasetStatus.CANCELLED and lineage_decision_ids(dataset=dataset) == []
    assert not _reader_threads()

    monkeypatch.setattr(settled, "judge", real_judge)
    real_rows, calls = builder._rows, []

    def fail_on_third_chunk(query):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("connection lost")
        return real_rows(query)

    monkeypatch.setattr(builder, "_rows", fail_on_third_chunk)
    failed = dataset_create(kind="eval", enqueue=False)
    with pytest.raises(RuntimeError, match="connection lost"):
        dataset_build(dataset_id=failed.pk)
    failed.refresh_from_db()
    assert failed.status == DatasetStatus.FAILED and "connection lost" in failed.error
    assert lineage_decision_ids(dataset=failed) == []
    assert not _reader_threads()
