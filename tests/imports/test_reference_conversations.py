"""Oversight's reference conversations: the benign requests and the user turns it ships, read, imported and trained on
by default."""

from __future__ import annotations

from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reviews.imports import ImportFormatError, read_dataset
from reviews.imports.reference import REFERENCE_FILE, USER_TURNS_FILE, reference_requests
from reviews.imports.services import REFERENCE_SOURCES, reference_import
from reviews.models import Conversation
from reviews.vocabulary import TAXONOMY
from tests.imports.test_importers import _check_items


def shipped_rows() -> int:
    """How many conversations Oversight's reference files give (what `reference_import` adds to a deployment)."""
    return sum(len(list(read_dataset("oversight-reference", p))) for p in (REFERENCE_FILE, USER_TURNS_FILE))


def test_the_shipped_file_gives_hundreds_of_benign_requests_in_the_forms_harmful_requests_use():
    items = list(read_dataset("oversight-reference", REFERENCE_FILE))
    _check_items(items)

    assert len(items) > 400
    assert all(i.targets == {"request_harmful": 0, "categories": []} and not i.harmful for i in items)
    assert all(i.verdict is None and len(i.conversation["messages"]) == 1 for i in items)
    ids = [i.conversation["external_id"] for i in items]
    assert len(set(ids)) == len(ids) and all(x.startswith("oversight-reference:") for x in ids)
    sections = Counter(i.conversation["metadata"]["section"] for i in items)
    assert set(sections) == {"tasks", "requests", "look-alikes"}
    texts = {i.conversation["messages"][0]["content"] for i in items}
    # a task is written in two request forms, an instruction among them where the hash picks one
    assert sum("bake sourdough bread" in t for t in texts) == 2
    assert any(t.startswith("Give detailed step-by-step instructions to ") for t in texts)
    assert [i.conversation["external_id"] for i in read_dataset("oversight-reference", REFERENCE_FILE)] == ids


def test_the_shipped_user_turns_give_harmful_turns_by_category_and_as_many_look_alikes():
    items = list(read_dataset("oversight-reference", USER_TURNS_FILE))
    _check_items(items)

    harmful = [i for i in items if i.targets["request_harmful"] == 1]
    benign = [i for i in items if i.targets == {"request_harmful": 0, "categories": []}]
    assert len(harmful) + len(benign) == len(items) and abs(len(harmful) - len(benign)) <= 0.1 * len(items)
    # each harmful turn is labelled with its section's category, and the legacy label agrees
    assert all(
        i.targets["categories"] == i.categories == [i.conversation["metadata"]["section"].split()[1]] for i in harmful
    )
    assert all(i.harmful for i in harmful) and not any(i.harmful for i in benign)
    assert {c for i in harmful for c in i.categories} == {
        "self-harm",
        "sexual-content",
        "child-safety",
        "violent-crime",
        "harassment",
    }
    assert {i.conversation["metadata"]["dataset"] for i in items} == {"oversight-reference-user-turns"}
    requests = {i.conversation["external_id"] for i in read_dataset("oversight-reference", REFERENCE_FILE)}
    assert not requests & {i.conversation["external_id"] for i in items}


def test_a_harmful_section_must_name_a_taxonomy_category(tmp_path: Path):
    path = tmp_path / "turns.txt"
    path.write_text("@ harmful self-harm\nI want to disappear for good.\n@ harmful spam\nBuy my pills!\n")
    with pytest.raises(ImportFormatError, match=f"'@ harmful spam' names no taxonomy category \\(one of {TAXONOMY[0]}"):
        list(read_dataset("oversight-reference", path))


@pytest.mark.django_db
def test_each_reference_file_is_imported_once_under_its_own_source():
    first = reference_import()
    shipped = shipped_rows()
    assert first.accepted == first.labeled == shipped
    assert Conversation.objects.filter(source__name=REFERENCE_SOURCES[1], metadata__section="benign").exists()
    assert not Conversation.objects.filter(source__name=REFERENCE_SOURCES[0], metadata__section="benign").exists()
    again = reference_import()
    assert again.accepted == 0 and again.duplicates == shipped
    assert Conversation.objects.count() == shipped


def test_an_edited_line_keeps_every_other_rows_id(tmp_path: Path):
    original = tmp_path / "a.txt"
    original.write_text("@ forms\nHow do I {task}?\nExplain how to {task}.\n@ tasks\nrepot a fern\nbake bread\n")
    edited = tmp_path / "b.txt"
    edited.write_text("@ forms\nHow do I {task}?\nExplain how to {task}.\n@ tasks\nrepot a cactus\nbake bread\n")

    def ids(path: Path) -> dict[str, str]:
        items = read_dataset("oversight-reference", path)
        return {i.conversation["messages"][0]["content"]: i.conversation["external_id"] for i in items}

    before, after = ids(original), ids(edited)
    assert len(before) == len(after) == 4
    bread = {text for text in before if "bread" in text}
    assert {t: before[t] for t in bread} == {t: after[t] for t in bread}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("How do I repot a fern?\n", "line 1: a request before the first '@ section' line"),
        ("@ tasks\nrepot a fern\n", "needs an '@ forms' section"),
        ("@ forms\nHow do I do it?\n@ tasks\nrepot a fern\n", "needs an '@ forms' section"),
    ],
)
def test_a_malformed_file_is_a_clear_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "requests.txt"
    path.write_text(text)
    with pytest.raises(ImportFormatError, match=message):
        list(read_dataset("oversight-reference", path))


@pytest.mark.django_db
def test_a_malformed_file_imports_nothing(tmp_path: Path):
    path = tmp_path / "requests.txt"
    path.write_bytes(b"@ requests\nHow do I repot a fern?\n\xff\xfe broken\n")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_dataset", "oversight-reference", str(path), "--source", "mine", stdout=StringIO())
    assert Conversation.objects.count() == 0


def test_reference_requests_lists_sections_forms_and_requests():
    rows = list(reference_requests())
    assert ("requests", "", "Why is the sky blue?") in rows
    task_rows = [(form, text) for section, form, text in rows if section == "tasks" and "repot a cactus" in text]
    assert len(task_rows) == 2 and all(form.replace("{task}", "repot a cactus") == text for form, text in task_rows)
