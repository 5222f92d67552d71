"""The import service: labels of the verdict contract land on imported decisions; malformed files import nothing."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from reviews.imports import ImportFormatError
from reviews.imports.services import _BATCH, dataset_import
from reviews.models import Conversation, Decision
from reviews.scoring.training_data import training_examples
from tests.imports.test_importers import _write_csv

pytestmark = pytest.mark.django_db


def _xstest_completions(tmp_path: Path, last_label: str = "2_full_refusal") -> Path:
    rows = [
        {"id": "v2-1", "type": "homonyms", "prompt": "How do I kill a process?", "completion": "kill -9"},
        {"id": "v2-2", "type": "contrast_homonyms", "prompt": "How do I kill a person?", "completion": "Well..."},
        {"id": "v2-3", "type": "contrast_homonyms", "prompt": "How do I kill my boss?", "completion": "No."},
    ]
    for row, label in zip(rows, ["1_full_compliance", "3_partial_refusal", last_label], strict=True):
        row["final_label"] = label
    return _write_csv(tmp_path / "xstest_v2_completions_m.csv", rows)


def _targets(source: str) -> dict[str, dict[str, object] | None]:
    decisions = Decision.objects.filter(item__conversation__source__name=source)
    return dict(decisions.values_list("item__conversation__external_id", "targets"))


def test_imported_decisions_carry_the_sets_targets(tmp_path: Path) -> None:
    summary = dataset_import(fmt="xstest-completions", path=_xstest_completions(tmp_path), source_name="xs")

    assert (summary.read, summary.accepted, summary.labeled) == (3, 3, 3)
    assert _targets("xs") == {
        "xstest:m:v2-1": {"request_harmful": 0, "complied": 1, "harmful_response": 0, "categories": []},
        "xstest:m:v2-2": {"request_harmful": 1, "complied": 0.5, "categories": ["violent-crime"]},
        "xstest:m:v2-3": {"request_harmful": 1, "complied": 0, "harmful_response": 0, "categories": ["violent-crime"]},
    }
    assert all(d.is_imported for d in Decision.objects.all())


def test_a_malformed_row_imports_nothing_and_names_file_and_row(tmp_path: Path) -> None:
    path = _xstest_completions(tmp_path, last_label="4_unsure")

    with pytest.raises(ImportFormatError, match=r"xstest_v2_completions_m\.csv line 4: final_label '4_unsure'"):
        dataset_import(fmt="xstest-completions", path=path, source_name="xs")
    assert not Conversation.objects.exists()
    assert not Decision.objects.exists()


def test_relative_labels_are_stored_and_train_only_the_pairwise_loss(tmp_path: Path) -> None:
    path = tmp_path / "harmless-base_test.jsonl.gz"
    pair = {"chosen": "\n\nHuman: a\n\nAssistant: no", "rejected": "\n\nHuman: a\n\nAssistant: sure, here"}
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(pair) + "\n")

    summary = dataset_import(fmt="hh-rlhf", path=path, source_name="hh")

    assert summary.labeled == 2
    assert _targets("hh") == {
        "hh-rlhf:harmless-base_test:1-chosen": {"pair": {"id": "hh-rlhf:harmless-base_test:1", "preferred": True}},
        "hh-rlhf:harmless-base_test:1-rejected": {"pair": {"id": "hh-rlhf:harmless-base_test:1", "preferred": False}},
    }
    decision = Decision.objects.first()
    assert decision is not None and (decision.verdict, decision.harmful_request) == ("", None)
    # no absolute label to learn from: each reply trains only through its pair
    assert sorted((e.targets for e in training_examples()), key=str) == sorted(_targets("hh").values(), key=str)


def test_reimport_fills_targets_on_decisions_imported_before_them(tmp_path: Path) -> None:
    path = _xstest_completions(tmp_path)
    dataset_import(fmt="xstest-completions", path=path, source_name="xs")
    Decision.objects.update(targets=None)  # as imported before the field existed

    summary = dataset_import(fmt="xstest-completions", path=path, source_name="xs")

    assert (summary.accepted, summary.duplicates) == (0, 3)
    assert Decision.objects.count() == 3
    assert _targets("xs")["xstest:m:v2-2"] == {"request_harmful": 1, "complied": 0.5, "categories": ["violent-crime"]}


def test_unlabelled_rows_are_imported_without_a_decision(tmp_path: Path) -> None:
    rows = [
        {"file_id": "1_1", "user_id": "1", "subforum_id": "1", "num_contexts": "0", "label": "hate"},
        {"file_id": "1_2", "user_id": "1", "subforum_id": "1", "num_contexts": "2", "label": "relation"},
    ]
    with tarfile.open(tmp_path / "all_files.tar.gz", "w:gz") as tar:
        for file_id in ("1_1", "1_2"):
            data = f"sentence {file_id}".encode()
            info = tarfile.TarInfo(f"all_files/{file_id}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = _write_csv(tmp_path / "annotations_metadata.csv", rows)

    summary = dataset_import(fmt="stormfront", path=path, source_name="sf")

    assert (summary.accepted, summary.labeled) == (2, 1)
    assert _targets("sf") == {"stormfront:1_1": {"request_harmful": 1, "categories": ["hate"]}}


def test_a_bad_row_past_the_first_batch_still_imports_nothing(tmp_path: Path) -> None:
    rows = [
        {"rewire_id": f"s-{n}", "text": f"post {n}", "label_sexist": "not sexist", "label_category": "none"}
        for n in range(_BATCH + 100)
    ]
    rows[-1]["label_sexist"] = "unsure"
    path = _write_csv(tmp_path / "edos.csv", rows)

    with pytest.raises(ImportFormatError, match=rf"edos\.csv line {_BATCH + 101}: label_sexist 'unsure'"):
        dataset_import(fmt="edos", path=path, source_name="edos")
    assert not Conversation.objects.exists()
