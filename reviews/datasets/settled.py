"""Which conversations a snapshot may take: only settled work, and whose label it is.

A conversation is settled when its decision is final in the sense a training set needs:
- a senior's ruling (an adjudication or an escalation's resolution): `label_source` "senior";
- reviewers who agree, once every review the item asked for is in: "consensus";
- a single-review queue's decision past its queue's edit window: "reviewer";
- a campaign's verdict applied in bulk from a reviewed sample (reviews/campaigns/bulk.py): "bulk" (settled at
  once: reverting the bulk verdict removes the decision, which marks the snapshots that used it stale).
Imported labels (from public sets) are left out unless the snapshot asks for them: "imported:<source>".

Anything else is left out, counted on the snapshot (and its card) under one of SKIP_REASONS.
Kept free of pyarrow and the builder so staleness can ask "would a rebuild differ" on a decision's commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from reviews.datasets.filters import DatasetFilters
from reviews.datasets.rows import AT, Judged, Row, Skip, judge
from reviews.models import ItemStatus

IMPORTED = "imported_label"
AWAITING_REVIEW = "awaiting_review"
AWAITING_SENIOR = "awaiting_senior"
IN_EDIT_WINDOW = "in_edit_window"
SKIP_REASONS = {
    IMPORTED: "the only labels are an imported set's own (include them with the `include_imported` filter)",
    AWAITING_REVIEW: "the item still waits for reviews it asked for",
    AWAITING_SENIOR: "reviewers disagree or escalated, and no senior has ruled yet",
    IN_EDIT_WINDOW: "a single review still inside its queue's edit window",
    "filtered": "left out by the snapshot's filters",
    "no_verdict": "the decision holds no verdict",
    "not_a_failure": "preference rows take failures only",
    "no_preferred_response": "a failure without a reviewer's preferred response",
    "no_judged_turn": "no assistant answer that follows a user turn or tool results",
}

_IMPORTED, _FINAL, _VERDICT = AT["is_imported"], AT["is_final"], AT["verdict"]
_STATUS, _DECIDED = AT["item__status"], AT["created_at"]
_REQUIRED, _WINDOW = AT["item__reviews_required"], AT["item__queue__edit_window_minutes"]
_SOURCE, _BULK = AT["item__conversation__source__name"], AT["bulk_id"]
_ESCALATED, _OPEN = ItemStatus.ESCALATED.value, ItemStatus.OPEN.value  # plain str: compared per row

Group = Sequence[tuple[Any, ...]]


def label_source(group: Group) -> str:
    """Whose label the group's effective (last) decision is."""
    last = group[-1]
    if last[_IMPORTED]:
        return f"imported:{last[_SOURCE]}"
    if last[_FINAL]:
        return "senior"
    if last[_BULK] is not None:
        return "bulk"
    return "consensus" if sum(not d[_IMPORTED] for d in group) > 1 else "reviewer"


def settle(group: Group, *, include_imported: bool, now: datetime) -> tuple[Group, str]:
    """The decisions a row is made from and their `label_source`; raises Skip where the work is not settled."""
    if len(group) == 1:
        return group, _settle_one(group[0], include_imported=include_imported, now=now)
    return _settle_many(group, include_imported=include_imported, now=now)


def _settle_many(group: Group, *, include_imported: bool, now: datetime) -> tuple[Group, str]:
    rows = group if include_imported else [d for d in group if not d[_IMPORTED]]
    if not rows:
        raise Skip(IMPORTED)
    last = rows[-1]
    if last[_FINAL] or last[_IMPORTED] or last[_BULK] is not None:
        return rows, label_source(rows)
    reviews = [d for d in rows if not d[_IMPORTED]]
    if any(d[_STATUS] == ItemStatus.ESCALATED for d in reviews) or len({d[_VERDICT] for d in reviews}) > 1:
        raise Skip(AWAITING_SENIOR)
    if any(d[_STATUS] == ItemStatus.OPEN for d in reviews):
        raise Skip(AWAITING_REVIEW)
    if len(reviews) == 1 and last[_REQUIRED] <= 1 and last[_DECIDED] + timedelta(minutes=last[_WINDOW]) > now:
        raise Skip(IN_EDIT_WINDOW)
    return rows, label_source(rows)


def _settle_one(last: tuple[Any, ...], *, include_imported: bool, now: datetime) -> str:
    """`settle` of a group of one decision (most conversations), without its lists, sets and generators:
    the same label source, or the same Skip."""
    if last[_IMPORTED]:
        if not include_imported:
            raise Skip(IMPORTED)
        return f"imported:{last[_SOURCE]}"
    if last[_FINAL]:
        return "senior"
    if last[_BULK] is not None:
        return "bulk"
    status = last[_STATUS]
    if status == _ESCALATED:
        raise Skip(AWAITING_SENIOR)
    if status == _OPEN:
        raise Skip(AWAITING_REVIEW)
    if last[_REQUIRED] <= 1 and last[_DECIDED] + timedelta(minutes=last[_WINDOW]) > now:
        raise Skip(IN_EDIT_WINDOW)
    return "reviewer"


def keep(judged: Judged, filters: DatasetFilters) -> str | None:
    """The filters that need the whole group; returns why a conversation is filtered out."""
    if filters.final_only and not judged.is_final:
        return "filtered"
    if filters.verdicts and judged.verdict not in filters.verdicts:
        return "filtered"
    if filters.categories and not set(filters.categories) & set(judged.categories):
        return "filtered"
    if filters.min_agreement is not None and judged.agreement < filters.min_agreement:
        return "filtered"
    return None


def settled_row(
    group: Group,
    *,
    filters: DatasetFilters,
    merged: Mapping[str, str],
    row_of: Callable[[Judged], Row],
    now: datetime,
) -> tuple[Judged, Row]:
    """One conversation's row in a snapshot with `filters`, or Skip with the reason it has none."""
    rows, source = settle(group, include_imported=filters.include_imported, now=now)
    judged = judge(rows, merged, source)
    if reason := keep(judged, filters):
        raise Skip(reason)
    return judged, row_of(judged)
