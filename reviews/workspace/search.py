"""Search and browse: items in the queues a user may work (`visibility.items_visible`), filtered and paged.

Text search reads the conversation's turns. On PostgreSQL it is full-text search: `reviews_conversation.
search_vector`, a stored generated column (migration 0023) holding `reviews_search_vector(messages)` (the turns'
`content` strings, their first SEARCH_CHARS characters, as an English tsvector), under a GIN index; queries are
`websearch_to_tsquery` ("quoted phrases", -exclusions, or). A stored column rather than an expression index on the
function: a GIN match must often be rechecked against the document (phrases, and the newest-first walk the
planner takes for common words), and reading a stored tsvector is ~10x cheaper than recomputing it from the JSON
each time; the price is its disk space and a table rewrite when the migration runs. Ingest computes it either
way, once per conversation; the cap means no conversation can exceed the 1 MB tsvector limit and fail to ingest.
Elsewhere (SQLite) text search is a case-insensitive substring match.

Pages are counted by asking for one row more than a page holds: no COUNT over a million matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models import Exists, F, Func, OuterRef, QuerySet, TextField, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from reviews.models import Conversation, Decision, Flag, ItemStatus, ItemTag, ReviewItem, Verdict
from reviews.workspace.visibility import decisions_seen, items_visible_eager, queues_workable

PAGE_SIZE = 25
TEXT_IDS = 3_000  # matches up to which text search lists the conversations (see _text)
SEARCH_CHARS = 100_000  # frozen in migration 0023's reviews_search_vector
SORTS = {
    "newest": ("-created_at", "-pk"),
    "oldest": ("created_at", "pk"),
    "risk": ("-risk", "-pk"),
}


class ConversationSearchVector(Func):
    """The conversation's `search_vector` column (PostgreSQL only; not a model field, so the ORM never loads it),
    named through the `messages` column of the same join: `ConversationSearchVector(F("conversation__messages"))`.
    """

    output_field = SearchVectorField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        sql, params = compiler.compile(self.get_source_expressions()[0])
        column = connection.ops.quote_name("messages")
        if not sql.endswith(column):
            raise ValueError(f"expected the messages column, not {sql}")
        return sql[: -len(column)] + connection.ops.quote_name("search_vector"), list(params)


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Text")
    queue = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ItemStatus.choices])
    category = forms.CharField(required=False, max_length=100, label="Flag category")
    verdict = forms.ChoiceField(required=False, choices=[("", "Any verdict"), *Verdict.choices])
    risk_min = forms.FloatField(required=False, min_value=0, max_value=1, label="Risk from")
    risk_max = forms.FloatField(required=False, min_value=0, max_value=1, label="Risk to")
    source = forms.CharField(required=False, max_length=100)
    model = forms.CharField(required=False, max_length=200)
    date_from = forms.DateField(required=False, label="Arrived from", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="Arrived to", widget=forms.DateInput(attrs={"type": "date"}))
    tag = forms.CharField(required=False, max_length=50)
    sort = forms.ChoiceField(required=False, choices=[(key, key.capitalize()) for key in SORTS])

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queues = queues_workable(user=user).order_by("name").values_list("slug", "name")
        self.fields["queue"].choices = [("", "Any queue"), *queues]  # type: ignore[attr-defined]


FIELDS = tuple(SearchForm.base_fields)


@dataclass(frozen=True)
class SearchPage:
    items: list[ReviewItem]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _text(qs: QuerySet[ReviewItem], text: str) -> QuerySet[ReviewItem]:
    """Items whose conversation matches `text`. On PostgreSQL in two steps, so that neither kind of word takes
    the other's plan: the matching conversations first from the GIN index, at most TEXT_IDS of them; if that is
    all there are (a rare word, a phrase), the items of exactly those; else (a common word) the page walks the
    items newest first and checks each conversation's stored tsvector, which finds 26 matches within a few
    thousand rows. Left to itself the planner took that walk for rare words too and read every row."""
    if connection.vendor != "postgresql":  # the embedded default: every word, a plural also as its singular
        qs = qs.alias(messages_text=Cast("conversation__messages", output_field=TextField()))
        for word in re.findall(r"\w+", text.lower()):
            stem = word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
            qs = qs.filter(messages_text__icontains=stem)
        return qs
    query = SearchQuery(text, config="english", search_type="websearch")
    matching = Conversation.objects.alias(document=ConversationSearchVector(F("messages"))).filter(document=query)
    ids = list(matching.values_list("pk", flat=True)[: TEXT_IDS + 1])
    if len(ids) <= TEXT_IDS:  # the page sorts these few: never walk an index to find them (see items_search)
        return qs.filter(conversation_id__in=ids).alias(listed=Value(True))
    return qs.alias(document=ConversationSearchVector(F("conversation__messages"))).filter(document=query)


def _unindexed(key: str) -> Any:
    """`-created_at` as `Coalesce(created_at, created_at) DESC`: the same order, but the planner cannot read it
    from an index, so it fetches the listed rows and sorts them instead of walking the whole table for them."""
    name = key.lstrip("-")
    expression = Coalesce(name, name)
    return expression.desc() if key.startswith("-") else expression.asc()


def _day_start(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _filters(qs: QuerySet[ReviewItem], data: dict[str, Any], user: Any) -> QuerySet[ReviewItem]:
    simple = {
        "queue__slug": data.get("queue"),
        "status": data.get("status"),
        "risk__gte": data.get("risk_min"),
        "risk__lte": data.get("risk_max"),
        "conversation__source__name": data.get("source"),
        "conversation__model_name__icontains": data.get("model"),
        "created_at__gte": _day_start(data["date_from"]) if data.get("date_from") else None,
        "created_at__lt": _day_start(data["date_to"]) + timedelta(days=1) if data.get("date_to") else None,
    }
    qs = qs.filter(**{key: value for key, value in simple.items() if value not in (None, "")})
    if data.get("category"):
        flags = Flag.objects.filter(conversation=OuterRef("conversation"), category=data["category"])
        qs = qs.filter(Exists(flags))
    if data.get("tag"):
        qs = qs.filter(Exists(ItemTag.objects.filter(item=OuterRef("pk"), name=data["tag"].strip().lower())))
    if data.get("verdict"):
        seen = Decision.objects.filter(item=OuterRef("pk"), verdict=data["verdict"]).filter(decisions_seen(user=user))
        qs = qs.filter(Exists(seen))
    if data.get("q", "").strip():
        qs = _text(qs, data["q"].strip())
    return qs


def items_search(*, user: Any, data: dict[str, Any], page: int = 1, per_page: int = PAGE_SIZE) -> SearchPage:
    """One page of the items `user` may see that match the cleaned SearchForm `data`."""
    qs = _filters(items_visible_eager(user=user), data, user)
    qs = qs.select_related("queue", "conversation__source").defer("conversation__messages", "conversation__metadata")
    order = SORTS.get(data.get("sort") or "", SORTS["newest"])
    if "listed" in qs.query.annotations:  # sort the listed matches, by an expression no index offers to walk
        order = tuple(_unindexed(key) for key in order)
    qs = qs.order_by(*order)
    page = max(1, page)
    start = (page - 1) * per_page
    rows = list(qs[start : start + per_page + 1])
    return SearchPage(items=rows[:per_page], page=page, has_next=len(rows) > per_page)


def search_query_string(data: dict[str, Any]) -> str:
    """The form's own fields as a query string (what a saved filter keeps), without the page."""
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for name in FIELDS:
        value = data.get(name)
        if value not in (None, ""):
            query[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return query.urlencode()


def decisions_own(*, user: Any, queue: str = "", verdict: str = "") -> QuerySet[Decision]:
    """The user's own decisions for "My work", newest first, optionally of one queue (slug) and verdict."""
    qs = Decision.objects.filter(reviewer=user, is_imported=False).select_related("item__queue")
    if queue:
        qs = qs.filter(item__queue__slug=queue)
    if verdict:
        qs = qs.filter(verdict=verdict)
    return qs.order_by("-created_at", "-pk")
