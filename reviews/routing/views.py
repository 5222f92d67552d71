"""Admin pages for the routing policy: edit the draft, dry-run it, activate it, roll back.

Each page is one template whose swappable regions are partials; htmx requests get only the region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reviews.htmx import HtmxRequest, render_region
from reviews.models import Category, PolicyVersion, Queue, SourceKind
from reviews.permissions import admin_required
from reviews.routing import policies
from reviews.routing.forms import PolicyForm
from reviews.routing.policies import PolicyInvalid
from reviews.routing.policy import PolicyDocument
from reviews.vocabulary import VERDICTS

EDITOR = "reviews/routing/editor.html"
VERSIONS = "reviews/routing/versions.html"
_T = TypeVar("_T")


def _attempt(form: PolicyForm, action: Callable[[dict[str, Any]], _T]) -> _T | None:
    """Run `action` on valid input; a PolicyInvalid becomes errors on the text field."""
    if not form.is_valid():
        return None
    try:
        return action(form.cleaned_data)
    except PolicyInvalid as exc:
        for message in exc.errors:
            form.add_error("text", message)
        return None


def _saved_form() -> PolicyForm:
    return PolicyForm(initial={"text": policies.pretty(policies.draft_get().document)})


def _editor(
    request: HtmxRequest, form: PolicyForm, *, region: str = "editor", status: int = 200, **extra: Any
) -> HttpResponse:
    active = policies.active_policy()
    context = {
        "form": form,
        "draft": policies.draft_get(),
        "active": active,
        "weights": PolicyDocument.model_validate(active.document).weights,
        "queue_slugs": Queue.objects.filter(is_active=True).values_list("slug", flat=True),
        "category_slugs": Category.objects.filter(is_active=True).values_list("slug", flat=True),
        "source_kinds": SourceKind.values,
        "verdicts": VERDICTS,
        **extra,
    }
    return render_region(request, EDITOR, region, context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def policy_editor(request: HtmxRequest) -> HttpResponse:
    if request.method == "GET":
        return _editor(request, _saved_form())
    form = PolicyForm(request.POST)
    saved = _attempt(form, lambda data: policies.draft_save(text=data["text"], actor=request.user))
    if saved is None:
        return _editor(request, form, action="save", status=422)
    return _editor(request, form, notice="Draft saved.")


@admin_required
@require_POST
def policy_dry_run(request: HtmxRequest) -> HttpResponse:
    """Replay recent conversations through the submitted text and the active version; saves nothing."""
    form = PolicyForm(request.POST)
    dry_run = _attempt(form, lambda data: policies.policy_dry_run(document=data["text"], limit=data["limit"]))
    status = 422 if dry_run is None else 200
    return _editor(request, form, region="dry-run", action="dry-run", dry_run=dry_run, status=status)


@admin_required
@require_POST
def policy_activate(request: HtmxRequest) -> HttpResponse:
    """Save the submitted text as the draft (validated), then make the draft the active version."""
    form = PolicyForm(request.POST)

    def activate(data: dict[str, Any]) -> PolicyVersion:
        policies.draft_save(text=data["text"], actor=request.user)
        return policies.policy_activate(actor=request.user, note=data["note"])

    version = _attempt(form, activate)
    if version is None:
        return _editor(request, form, action="activate", status=422)
    return _editor(request, _saved_form(), notice=f"Activated: v{version.number} now routes new conversations.")


def _versions(request: HtmxRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    versions = PolicyVersion.objects.select_related("created_by").order_by("-number")
    return render_region(request, VERSIONS, "versions", {"versions": versions, **extra}, status=status)


@admin_required
@require_GET
def policy_versions(request: HtmxRequest) -> HttpResponse:
    return _versions(request)


@admin_required
@require_POST
def policy_rollback(request: HtmxRequest, number: int) -> HttpResponse:
    version = get_object_or_404(PolicyVersion, number=number)
    try:
        new = policies.policy_rollback(version=version, actor=request.user)
    except PolicyInvalid as exc:
        return _versions(request, errors=exc.errors, status=422)
    return _versions(request, notice=f"Rolled back: v{new.number} is active, with the document of v{version.number}.")
