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

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchQueryField, SearchVectorField
from django.db import connection, transaction
from django.db.models import BooleanField, Exists, F, Func, OuterRef, QuerySet, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from reviews.models import Conversation, Decision, Flag, ItemStatus, ItemTag, ReviewItem, Verdict
from reviews.workspace.visibility import decisions_seen, items_visible_eager, queues_workable

PAGE_SIZE = 25
TEXT_IDS = 6_000  # matches up to which text search lists the conversations (see _text)
PHRASE_CANDIDATES = 12_000  # conversations with a phrase's words whose positions a search checks before choosing
PHRASE_SAMPLE = 2_000  # ... or a sample of, where the statistics say there are more than that
WALK_COST = 2  # an item walked costs about as much as two conversations listed (PostgreSQL at 1M)
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


class Matches(Func):
    """`vector @@ query` as a boolean expression (to filter or annotate with)."""

    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class Relaxed(Func):
    """The query with each phrase operator (`<->`, `<N>`) as AND: every conversation a phrase matches has all its
    words, and the GIN index answers that exactly, with no recheck of positions. Only for queries without
    negation (under a NOT it would match less, not more); `_relaxable` says which."""

    template = "regexp_replace((%(expressions)s)::text, '<(-|[0-9]+)>', '&', 'g')::tsquery"
    output_field = SearchQueryField()


def _relaxable(text: str) -> bool:
    return '"' in text and not re.search(r"(^|\s)-", text)


@contextmanager
def _local(setting: str, value: str) -> Iterator[None]:
    """A PostgreSQL setting for the queries inside, then back as it was (for the rest of an enclosing
    transaction; on an error the rollback undoes it). Nothing elsewhere."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s), set_config(%s, %s, true)", [setting, setting, value])
        before = cursor.fetchone()[0]
        yield
        cursor.execute("SELECT set_config(%s, %s, true)", [setting, before])


def _planned_rows(qs: QuerySet[Any]) -> float:
    """The planner's estimate of the rows `qs` finds (from the column statistics, without running it)."""
    plan = qs.explain(format="json")
    return float((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


def _matching_ids(text: str) -> list[int] | None:
    """The conversations matching `text`, or None where walking the items costs less than listing them.

    Words: listed up to TEXT_IDS; a word the statistics say is common is not counted first at all. A phrase:
    its candidates are the conversations with all its words (`Relaxed`, exact from the GIN index), and the
    positions are checked on up to PHRASE_CANDIDATES of them (on PHRASE_SAMPLE where the statistics say there are
    more); past that, the share that held the phrase says whether a walk would find a page sooner than checking
    every candidate (a pair of rare words can have 8,000 candidates and 60 matches: walked, that read 850,000
    items). A phrase of two common words with few matches stays slow (~0.5 s at 1M) either way: no index here
    knows positions (RUM is not in core PostgreSQL)."""
    query = SearchQuery(text, config="english", search_type="websearch")
    vector = ConversationSearchVector(F("messages"))
    phrase = _relaxable(text)
    if phrase:
        found = Conversation.objects.filter(Matches(vector, Relaxed(query))).annotate(hit=Matches(vector, query))
    else:
        found = Conversation.objects.filter(Matches(vector, query)).annotate(hit=Value(True))
    cap, planned = PHRASE_CANDIDATES if phrase else TEXT_IDS, _planned_rows(found)
    if not phrase and planned > 2 * cap:  # the statistics of a common word are close (it is among them)
        return None
    if phrase and planned > cap:  # plainly more candidates than that: a sample is enough to choose
        cap = PHRASE_SAMPLE
    # a phrase: an exact bitmap of a common pair's candidates (a lossy one has every row of its pages rechecked)
    with _local("work_mem", "64MB") if phrase else nullcontext():
        rows = list(found.values_list("pk", "hit")[: cap + 1])
    hits = [pk for pk, hit in rows if hit]
    if len(rows) <= cap and len(hits) <= TEXT_IDS:
        return hits
    if not phrase or len(hits) > TEXT_IDS:  # so many matches that a walk finds a page within a few thousand
        return None
    candidates = max(planned, len(rows))
    matches = max(1.0, candidates * len(hits) / len(rows))
    walked = WALK_COST * (PAGE_SIZE + 1) * _planned_rows(Conversation.objects.all()) / matches
    if walked < candidates:
        return None
    with _local("work_mem", "64MB"):
        return list(Conversation.objects.filter(Matches(vector, query)).values_list("pk", flat=True))


def _text(qs: QuerySet[ReviewItem], text: str) -> QuerySet[ReviewItem]:
    """Items whose conversation matches `text`. On PostgreSQL in two steps, so that neither kind of word takes
    the other's plan: the matching conversations first from the GIN index, up to TEXT_IDS candidates; if that is
    all there are (a rare word, a phrase), the items of exactly those; else (a common word) the page walks the
    items newest first and checks each conversation's stored tsvector, which finds 26 matches within a few
    thousand rows. Left to itself the planner took that walk for rare words too and read every row.
    TEXT_IDS balances the two: listing N matches costs about N lookups, walking about 26 * total / N rows,
    both ~10-15 µs a row at 1M conversations; the worst case of each is near sqrt(26 * 1M) ~ 5,000 rows."""
    if connection.vendor != "postgresql":  # the embedded default: every word, a plural also as its singular
        qs = qs.alias(messages_text=Cast("conversation__messages", output_field=TextField()))
        for word in re.findall(r"\w+", text.lower()):
            stem = word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
            qs = qs.filter(messages_text__icontains=stem)
        return qs
    ids = _matching_ids(text)
    if ids is not None:  # the page sorts these few: never walk an index to find them (see items_search)
        # one array parameter, unnested: a list of thousands of parameters cost 0.1 s to send and plan
        listed = RawSQL("SELECT unnest(%s::bigint[])", (ids,))
        return qs.filter(conversation_id__in=listed).alias(listed=Value(True))
    query = SearchQuery(text, config="english", search_type="websearch")
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
    """One page of the items `user` may see that match the cleaned SearchForm `data`. The page's ids are chosen
    in a subquery that joins only what the filters need; its 26 rows are then loaded with their queue and
    conversation (else the planner joined the conversation of every listed match before sorting them)."""
    qs = _filters(items_visible_eager(user=user), data, user)
    order = SORTS.get(data.get("sort") or "", SORTS["newest"])
    listed = "listed" in qs.query.annotations
    if listed:  # sort the listed matches, by an expression no index offers to walk
        order = tuple(_unindexed(key) for key in order)
    page = max(1, page)
    start = (page - 1) * per_page
    chosen = qs.order_by(*order).values("pk")[start : start + per_page + 1]
    rows = ReviewItem.objects.filter(pk__in=chosen).select_related("queue", "conversation__source")
    rows = rows.defer("conversation__messages", "conversation__metadata").order_by(*order)
    # No parallel workers: the query walks an index until it has a page, and each worker would walk its own
    # share until it had a page of its own (at 1M, two words read 51,000 items in three processes instead of
    # 7,700 in one: 0.9 s instead of 0.11 s).
    with nullcontext() if listed else _local("max_parallel_workers_per_gather", "0"):
        found = list(rows)
    return SearchPage(items=found[:per_page], page=page, has_next=len(found) > per_page)


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
