"""Django admin: configuration and inspection. Token changes go through the sources service.

The review record (conversations, review items, decisions, escalations, datasets, audit events) is
read-only here: an edit or delete in the admin would write no audit event and mark no snapshot stale.
It changes only through the audited services (workspace, API, management commands). A decision in
particular cannot be deleted at all: there is no retraction service yet, and a delete would leave a
hole in what snapshots, analytics and the audit trail say was decided.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from reviews import models
from reviews.ingest.sources import source_revoke, source_rotate_token
from reviews.routing.taxonomy import TaxonomyError, category_merge
from reviews.scoring.model_registry import PromotionError, PromotionNeedsConfirmation, model_promote


def _tokens_page(request: HttpRequest, admin_site: admin.AdminSite, issued: list[tuple[Any, str]]) -> TemplateResponse:
    """New tokens, shown in this response only: a message would carry them in a cookie or the session row."""
    context = {**admin_site.each_context(request), "issued": issued}
    return TemplateResponse(request, "admin/reviews/source/tokens_issued.html", context)


@admin.register(models.Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "token_prefix", "created_at", "last_seen_at", "revoked_at"]
    list_filter = ["kind"]
    readonly_fields = ["token_prefix", "created_at", "last_seen_at", "revoked_at"]
    actions = ["issue_token", "revoke_token"]

    def save_model(self, request: HttpRequest, obj: models.Source, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            obj.issued_token = source_rotate_token(source=obj, actor=request.user).token  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: models.Source, post_url_continue: str | None = None) -> Any:
        token = getattr(obj, "issued_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return _tokens_page(request, self.admin_site, [(obj, token)])

    @admin.action(description="Issue a new token (the old one stops working)")
    def issue_token(self, request: HttpRequest, queryset: QuerySet[models.Source]) -> TemplateResponse:
        issued = [(source, source_rotate_token(source=source, actor=request.user).token) for source in queryset]
        return _tokens_page(request, self.admin_site, issued)

    @admin.action(description="Revoke token")
    def revoke_token(self, request: HttpRequest, queryset: QuerySet[models.Source]) -> None:
        for source in queryset:
            source_revoke(source=source, actor=request.user)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: no add, change or delete (nor the bulk "delete selected" action)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FlagInline(admin.TabularInline):
    model = models.Flag
    extra = 0
    readonly_fields = ["detector", "category", "score", "explanation", "message_index"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "external_id", "model_name", "received_at", "scoring_status", "scoring_attempts"]
    list_filter = ["scoring_status", "source"]
    search_fields = ["external_id"]
    readonly_fields = ["scoring_status", "scoring_attempts", "scoring_error"]
    inlines = [FlagInline]


@admin.register(models.Category)
class CategoryAdmin(admin.ModelAdmin):
    """Rename by changing the name; the slug is what old decisions hold, so it never changes.
    Merge by choosing "merged into": old decisions then count as the target category."""

    list_display = ["slug", "name", "limit", "blur_by_default", "is_active", "merged_into"]
    list_filter = ["limit", "is_active"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["slug"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: models.Category, form: Any, change: bool) -> None:
        merge_into = obj.merged_into if "merged_into" in form.changed_data else None
        if merge_into is not None:
            obj.merged_into = None
        super().save_model(request, obj, form, change)
        if merge_into is not None:
            try:
                category_merge(category=obj, into=merge_into, actor=request.user)
            except TaxonomyError as exc:
                self.message_user(request, str(exc), messages.ERROR)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # decisions name categories: merge or deactivate instead


@admin.register(models.ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    list_display = ["version", "status", "encoder", "created_at", "activated_at"]
    readonly_fields = ["labels", "model_args", "metrics", "error"]
    actions = ["promote"]

    @admin.action(description="Promote (make active and rescore the open backlog)")
    def promote(self, request: HttpRequest, queryset: QuerySet[models.ScoringModel]) -> TemplateResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to promote.", messages.ERROR)
            return None
        model = queryset.get()
        try:
            backlog = model_promote(model=model, actor=request.user, force=request.POST.get("confirm") == "yes")
        except PromotionNeedsConfirmation as exc:  # worse on the common rows: the same confirm step as the page
            context = {**self.admin_site.each_context(request), "model": model, "reason": str(exc), "opts": self.opts}
            return TemplateResponse(request, "admin/reviews/scoringmodel/promote_confirm.html", context)
        except PromotionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        self.message_user(request, f"Promoted; {len(backlog)} open conversations queued for rescoring.")
        return None


@admin.register(models.Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "reviews_required", "lease_seconds", "is_active"]
    filter_horizontal = ["allowed_groups"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["help_texts"] = {
            "allowed_groups": "Members of any of these groups may work this queue, if they also hold a role "
            "(reviewer, senior or admin): a role group, or a team of your own such as cbrn-team.",
            "blind": "While an item of a conversation is open here, everyone working it sees only their own "
            "decisions on the conversation, seniors included, until nothing of it is open any more.",
        }
        return super().get_form(request, obj, change, **kwargs)


@admin.register(models.GoldItem)
class GoldItemAdmin(ReadOnlyAdmin):
    """Gold items are marked and retired from a settled item's page (audited); here they are only listed."""

    list_display = ["id", "item", "queue", "verdict", "severity", "created_by", "is_active", "created_at"]
    list_filter = ["queue", "is_active"]


@admin.register(models.ReviewItem)
class ReviewItemAdmin(ReadOnlyAdmin):
    list_display = ["id", "queue", "status", "priority", "claimed_by", "due_at", "reviews_done", "reviews_required"]
    list_filter = ["queue", "status"]
    raw_id_fields = ["conversation"]


@admin.register(models.Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["id", "item", "reviewer", "verdict", "severity", "is_final", "is_imported", "created_at"]
    list_filter = ["verdict", "is_final", "is_imported"]
    raw_id_fields = ["item"]


@admin.register(models.Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["id", "item", "status", "raised_by", "resolved_by", "created_at"]
    raw_id_fields = ["item", "resolution"]


@admin.register(models.Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "format", "status", "row_count", "is_stale", "created_at"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail is append-only."""

    list_display = ["created_at", "action", "actor", "target_type", "target_id"]
    list_filter = ["action"]
