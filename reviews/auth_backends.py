"""Login lockout: django-axes' check in front of Django's own password backend (settings.AUTHENTICATION_BACKENDS)."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses a login from a username and IP address that failed too often; never logs anyone in itself.

    Every login over the network (the login page, the admin's) passes its request. `authenticate()` without
    one (Django's test `Client.login`, a shell) comes from no client address, so there is nothing to count;
    axes itself would raise instead.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
