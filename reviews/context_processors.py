"""Template context for every page."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from reviews.permissions import ADMIN, user_roles
from reviews.workspace.inbox import inbox_badge


def roles(request: HttpRequest) -> dict[str, Any]:
    """`is_admin` and `has_role` for the navigation; one query, and only when a template reads either."""
    held = SimpleLazyObject(lambda: frozenset(user_roles(request.user)))
    return {
        "is_admin": SimpleLazyObject(lambda: ADMIN in held),
        "has_role": SimpleLazyObject(lambda: bool(held)),  # reviewers, seniors, admins: the Analytics link
        "senior_inbox": SimpleLazyObject(lambda: inbox_badge(user=request.user, roles=held)),  # seniors' header count
    }
