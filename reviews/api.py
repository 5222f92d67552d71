"""The public HTTP API, `/api/v1/`: thin adapters over services, errors as JSON of one shape."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.responses import Status
from ninja.security import HttpBearer, django_auth

from reviews.datasets.api import TokenScopeError
from reviews.datasets.api import router as datasets_router
from reviews.ingest import schemas
from reviews.ingest.rate_limit import RateLimitExceeded, token_rate_limit_enforce
from reviews.ingest.selectors import conversation_detail
from reviews.ingest.services import conversations_ingest
from reviews.ingest.sources import source_authenticate
from reviews.models import Conversation, Decision, ReviewItem, Score, Source
from reviews.ops.health import health_check
from reviews.permissions import is_oversight_staff
from reviews.workspace.reviewing import content_reveal
from reviews.workspace.visibility import ConversationView, conversation_view, conversation_view_by_id

RETRY_AFTER_SECONDS = 5
logger = logging.getLogger(__name__)


class BodyError(ValueError):
    """The request body is not UTF-8 JSON."""


def _no_constant(name: str) -> Any:
    raise BodyError(f"Body is not valid JSON: {name} is not a number JSON allows.")


def _finite_float(literal: str) -> float:
    """Python reads 1e400 as infinity, which no JSON column (or client) can hold back."""
    value = float(literal)
    if not math.isfinite(value):
        raise BodyError(f"Body has a number out of range: {literal[:40]}.")
    return value


class StrictJSONParser(Parser):
    """JSON that must be valid UTF-8 with finite numbers; NUL bytes and deep nesting are caught by the schemas."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyError(f"Body is not valid UTF-8 (byte {exc.start}).") from None
        try:
            return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except json.JSONDecodeError as exc:
            raise BodyError(f"Body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
        except BodyError:
            raise
        except ValueError:  # an integer of more digits than Python converts (4,300)
            raise BodyError("Body has an integer too long to read.") from None
        except RecursionError:
            raise BodyError("Body is nested too deeply.") from None


class SourceToken(HttpBearer):
    """`Authorization: Bearer <token>` of an active source; export tokens are refused (403)."""

    def authenticate(self, request: HttpRequest, token: str) -> Source | None:
        source = source_authenticate(token=token)
        if source is not None and source.can_export:
            raise TokenScopeError("An export token may only export datasets (/api/v1/datasets).")
        if source is not None:
            token_rate_limit_enforce(source=source)
        return source


def _auth(request: HttpRequest) -> Any:
    """What the operation's auth callback returned (ninja sets it on the request)."""
    return getattr(request, "auth", None)


def _staff_session(request: HttpRequest) -> Any:
    user = django_auth(request)
    return user if user is not None and is_oversight_staff(user) else None


api = NinjaAPI(
    title="Oversight API",
    version="1",
    description="Ingest flagged conversations and read back what the oversight layer made of them.",
    urls_namespace="api",
    parser=StrictJSONParser(),
)


def _error(
    request: HttpRequest, status: int, error: str, message: str, details: list[dict[str, Any]] | None = None
) -> HttpResponse:
    return api.create_response(request, {"error": error, "message": message, "details": details or []}, status=status)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> tuple[str, int | None]:
    """('body', 'payload', 'conversations', 3, 'messages', 0, 'role') → ('conversations[3].messages[0].role', 3)."""
    parts = [p for p in loc if p not in ("body", "payload")]
    index = parts[parts.index("conversations") + 1] if "conversations" in parts[:-1] else None
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body", index if isinstance(index, int) else None


@api.exception_handler(ValidationError)
def _on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = []
    for err in exc.errors:
        path, index = _field_path(err.get("loc", ()))
        details.append({"field": path, "message": err.get("msg", "invalid"), "conversation_index": index})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return _error(request, 422, "validation_error", f"Invalid request: {summary}", details)


@api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, BodyError):
        return _error(request, 422, "invalid_body", str(exc.__cause__))
    return _error(request, exc.status_code, "http_error", str(exc))


@api.exception_handler(AuthenticationError)
def _on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(request, 401, "unauthorized", "A valid 'Authorization: Bearer <token>' header is required.")
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(TokenScopeError)
def _on_scope_error(request: HttpRequest, exc: TokenScopeError) -> HttpResponse:
    return _error(request, 403, "forbidden", str(exc))


