"""The reviewer workspace: claim next, read an item safely, decide, skip, escalate, reveal, renew the lease.

One template (reviews/workspace/item.html) serves the page and its regions: `workspace` (swapped after each
decision with the next item), `message` (a turn, after a reveal) and `lease`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reviews.htmx import HtmxRequest, render_region
from reviews.models import Queue, ReviewItem
from reviews.permissions import reviewer_required
from reviews.quality.selectors import gold_control, gold_feedback
from reviews.workspace import escalations, reviewing, selectors, undo
from reviews.workspace.claims import item_renew_lease
from reviews.workspace.errors import ClaimConflict, DecisionError, RevealError, UndoError, WorkspaceError
from reviews.workspace.forms import SEVERITY_SCALE, DecisionForm, ReasonForm

ITEM = "reviews/workspace/item.html"
MY_ESCALATIONS = "reviews/workspace/my_escalations.html"
PLAIN_TEXT = "text/plain; charset=utf-8"
CAPPED = "reviews/workspace/capped.html"


def _me(request: HttpRequest) -> User:
    """The signed-in reviewer (every view here is behind reviewer_required)."""
    return cast(User, request.user)


def _item_or_404(request: HttpRequest, pk: int) -> ReviewItem:
    item = selectors.item_for_user(user=request.user, pk=pk)
    if item is None:
        raise Http404("No such item in a queue you may work.")
    return item


def _decision_form(item: ReviewItem, categories: list[Any], data: Any = None, **kwargs: Any) -> DecisionForm:
    return DecisionForm(data, queue=item.queue, categories=categories, **kwargs)


def _workspace(
    request: HtmxRequest,
    item: ReviewItem | None,
    *,
    queue: Queue,
    form: DecisionForm | None = None,
    status: int = 200,
    **extra: Any,
) -> TemplateResponse:
    """The item page, or its `workspace` region; `item` None means the queue has nothing left for the user."""
    ws = selectors.item_workspace(item=item, user=request.user) if item is not None else None
    if ws is not None and form is None:  # the categories flagged or scored high start checked, as suggestions
        form = _decision_form(ws.item, ws.categories, initial={"categories": list(ws.suggested)})
    context = {"ws": ws, "queue": queue, "form": form, "reason_form": ReasonForm(), **extra}
    context["guide"] = {
        "categories": ws.categories if ws else selectors.active_categories(),
        "severity": SEVERITY_SCALE,
    }
    response = render_region(request, ITEM, "workspace", context, status=status)
    if request.htmx and status < 300:
        url = reverse("reviews:item", args=[item.pk]) if item else reverse("reviews:queue-empty", args=[queue.slug])
        response["HX-Push-Url"] = url
    return response


def _next(request: HtmxRequest, queue: Queue, notice: str, **extra: Any) -> HttpResponse:
    """After a decision, skip or escalation: the next item, in the same response."""
    item = reviewing.item_claim_next(reviewer=_me(request), queue=queue)
    if not request.htmx:
        return redirect("reviews:item", item.pk) if item else redirect("reviews:queue-empty", queue.slug)
    return _workspace(request, item, queue=queue, notice=notice, **extra)


@reviewer_required
@require_POST
def claim_next(request: HtmxRequest, slug: str) -> HttpResponse:
    queue = selectors.queue_workable(user=request.user, slug=slug)
    if queue is None:
        raise Http404("No such queue for you.")
    return _next(request, queue, notice="")


@reviewer_required
@require_GET
def queue_empty(request: HtmxRequest, slug: str) -> HttpResponse:
    queue = selectors.queue_workable(user=request.user, slug=slug)
    if queue is None:
        raise Http404("No such queue for you.")
    return _workspace(request, None, queue=queue)


@reviewer_required
@require_GET
def item_page(request: HtmxRequest, pk: int) -> HttpResponse:
    item = _item_or_404(request, pk)
    if selectors.item_past_daily_cap(item=item, user=request.user):  # the cap holds for a typed URL too
        return TemplateResponse(request, CAPPED, {"item": item, "cap": item.queue.hard_limit_daily_cap}, status=403)
    return _workspace(request, item, queue=item.queue, gold=gold_control(item=item, user=request.user))


@reviewer_required
@require_POST
def item_decide(request: HtmxRequest, pk: int) -> HttpResponse:
    item = _item_or_404(request, pk)
    form = _decision_form(item, selectors.active_categories(), request.POST)
    if not form.is_valid():
        return _workspace(request, item, queue=item.queue, form=form, status=422)
    data = form.cleaned_data
    try:
        decision = reviewing.decision_submit(
            item=item,
            reviewer=_me(request),
            verdict=data["verdict"],
            categories=data["categories"],
            severity=data["severity"],
            rationale=data["rationale"],
            preferred_response=data["preferred_response"],
            time_spent_seconds=data["seconds"],
        )
    except ClaimConflict as exc:
        item.refresh_from_db()
        return _workspace(request, item, queue=item.queue, conflict=str(exc), status=409)
    except DecisionError as exc:
        form.add_error(None, str(exc))
        return _workspace(request, item, queue=item.queue, form=form, status=422)
    feedback = gold_feedback(item=item, user=request.user)  # only where the queue shows it
    return _next(
        request, item.queue, notice=f"Saved your decision on item {item.pk}.", undo=decision, gold_feedback=feedback
    )


def _with_reason(
    request: HtmxRequest, pk: int, action: Callable[[ReviewItem, dict[str, Any]], Any], notice: str
) -> HttpResponse:
    item = _item_or_404(request, pk)
    reason_form = ReasonForm(request.POST)
    if not reason_form.is_valid():
        return _workspace(request, item, queue=item.queue, reason_error="Give a reason.", status=422)
    try:
        action(item, reason_form.cleaned_data)
    except ClaimConflict as exc:
        item.refresh_from_db()
        return _workspace(request, item, queue=item.queue, conflict=str(exc), status=409)
    except WorkspaceError as exc:  # SkipError, EscalationError
        return _workspace(request, item, queue=item.queue, reason_error=str(exc), status=422)
    return _next(request, item.queue, notice=notice.format(pk=item.pk))


@reviewer_required
@require_POST
def item_skip(request: HtmxRequest, pk: int) -> HttpResponse:
    def skip(item: ReviewItem, data: dict[str, Any]) -> Any:
        return reviewing.item_skip(item=item, reviewer=_me(request), reason=data["reason"])

    return _with_reason(request, pk, skip, "Item {pk} went back to the queue.")


@reviewer_required
@require_POST
def item_escalate(request: HtmxRequest, pk: int) -> HttpResponse:
    def escalate(item: ReviewItem, data: dict[str, Any]) -> Any:
        reviewer, reason, verdict = _me(request), data["reason"], data.get("verdict") or ""
        return escalations.escalation_raise(item=item, reviewer=reviewer, reason=reason, suggested_verdict=verdict)

    return _with_reason(request, pk, escalate, "Item {pk} was escalated to the seniors.")


@reviewer_required
@require_POST
def item_renew(request: HtmxRequest, pk: int) -> HttpResponse:
    item = _item_or_404(request, pk)
    try:
        item = item_renew_lease(item=item, reviewer=request.user)
    except ClaimConflict as exc:
        return TemplateResponse(request, f"{ITEM}#lease", {"lease_lost": str(exc), "item": item}, status=409)
    context = {"item": item, "held": True, "renew_every": selectors.lease_renew_interval(queue=item.queue)}
    return TemplateResponse(request, f"{ITEM}#lease", context)


@reviewer_required
@require_POST
def message_reveal(request: HtmxRequest, pk: int, index: int) -> HttpResponse:
    item = _item_or_404(request, pk)
    try:
        reviewing.content_reveal(item=item, reviewer=_me(request), message_index=index)
    except RevealError as exc:
        raise Http404(str(exc)) from None
    if not request.htmx:
        return redirect(f"{reverse('reviews:item', args=[item.pk])}#message-{index}")
    turns = selectors.conversation_turns(conversation=item.conversation, user=request.user)
    return TemplateResponse(request, f"{ITEM}#message", {"turn": turns[index], "ws": {"item": item}})


@reviewer_required
@require_POST
def messages_reveal_all(request: HtmxRequest, pk: int) -> HttpResponse:
    """Reveal every blurred turn at once (one audited action); htmx gets the conversation back."""
    item = _item_or_404(request, pk)
    revealed = reviewing.content_reveal_all(item=item, reviewer=_me(request))
    if not request.htmx:
        return redirect("reviews:item", item.pk)
    turns = selectors.conversation_turns(conversation=item.conversation, user=request.user)
    context = {"ws": {"item": item, "turns": turns}, "revealed": revealed}
    return TemplateResponse(request, f"{ITEM}#conversation", context)


@reviewer_required
@require_POST
def decision_undo(request: HtmxRequest, pk: int) -> HttpResponse:
    """Undo one's decision while the edit window is open: the item comes back, claimed, with its form."""
    decision = selectors.decision_own(user=request.user, pk=pk)
    if decision is None:
        raise Http404("No such decision of yours.")
    item = _item_or_404(request, decision.item_id)
    try:
        item = undo.decision_undo(decision=decision, reviewer=_me(request))
    except UndoError as exc:
        return _workspace(request, item, queue=item.queue, undo_error=str(exc), status=409)
    if not request.htmx:
        return redirect("reviews:item", item.pk)
    notice = f"Undone: item {item.pk} is yours again; nothing of that decision is kept."
    initial = {f: getattr(decision, f) for f in reviewing.EDITABLE_FIELDS}
    form = _decision_form(item, selectors.active_categories(), initial=initial)
    return _workspace(request, item, queue=item.queue, form=form, notice=notice)


