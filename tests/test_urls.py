"""Every URL of the product, frozen: moving views between modules must not change a path, a name or its view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

# (route, URL name, view function name); the admin site is Django's and left out.
URLS = [
    ("api/v1/openapi.json", "api:openapi-json", "partial"),
    ("api/v1/docs", "api:openapi-view", "partial"),
    ("api/v1/conversations", "api:ingest_conversations", "sync_view_wrapper"),
    ("api/v1/conversations/<conversation_id>", "api:get_conversation", "sync_view_wrapper"),
    ("api/v1/conversations/<conversation_id>/messages/<index>/reveal", "api:reveal_message", "sync_view_wrapper"),
    ("api/v1/health", "api:health", "sync_view_wrapper"),
    ("api/v1/datasets", "api:dataset_post", "sync_view_wrapper"),
    ("api/v1/datasets/<dataset_id>", "api:dataset_get", "sync_view_wrapper"),
    ("api/v1/datasets/<dataset_id>/files/<split>", "api:dataset_file", "sync_view_wrapper"),
    ("api/v1/", "api:api-root", "partial"),
    ("login/", "login", "view"),
    ("logout/", "logout", "view"),
    ("metrics", "metrics", "metrics"),
    ("favicon.ico", "favicon", "view"),
    ("", "reviews:home", "home"),
    ("queues/<slug:slug>/next/", "reviews:claim-next", "claim_next"),
    ("queues/<slug:slug>/empty/", "reviews:queue-empty", "queue_empty"),
    ("items/<int:pk>/", "reviews:item", "item_page"),
    ("items/<int:pk>/decide/", "reviews:item-decide", "item_decide"),
    ("items/<int:pk>/skip/", "reviews:item-skip", "item_skip"),
    ("items/<int:pk>/escalate/", "reviews:item-escalate", "item_escalate"),
    ("items/<int:pk>/renew/", "reviews:item-renew", "item_renew"),
    ("items/<int:pk>/gold/", "reviews:item-gold", "item_mark_gold"),
    ("items/<int:pk>/messages/<int:index>/", "reviews:message", "message_full"),
    ("items/<int:pk>/messages/<int:index>/reveal/", "reviews:message-reveal", "message_reveal"),
    ("items/<int:pk>/reveal-all/", "reviews:reveal-all", "messages_reveal_all"),
    ("items/<int:pk>/discussion/", "reviews:item-discussion", "item_discussion"),
    ("items/<int:pk>/comments/", "reviews:comment-post", "comment_post"),
    ("items/<int:pk>/comments/<int:comment_pk>/", "reviews:comment-edit", "comment_edit"),
    ("items/<int:pk>/tags/", "reviews:tag-add", "tag_add"),
    ("items/<int:pk>/tags/remove/", "reviews:tag-remove", "tag_remove"),
    ("items/<int:pk>/history/", "reviews:item-history", "item_history"),
    ("search/", "reviews:search", "search_page"),
    ("search/saved/", "reviews:saved-filter-save", "saved_filter_save"),
    ("search/saved/<int:pk>/delete/", "reviews:saved-filter-delete", "saved_filter_delete"),
    ("inbox/", "reviews:inbox", "senior_inbox"),
    ("my/mentions/dismiss/", "reviews:mentions-dismiss", "mentions_dismiss"),
    ("my/work/", "reviews:my-work", "my_work"),
    ("my/work/<int:pk>/edit/", "reviews:decision-edit", "decision_edit"),
    ("my/work/<int:pk>/undo/", "reviews:decision-undo", "decision_undo"),
    ("my/escalations/", "reviews:my-escalations", "my_escalations"),
    ("policy/", "reviews:policy-editor", "policy_editor"),
    ("policy/dry-run/", "reviews:policy-dry-run", "policy_dry_run"),
    ("policy/activate/", "reviews:policy-activate", "policy_activate"),
    ("policy/versions/", "reviews:policy-versions", "policy_versions"),
    ("policy/versions/<int:number>/rollback/", "reviews:policy-rollback", "policy_rollback"),
    ("datasets/", "reviews:datasets", "datasets"),
    ("datasets/<int:pk>/row/", "reviews:dataset-row", "dataset_row"),
    ("datasets/<int:pk>/cancel/", "reviews:dataset-cancel", "dataset_cancel_view"),
    ("datasets/<int:pk>/download/<slug:split>/", "reviews:dataset-download", "dataset_download"),
    ("datasets/<int:pk>/train/", "reviews:dataset-train", "dataset_train"),
    ("datasets/models/<int:pk>/promote/", "reviews:scoring-model-promote", "scoring_model_promote"),
    ("sources/", "reviews:sources", "sources"),
    ("sources/<int:pk>/revoke/", "reviews:source-revoke", "source_revoke"),
    ("sources/<int:pk>/rotate/", "reviews:source-rotate", "source_rotate"),
    ("campaigns/", "reviews:campaigns", "campaigns"),
    ("campaigns/<int:pk>/", "reviews:campaign", "campaign"),
    ("campaigns/<int:pk>/items/<int:item_pk>/decide/", "reviews:campaign-decide", "campaign_decide"),
    ("campaigns/<int:pk>/apply/", "reviews:campaign-apply", "campaign_apply"),
    ("campaigns/<int:pk>/bulk/<int:bulk_pk>/revert/", "reviews:campaign-revert", "bulk_revert"),
    ("analytics/", "reviews:analytics", "analytics"),
    ("analytics/<slug:name>/", "reviews:analytics-dashboard", "analytics_dashboard"),
    ("analytics/<slug:name>/<slug:table>.csv", "reviews:analytics-csv", "analytics_csv"),
]
WEBSOCKETS = [
    ("ws/queues/", "QueueConsumer"),
    ("ws/items/<int:pk>/", "ItemConsumer"),
    ("ws/datasets/", "DatasetConsumer"),
    ("^.*$", "UnknownPathConsumer"),
]
SAMPLE = {
    "comment_pk": 3,
    "pk": 7,
    "slug": "triage",
    "index": 2,
    "number": 3,
    "name": "safety",
    "table": "cells",
    "split": "train",
    "item_pk": 8,
    "bulk_pk": 9,
}


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str | None, str]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield prefix + str(entry.pattern), name, getattr(entry.callback, "__name__", type(entry.callback).__name__)


def test_every_url_keeps_its_route_name_and_view() -> None:
    found = [row for row in _walk(get_resolver().url_patterns) if not row[0].startswith("admin/")]
    assert found == URLS


def test_every_named_page_reverses_and_resolves_back() -> None:
    for route, name, view in URLS:
        if not name.startswith("reviews:") and name != "metrics":
            continue
        kwargs = {key: value for key, value in SAMPLE.items() if f":{key}>" in route}
        path = reverse(name, kwargs=kwargs)
        match = resolve(path)
        assert (match.view_name, match.func.__name__, match.kwargs) == (name, view, kwargs)


def test_every_websocket_route_keeps_its_consumer() -> None:
    from oversight.asgi import application  # noqa: F401  (the app the server runs mounts these)
    from reviews.ws_urls import websocket_urlpatterns

    found = [(str(p.pattern), p.callback.__name__) for p in websocket_urlpatterns]
    assert found == WEBSOCKETS
