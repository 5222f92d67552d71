"""A conversation with one decision takes `settle`'s short path: the same label source or skip reason as the
general path that groups of several decisions take."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reviews.datasets.rows import AT, COLUMNS, Skip
from reviews.datasets.settled import _settle_many, settle

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _decision(**values: Any) -> tuple[Any, ...]:
    row: list[Any] = [None] * len(COLUMNS)
    defaults = {
        "verdict": "appropriate_help",
        "is_final": False,
        "is_imported": False,
        "created_at": NOW - timedelta(days=1),
        "item__conversation__source__name": "guardrail",
        "item__status": "done",
        "item__reviews_required": 1,
        "item__queue__edit_window_minutes": 60,
        "bulk_id": None,
    }
    for name, value in {**defaults, **values}.items():
        row[AT[name]] = value
    return tuple(row)


def _outcome(settle_group: Any, group: list[tuple[Any, ...]], include_imported: bool) -> str:
    try:
        rows, source = settle_group(group, include_imported=include_imported, now=NOW)
    except Skip as skip:
        return f"skip:{skip.reason}"
    assert list(rows) == group
    return source


CASES = {
    "past the edit window": ({}, False, "reviewer"),
    "two reviews asked, item done": ({"item__reviews_required": 2}, False, "reviewer"),
    "inside the edit window": ({"created_at": NOW - timedelta(minutes=5)}, False, "skip:in_edit_window"),
    "no edit window": ({"created_at": NOW, "item__queue__edit_window_minutes": 0}, False, "reviewer"),
    "senior": ({"is_final": True, "created_at": NOW}, False, "senior"),
    "bulk": ({"bulk_id": 7, "created_at": NOW}, False, "bulk"),
    "escalated": ({"item__status": "escalated"}, False, "skip:awaiting_senior"),
    "open": ({"item__status": "open"}, False, "skip:awaiting_review"),
    "imported, left out": ({"is_imported": True}, False, "skip:imported_label"),
    "imported, asked for": ({"is_imported": True}, True, "imported:guardrail"),
}


@pytest.mark.parametrize(("values", "include_imported", "expected"), CASES.values(), ids=CASES.keys())
def test_one_decision_settles_as_the_general_path_settles_it(values, include_imported, expected):
    group = [_decision(**values)]
    assert _outcome(settle, group, include_imported) == expected
    assert _outcome(_settle_many, group, include_imported) == expected