@reviewer_required
@require_GET
def message_full(request: HtmxRequest, pk: int, index: int) -> HttpResponse:
    """One whole turn, for "show all" on a long one: the `message` fragment (htmx), else plain text. The item
    page's rules hold: its queue access, and a blurred turn stays covered until revealed (a GET reveals nothing)."""
    item = _item_or_404(request, pk)
    turns = selectors.conversation_turns(conversation=item.conversation, user=request.user)
    if not 0 <= index < len(turns):
        raise Http404("No such turn.")
    turn = turns[index].whole()
    if request.htmx:
        response: HttpResponse = TemplateResponse(
            request, f"{ITEM}#message", {"turn": turn, "ws": {"item": item}, "expanded": True}
        )
    elif turn.blurred:
        response = HttpResponseForbidden("Reveal this turn on the item page first.", content_type=PLAIN_TEXT)
    else:
        response = HttpResponse(turn.content, content_type=PLAIN_TEXT)
    response["X-Content-Type-Options"] = "nosniff"
    patch_vary_headers(response, ["HX-Request"])
    return response


def _edit_page(request: HtmxRequest, decision: Any, form: DecisionForm, *, status: int = 200) -> HttpResponse:
    context = {"decision": decision, "form": form, "editable": decision.is_editable()}
    return TemplateResponse(request, "reviews/workspace/decision_edit.html", context, status=status)


@reviewer_required
@require_http_methods(["GET", "POST"])
def decision_edit(request: HtmxRequest, pk: int) -> HttpResponse:
    """Change one's own decision while the queue's edit window is open."""
    decision = selectors.decision_own(user=request.user, pk=pk)
    if decision is None:
        raise Http404("No such decision of yours.")
    categories, queue = selectors.active_categories(), decision.item.queue
    if request.method == "GET":
        initial = {f: getattr(decision, f) for f in reviewing.EDITABLE_FIELDS}
        return _edit_page(request, decision, DecisionForm(initial=initial, queue=queue, categories=categories))
    form = DecisionForm(request.POST, queue=queue, categories=categories)
    if form.is_valid():
        data = {f: form.cleaned_data[f] for f in reviewing.EDITABLE_FIELDS}
        try:
            reviewing.decision_edit(decision=decision, reviewer=_me(request), **data)
        except DecisionError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("reviews:my-work")
    return _edit_page(request, decision, form, status=422)


@reviewer_required
@require_GET
def my_escalations(request: HtmxRequest) -> HttpResponse:
    return TemplateResponse(request, MY_ESCALATIONS, {"escalations": selectors.escalations_raised(user=request.user)})
