"""The gold control on a settled item's page: a senior marks it as gold (POST; reviews/quality/gold.py audits)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from reviews.htmx import HtmxRequest
from reviews.permissions import reviewer_required
from reviews.quality.gold import GoldError, gold_mark
from reviews.quality.selectors import gold_control, may_mark_gold
from reviews.workspace.visibility import item_visible

CONTROL = "reviews/quality/gold_control.html"


class GoldForm(forms.Form):
    note = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


@reviewer_required
@require_POST
def item_mark_gold(request: HtmxRequest, pk: int) -> HttpResponse:
    if not may_mark_gold(request.user):
        raise PermissionDenied
    item = item_visible(user=request.user, pk=pk)
    if item is None or gold_control(item=item, user=request.user) is None:
        raise Http404("No settled item of yours to mark.")
    form, error = GoldForm(request.POST), ""
    if form.is_valid():
        try:
            gold_mark(item=item, senior=request.user, note=form.cleaned_data["note"])
        except GoldError as exc:
            error = str(exc)
    if not request.htmx and not error:
        return redirect("reviews:item", item.pk)
    context = {"gold": gold_control(item=item, user=request.user), "gold_error": error}
    return TemplateResponse(request, f"{CONTROL}#control", context, status=422 if error else 200)
