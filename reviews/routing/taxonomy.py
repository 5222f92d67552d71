"""Taxonomy changes that keep old decisions readable: slugs never change, merges map old onto new."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction

from reviews.audit import audit_record
from reviews.models import AuditAction, Category


class TaxonomyError(ValueError):
    """The change would lose or tangle labels."""


def category_merge(*, category: Category, into: Category, actor: Any = None) -> Category:
    """Stop using `category`; decisions that name it now count as `into` (training, exports, display)."""
    target: Category | None = into
    while target is not None:  # refuse cycles: a → b → a
        if target.pk == category.pk:
            raise TaxonomyError(f"Merging {category.slug} into {into.slug} would make a cycle.")
        target = target.merged_into
    with transaction.atomic():
        category.merged_into, category.is_active = into, False
        category.save(update_fields=["merged_into", "is_active"])
        audit_record(actor=actor, action=AuditAction.POLICY_CHANGE, target=category, merged_into=into.slug)
    return category


def category_merge_map() -> dict[str, str]:
    """Old slug → the slug it now counts as (merges can chain)."""
    parent = dict(Category.objects.exclude(merged_into=None).values_list("slug", "merged_into__slug"))
    resolved = {}
    for slug in parent:
        target = slug
        while target in parent:
            target = parent[target]
        resolved[slug] = target
    return resolved


def taxonomy_version() -> str:
    """A short hash of the taxonomy as exports see it: slugs, limits, activity and merges."""
    rows = Category.objects.order_by("slug").values_list("slug", "limit", "is_active", "merged_into__slug")
    return "tax-" + hashlib.sha256(json.dumps(list(rows)).encode()).hexdigest()[:12]
