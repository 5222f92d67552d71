"""Roles are Django groups (created by a migration); these helpers name what each may do."""

from typing import Any

REVIEWER = "reviewer"
SENIOR = "senior"
ADMIN = "admin"
ROLES = (REVIEWER, SENIOR, ADMIN)


def user_roles(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.is_superuser:
        return set(ROLES)
    return {name for name in user.groups.values_list("name", flat=True) if name in ROLES}


def is_oversight_staff(user: Any) -> bool:
    """Anyone with a role: reviewers, seniors and admins."""
    return bool(user_roles(user))


def is_admin(user: Any) -> bool:
    return ADMIN in user_roles(user)


def can_export(user: Any) -> bool:
    """Admins, and ML engineers given the `reviews.view_dataset` permission, build and download snapshots."""
    return bool(getattr(user, "is_authenticated", False)) and (is_admin(user) or user.has_perm("reviews.view_dataset"))
