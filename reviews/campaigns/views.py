"""The campaigns page and one campaign: its sample, the sampled decisions, bulk verdicts applied and reverted."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET, require_POST

from reviews.campaigns import bulk as services
from reviews.campaigns import selectors
from reviews.htmx import HtmxRequest, render_region
from reviews.models import BulkStatus, BulkVerdict, Campaign, Verdict
from reviews.permissions import reviewer_required
from reviews.workspace.errors import WorkspaceError

LIST, DETAIL = "reviews/campaigns/campaigns.html", "reviews/campaigns/campaign.html"


def _campaign_or_404(request: HtmxRequest, pk: int) -> Campaign:
    campaign = selectors.campaign_visible(user=request.user, pk=pk)
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _panel(request: HtmxRequest, campaign: Campaign, *, status: int = 200, **extra: Any) -> HttpResponse:
    user = request.user
    context = {
        "campaign": campaign,
        "members": selectors.campaign_members(user=user, campaign=campaign),
        "sample": selectors.campaign_sample(user=user, campaign=campaign),
        "open_count": selectors.campaign_open_items(user=user, campaign=campaign).count(),
        "bulks": (bulks := selectors.bulk_verdicts(campaign=campaign)),
        "applying": any(b.status == BulkStatus.APPLYING for b in bulks),
        "verdicts": Verdict.choices,
        **extra,
    }
    return render_region(request, DETAIL, "campaign-panel", context, status=status)


@reviewer_required
@require_GET
def campaigns(request: HtmxRequest) -> HttpResponse:
    asked = request.GET.get("page", "1")
    page = int(asked) if asked.isdigit() and 0 < int(asked) < 10_000 else 1
    rows = selectors.campaign_list(user=request.user, page=page)
    context = {"rows": rows, "page": page, "more": len(rows) == selectors.PAGE, "recent": selectors.RECENT}
    return render_region(request, LIST, "campaign-list", context)


@reviewer_required
@require_GET
def campaign(request: HtmxRequest, pk: int) -> HttpResponse:
    return _panel(request, _campaign_or_404(request, pk))


@reviewer_required
@require_POST
def campaign_decide(request: HtmxRequest, pk: int, item_pk: int) -> HttpResponse:
    found = _campaign_or_404(request, pk)
    try:
        services.campaign_sample_decide(
            user=request.user, campaign=found, item_id=item_pk, verdict=request.POST.get("verdict", "")
        )
    except WorkspaceError as exc:
        return _panel(request, found, status=422, error=str(exc))
    return _panel(request, found, notice="Decision recorded.")


@reviewer_required
@require_POST
def campaign_apply(request: HtmxRequest, pk: int) -> HttpResponse:
    found = _campaign_or_404(request, pk)
    try:
        applied = services.bulk_verdict_apply(user=request.user, campaign=found)
    except WorkspaceError as exc:
        return _panel(request, found, status=422, error=str(exc))
    applied.refresh_from_db()  # without a broker the task has run by now (reviews/taskqueue.py)
    if applied.status == BulkStatus.APPLYING:
        notice = f"Applying to {len(applied.item_ids)} open members in the background: progress below."
    else:
        notice = f"Applied to {applied.applied_count} open members."
    return _panel(request, found, notice=notice)


@reviewer_required
@require_POST
def bulk_revert(request: HtmxRequest, pk: int, bulk_pk: int) -> HttpResponse:
    found = _campaign_or_404(request, pk)
    bulk = BulkVerdict.objects.filter(campaign=found, pk=bulk_pk).first()
    if bulk is None:
        raise Http404("No such bulk verdict.")
    try:
        count = services.bulk_verdict_revert(user=request.user, bulk=bulk)
    except WorkspaceError as exc:
        return _panel(request, found, status=422, error=str(exc))
    return _panel(request, found, notice=f"Reverted: {count} members are open again.")
