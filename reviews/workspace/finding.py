"""Pages for finding work and talking about it: search (with saved filters), my work, an item's discussion
(comments and tags) and history, the seniors' inbox, and dismissing mentions. Thin: services in comments.py,
reads in search.py, history.py, inbox.py and selectors.py."""

from __future__ import annotations

from contextlib import suppress
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from reviews.htmx import HtmxRequest, render_region
from reviews.models import Comment, ItemTag, ReviewItem, SavedFilter, Verdict
from reviews.permissions import reviewer_required, role_required
from reviews.workspace import comments, history, inbox, search
from reviews.workspace.visibility import conversation_view, item_visible, queues_workable

SEARCH = "reviews/workspace/search.html"
DISCUSSION = "reviews/workspace/discussion.html"
HISTORY = "reviews/workspace/history.html"
INBOX = "reviews/workspace/inbox.html"
MY_WORK = "reviews/workspace/my_work.html"
MY_WORK_PAGE = 25


def _me(request: HtmxRequest) -> User:
    return cast(User, request.user)


def _item(request: HtmxRequest, pk: int) -> ReviewItem:
    item = item_visible(user=request.user, pk=pk)
    if item is None:
        raise Http404("No such item in a queue you may work.")
    return item


def _page_number(request: HtmxRequest) -> int:
    value = request.GET.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1


@reviewer_required
@require_GET
def search_page(request: HtmxRequest) -> HttpResponse:
    """Items in the user's queues by filters and text; a result opens the item page (claim rules unchanged)."""
    form = search.SearchForm(request.GET or None, user=request.user)
    results = None
    if form.is_bound and form.is_valid():
        results = search.items_search(user=request.user, data=form.cleaned_data, page=_page_number(request))
    query = search.search_query_string(form.cleaned_data) if results is not None else ""
    saved = SavedFilter.objects.filter(user=_me(request))
    context = {"form": form, "results": results, "query": query, "saved": saved}
    return render_region(request, SEARCH, "results", context)


@reviewer_required
@require_POST
def saved_filter_save(request: HtmxRequest) -> HttpResponse:
    form = search.SearchForm(request.POST, user=request.user)
    if not form.is_valid():
        return redirect("reviews:search")
    query = search.search_query_string(form.cleaned_data)
    with suppress(comments.CommentError):  # no name: the search stays as it was, unsaved
        comments.saved_filter_save(user=_me(request), name=request.POST.get("name", ""), query=query)
    return redirect(f"{reverse('reviews:search')}?{query}")


@reviewer_required
@require_POST
def saved_filter_delete(request: HtmxRequest, pk: int) -> HttpResponse:
    if not comments.saved_filter_delete(user=_me(request), pk=pk):
        raise Http404("No such filter of yours.")
    return redirect("reviews:search")


def _discussion(request: HtmxRequest, item: ReviewItem, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "item": item,
        "comments": [(comment, comment.is_editable_by(request.user)) for comment in comments.comments_of(item=item)],
        "tags": list(ItemTag.objects.filter(item=item).order_by("name")),
        "error": error,
    }
    return render_region(request, DISCUSSION, "discussion", context, status=status)


@reviewer_required
@require_GET
def item_discussion(request: HtmxRequest, pk: int) -> HttpResponse:
    return _discussion(request, _item(request, pk))


def _after_write(request: HtmxRequest, item: ReviewItem, action: Any) -> HttpResponse:
    """Run a comments/tags service; the discussion region again (htmx), else back to the item page."""
    try:
        action()
    except comments.CommentError as exc:
        return _discussion(request, item, error=str(exc), status=422)
    if request.htmx:
        return _discussion(request, item)
    return redirect(f"{reverse('reviews:item', args=[item.pk])}#discussion")


@reviewer_required
@require_POST
def comment_post(request: HtmxRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    body = request.POST.get("body", "")
    return _after_write(request, item, lambda: comments.comment_post(item=item, author=_me(request), body=body))


@reviewer_required
@require_POST
def comment_edit(request: HtmxRequest, pk: int, comment_pk: int) -> HttpResponse:
    item = _item(request, pk)
    comment = Comment.objects.filter(pk=comment_pk, item=item).first()
    if comment is None:
        raise Http404("No such comment.")
    body = request.POST.get("body", "")
    return _after_write(request, item, lambda: comments.comment_edit(comment=comment, author=_me(request), body=body))


@reviewer_required
@require_POST
def tag_add(request: HtmxRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    name = request.POST.get("name", "")
    return _after_write(request, item, lambda: comments.tag_add(item=item, user=_me(request), name=name))


@reviewer_required
@require_POST
def tag_remove(request: HtmxRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    name = request.POST.get("name", "")
    return _after_write(request, item, lambda: comments.tag_remove(item=item, user=_me(request), name=name))


@reviewer_required
@require_GET
def item_history(request: HtmxRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    view = conversation_view(user=request.user, conversation=item.conversation)
    if view is None:
        raise Http404("No such item in a queue you may work.")
    events = history.conversation_history(view=view, user=request.user)
    context = {"item": item, "events": events, "blind": not view.others_visible}
    return render_region(request, HISTORY, "timeline", context)


@role_required(inbox.may_use_inbox)
@require_GET
def senior_inbox(request: HtmxRequest) -> HttpResponse:
    sort = request.GET.get("sort", "oldest")
    sort = sort if sort in inbox.SORTS else "oldest"
    rows = inbox.inbox_items(user=request.user, sort=sort)
    return render_region(
        request, INBOX, "inbox", {"rows": rows, "sort": sort, "sorts": inbox.SORT_LABELS, "limit": inbox.INBOX_LIMIT}
    )


@reviewer_required
@require_GET
def my_work(request: HtmxRequest) -> HttpResponse:
    """The user's own decisions, newest first, filtered by queue and verdict, 25 a page."""
    queue, verdict = request.GET.get("queue", ""), request.GET.get("verdict", "")
    decisions = search.decisions_own(user=request.user, queue=queue, verdict=verdict)
    page = Paginator(decisions, MY_WORK_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [(decision, decision.is_editable()) for decision in page.object_list],
        "queues": queues_workable(user=request.user).order_by("name"),
        "verdicts": Verdict.choices,
        "queue": queue,
        "verdict": verdict,
    }
    return render_region(request, MY_WORK, "decisions", context)


@reviewer_required
@require_POST
def mentions_dismiss(request: HtmxRequest) -> HttpResponse:
    comments.mentions_dismiss(user=_me(request))
    return redirect("reviews:home")
