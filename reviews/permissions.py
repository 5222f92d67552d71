"""Roles are Django groups (created by a migration); these helpers name what each may do."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

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


_View = TypeVar("_View", bound=Callable[..., Any])


def role_required(allowed: Callable[[Any], bool]) -> Callable[[_View], _View]:
    """A view decorator: anonymous users go to the login page; signed-in users `allowed` refuses get 403."""

    def decorate(view: _View) -> _View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not allowed(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)  # type: ignore[return-value]

    return decorate


admin_required = role_required(is_admin)
reviewer_required = role_required(is_oversight_staff)