@api.exception_handler(RateLimitExceeded)
def _on_rate_limited(request: HttpRequest, exc: RateLimitExceeded) -> HttpResponse:
    response = _error(request, 429, "rate_limited", str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(RequestDataTooBig)
def _on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.INGEST_MAX_BODY_BYTES
    return _error(
        request, 413, "body_too_large", f"Request body is over the limit of {limit} bytes; send smaller batches."
    )


def _on_database_down(request: HttpRequest, exc: Exception) -> HttpResponse:
    response = _error(request, 503, "unavailable", "The database is unavailable; nothing was written. Retry later.")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(Exception)
def _on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Anything no handler above expects: logged with its traceback here, never sent to the client
    (ninja's default re-raises into Django's HTML error page, or a traceback with DEBUG on)."""
    logger.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
    return _error(
        request, 500, "server_error", "The server failed to handle this request. Retry later; report it if it persists."
    )


api.add_exception_handler(OperationalError, _on_database_down)  # type: ignore[arg-type]
api.add_exception_handler(InterfaceError, _on_database_down)  # type: ignore[arg-type]


@api.post(
    "/conversations",
    auth=SourceToken(),
    response={
        202: schemas.IngestOut,
        401: schemas.ErrorOut,
        403: schemas.ErrorOut,
        413: schemas.ErrorOut,
        422: schemas.ErrorOut,
        429: schemas.ErrorOut,
        503: schemas.ErrorOut,
    },
    summary="Ingest flagged conversations (idempotent per external_id)",
)
def ingest_conversations(request: HttpRequest, payload: schemas.IngestIn) -> Status[schemas.IngestOut]:
    result = conversations_ingest(source=_auth(request), conversations=payload.conversations)
    return Status(202, schemas.IngestOut(accepted=result.accepted, duplicates=result.duplicates, ids=result.ids))


@api.get(
    "/conversations/{conversation_id}",
    auth=[SourceToken(), _staff_session],
    response={
        200: schemas.ConversationOut,
        **dict.fromkeys((401, 403, 404, 422, 429, 503), schemas.ErrorOut),
    },
    summary="A conversation with its flags, scores, review items and decisions",
    description=(
        "With a source's token: one of its own conversations, in full. With a session: the conversation as "
        "the item page shows it to that person (reviews/workspace/visibility.py): only items in queues they "
        "may work (else 404), other reviewers' decisions withheld while the conversation is under blind "
        "review, and turns blurred by default sent as `content: null` with the `blurred` categories until "
        "revealed (POST …/messages/{index}/reveal, audited)."
    ),
)
def get_conversation(request: HttpRequest, conversation_id: int) -> Any:
    auth = _auth(request)
    if isinstance(auth, Source):
        conversation = conversation_detail(conversation_id=conversation_id, source=auth)
        return Status(200, _conversation_out(conversation)) if conversation else _not_found(conversation_id)
    view = conversation_view_by_id(user=auth, conversation_id=conversation_id)
    return Status(200, _view_out(view)) if view else _not_found(conversation_id)


@api.post(
    "/conversations/{conversation_id}/messages/{index}/reveal",
    auth=_staff_session,
    response={200: schemas.ConversationOut, **dict.fromkeys((401, 403, 404, 422, 503), schemas.ErrorOut)},
    summary="Reveal a blurred turn to yourself (audited, as on the item page)",
)
def reveal_message(request: HttpRequest, conversation_id: int, index: int) -> Any:
    user = _auth(request)
    view = conversation_view_by_id(user=user, conversation_id=conversation_id)
    item = view.reveal_item if view else None
    if view is None or item is None or not 0 <= index < len(view.turns):
        return _not_found(conversation_id, index)
    item.conversation = view.conversation
    content_reveal(item=item, reviewer=user, message_index=index)
    revealed = conversation_view(user=user, conversation=view.conversation)
    return Status(200, _view_out(revealed)) if revealed else _not_found(conversation_id)


def _not_found(conversation_id: int, index: int | None = None) -> Status[dict[str, Any]]:
    what = f"No conversation {conversation_id}" + (f" with a turn {index}" if index is not None else "")
    return Status(404, {"error": "not_found", "message": f"{what}.", "details": []})


def _item_out(item: ReviewItem, decisions: list[Decision]) -> dict[str, Any]:
    return {
        "id": item.pk,
        "queue": item.queue.slug,
        "status": item.status,
        "priority": item.priority,
        "due_at": item.due_at,
        "reviews_required": item.reviews_required,
        "reviews_done": item.reviews_done,
        "decisions": decisions,
    }


def _score_out(score: Score) -> dict[str, Any]:
    return {
        "producer": score.producer,
        "model_version": score.scoring_model.version if score.scoring_model else None,
        "risk": score.risk,
        "verdicts": score.verdicts,
        "judged": score.judged,
        "categories": score.categories,
        "created_at": score.created_at,
    }


def _header(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "source": conversation.source.name,
        "external_id": conversation.external_id,
        "model": conversation.model_name,
        "metadata": conversation.metadata,
        "received_at": conversation.received_at,
        "scoring_status": conversation.scoring_status,
    }


def _conversation_out(conversation: Conversation) -> dict[str, Any]:
    """A source's own conversation, in full."""
    return {
        **_header(conversation),
        "messages": conversation.messages,
        "flags": list(conversation.flags.all()),
        "scores": [_score_out(score) for score in conversation.scores.all()],
        "review_items": [_item_out(item, list(item.decisions.all())) for item in conversation.review_items.all()],
    }


def _view_out(view: ConversationView) -> dict[str, Any]:
    """The conversation as a person may see it: blurred turns carry no content until revealed."""
    messages = [
        {"role": turn.role, "content": None, "blurred": turn.blur_categories}
        if turn.blurred
        else {"role": turn.role, "content": turn.content}
        for turn in view.turns
    ]
    return {
        **_header(view.conversation),
        "messages": messages,
        "flags": view.flags_shown(),
        "scores": [_score_out(score) for score in reversed(view.scores)],
        "review_items": [_item_out(item, view.decisions_on(item)) for item in view.items],
    }


api.add_router("/datasets", datasets_router)


@api.get(
    "/health", response={200: schemas.HealthOut, 503: schemas.HealthOut}, summary="Database, broker and worker status"
)
def health(request: HttpRequest) -> Any:
    report = health_check()
    body = {"status": report.status, "database": report.database, "broker": report.broker, "workers": report.workers}
    return Status(503 if report.status == "down" else 200, body)
