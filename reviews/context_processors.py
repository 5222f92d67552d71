"""Template context for every page."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from reviews.permissions import is_admin as user_is_admin


def roles(request: HttpRequest) -> dict[str, Any]:
    """`is_admin` for the navigation; evaluated (one query) only when a template reads it."""
    return {"is_admin": SimpleLazyObject(lambda: user_is_admin(request.user))}
