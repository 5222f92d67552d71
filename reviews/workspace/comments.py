"""Talking about an item: comments (with @mentions), free tags, and saved search filters. Every write audited.

Callers pass only items the actor may see (`visibility.item_visible`); a mention reaches a user only if the item
is visible to them too, so a comment never tells anyone about a queue they may not work.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews.audit import audit_record
from reviews.models import AuditAction, Comment, ItemTag, Mention, ReviewItem, SavedFilter
from reviews.workspace.errors import WorkspaceError
from reviews.workspace.visibility import item_visible, items_visible

COMMENT_MAX_CHARS = 5_000
MENTION = re.compile(r"(?<![\w@.])@([\w.+-]{1,150})")
TAG = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,49}$")


class CommentError(WorkspaceError):
    """A comment, tag or saved filter that cannot be written: the message says why."""


def _body(body: str) -> str:
    body = body.strip()
    if not body:
        raise CommentError("Write something first.")
    if len(body) > COMMENT_MAX_CHARS:
        raise CommentError(f"A comment holds at most {COMMENT_MAX_CHARS:,} characters.")
    return body


def _mention(*, comment: Comment, body: str) -> list[User]:
    """Mentions for the @names in `body` of active users who may see the item (the author excepted)."""
    names = {name.rstrip(".") for name in MENTION.findall(body)}
    users = User.objects.filter(username__in=names, is_active=True).exclude(pk=comment.author_id)
    reached = [user for user in users if item_visible(user=user, pk=comment.item_id) is not None]
    for user in reached:
        Mention.objects.get_or_create(user=user, comment=comment)
    return reached


def comment_post(*, item: ReviewItem, author: User, body: str) -> Comment:
    body = _body(body)
    with transaction.atomic():
        comment = Comment.objects.create(item=item, author=author, body=body)
        reached = _mention(comment=comment, body=body)
        audit_record(
            actor=author,
            action=AuditAction.COMMENT,
            target=comment,
            item=item.pk,
            mentioned=sorted(user.get_username() for user in reached),
        )
    return comment


def comment_edit(*, comment: Comment, author: User, body: str) -> Comment:
    """The author changes their comment within COMMENT_EDIT_MINUTES; new @mentions notify (old ones stay)."""
    body = _body(body)
    with transaction.atomic():
        locked = Comment.objects.select_for_update().get(pk=comment.pk)
        if not locked.is_editable_by(author):
            raise CommentError("Only its author may edit a comment, and only for 15 minutes.")
        before = locked.body
        locked.body, locked.edited_at = body, timezone.now()
        locked.save(update_fields=["body", "edited_at"])
        _mention(comment=locked, body=body)
        audit_record(actor=author, action=AuditAction.COMMENT_EDIT, target=locked, item=locked.item_id, before=before)
    return locked


def mentions_dismiss(*, user: User) -> int:
    """Mark the user's unread mentions read (audited, with how many, when there were any)."""
    with transaction.atomic():
        read = Mention.objects.filter(user=user, read_at=None).update(read_at=timezone.now())
        if read:
            audit_record(actor=user, action=AuditAction.MENTIONS_READ, target=user, mentions=read)
    return read


def tag_add(*, item: ReviewItem, user: User, name: str) -> ItemTag:
    name = name.strip().lower().replace(" ", "-")
    if not TAG.match(name):
        raise CommentError("A tag is 1 to 50 lower-case letters, digits, '-', '_', '.' or ':'.")
    try:
        with transaction.atomic():
            tag = ItemTag.objects.create(item=item, name=name, added_by=user)
            audit_record(actor=user, action=AuditAction.TAG_ADD, target=item, tag=name)
    except IntegrityError:
        raise CommentError(f"Item {item.pk} is already tagged {name}.") from None
    return tag


def tag_remove(*, item: ReviewItem, user: User, name: str) -> bool:
    with transaction.atomic():
        deleted, _ = ItemTag.objects.filter(item=item, name=name).delete()
        if deleted:
            audit_record(actor=user, action=AuditAction.TAG_REMOVE, target=item, tag=name)
    return bool(deleted)


def saved_filter_save(*, user: User, name: str, query: str) -> SavedFilter:
    """Keep (or replace) a named search; `query` is `search.search_query_string` of a valid form."""
    name = name.strip()
    if not name:
        raise CommentError("Name the filter.")
    with transaction.atomic():
        saved, _ = SavedFilter.objects.update_or_create(user=user, name=name[:80], defaults={"query": query[:1000]})
        audit_record(actor=user, action=AuditAction.FILTER_SAVE, target=saved, name=saved.name, query=saved.query)
    return saved


def saved_filter_delete(*, user: User, pk: int) -> bool:
    with transaction.atomic():
        saved = SavedFilter.objects.filter(user=user, pk=pk).first()
        if saved is None:
            return False
        audit_record(actor=user, action=AuditAction.FILTER_DELETE, target=saved, name=saved.name)
        saved.delete()
    return True


def comments_of(*, item: ReviewItem) -> list[Comment]:
    """An item's comments, oldest first (the caller checked the item is visible)."""
    return list(Comment.objects.filter(item=item).select_related("author").order_by("created_at", "pk"))


def mentions_unread(*, user: Any, limit: int = 10) -> list[Mention]:
    """The user's unread mentions on items they may still see, newest first (for the home page)."""
    if not getattr(user, "is_authenticated", False):
        return []
    visible = items_visible(user=user).values("pk")
    return list(
        Mention.objects.filter(user=user, read_at=None, comment__item__in=visible)
        .select_related("comment__author", "comment__item__queue")
        .order_by("-created_at", "-pk")[:limit]
    )
