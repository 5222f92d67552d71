"""Who may keep a websocket: the page's own origin (scheme, host and port), and a session that still stands.

A socket outlives the request that opened it. Consumers (reviews/live/consumers.py) therefore re-check on every push,
not only at connect: the session must still exist (not logged out, flushed or expired) with the same password,
the user must still be active, and they must still have access to what the push is about. Re-checking costs a
few primary-key reads per push and covers every way access ends, including those no event announces (a session
that expires, a group taken off a queue in the admin), where closing sockets on events would need one signal
per way and miss some.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import constant_time_compare

DEFAULT_PORTS = {"http": 80, "https": 443}


def session_user(*, session_key: str | None, user_id: Any) -> Any | None:
    """The user of `session_key` if it is still `user_id`'s live session: logged in, not expired, the same password
    (a password change ends other sessions), and the account active. Else None."""
    if not session_key:
        return None
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    backend_path = data.get(BACKEND_SESSION_KEY)
    if str(data.get(SESSION_KEY)) != str(user_id) or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)  # None for an inactive account
    if user is None:
        return None
    session_hash = data.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    return user


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin1")
    return None


def _origin_tuple(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _secure(scope: dict[str, Any]) -> bool:
    """Whether the page was served over HTTPS: the socket's own scheme, or the proxy's header Django trusts."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy:
        return False
    meta_name, expected = proxy
    header = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode()
    value = _header(scope, header)
    return value is not None and value.split(",")[0].strip() == expected


def same_origin(scope: dict[str, Any]) -> bool:
    """The Origin header names this site exactly (scheme, host and port of the request), or one of
    CSRF_TRUSTED_ORIGINS; the Host itself must be one of ALLOWED_HOSTS."""
    origin, host = _header(scope, b"origin"), _header(scope, b"host")
    if not origin or not host:
        return False
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    claimed = _origin_tuple(origin)
    if claimed is None:
        return False
    own = _origin_tuple(f"{'https' if _secure(scope) else 'http'}://{host}")
    return claimed == own or any(_trusted(claimed, url) for url in settings.CSRF_TRUSTED_ORIGINS)


def _trusted(claimed: tuple[str, str, int | None], pattern: str) -> bool:
    """One of CSRF_TRUSTED_ORIGINS, as Django reads them: `https://*.example.com` admits its subdomains."""
    wildcard = "://*." in pattern
    allowed = _origin_tuple(pattern.replace("://*.", "://", 1))
    if allowed is None:
        return False
    scheme, host, port = allowed
    subdomain = wildcard and claimed[1].endswith("." + host)
    return claimed[0] == scheme and claimed[2] == port and (claimed[1] == host or subdomain)


class SameOriginValidator:
    """ASGI middleware: a websocket from another origin (another port included) is refused before it connects."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
