"""The pages' URLs (namespace `reviews`); the API and /metrics are mounted in oversight/urls.py."""

from django.urls import path

from reviews.analytics import views as analytics_views
from reviews.campaigns import views as campaign_views
from reviews.datasets import views as dataset_views
from reviews.ingest import views as source_views
from reviews.routing import views as policy_views
from reviews.workspace import finding, gold_views, home
from reviews.workspace import views as workspace_views

app_name = "reviews"
urlpatterns = [
    path("", home.home, name="home"),
    path("queues/<slug:slug>/next/", workspace_views.claim_next, name="claim-next"),
    path("queues/<slug:slug>/empty/", workspace_views.queue_empty, name="queue-empty"),
    path("items/<int:pk>/", workspace_views.item_page, name="item"),
    path("items/<int:pk>/decide/", workspace_views.item_decide, name="item-decide"),
    path("items/<int:pk>/skip/", workspace_views.item_skip, name="item-skip"),
    path("items/<int:pk>/escalate/", workspace_views.item_escalate, name="item-escalate"),
    path("items/<int:pk>/renew/", workspace_views.item_renew, name="item-renew"),
    path("items/<int:pk>/gold/", gold_views.item_mark_gold, name="item-gold"),
    path("items/<int:pk>/messages/<int:index>/", workspace_views.message_full, name="message"),
    path("items/<int:pk>/messages/<int:index>/reveal/", workspace_views.message_reveal, name="message-reveal"),
    path("items/<int:pk>/reveal-all/", workspace_views.messages_reveal_all, name="reveal-all"),
    path("items/<int:pk>/discussion/", finding.item_discussion, name="item-discussion"),
    path("items/<int:pk>/comments/", finding.comment_post, name="comment-post"),
    path("items/<int:pk>/comments/<int:comment_pk>/", finding.comment_edit, name="comment-edit"),
    path("items/<int:pk>/tags/", finding.tag_add, name="tag-add"),
    path("items/<int:pk>/tags/remove/", finding.tag_remove, name="tag-remove"),
    path("items/<int:pk>/history/", finding.item_history, name="item-history"),
    path("search/", finding.search_page, name="search"),
    path("search/saved/", finding.saved_filter_save, name="saved-filter-save"),
    path("search/saved/<int:pk>/delete/", finding.saved_filter_delete, name="saved-filter-delete"),
    path("inbox/", finding.senior_inbox, name="inbox"),
    path("my/mentions/dismiss/", finding.mentions_dismiss, name="mentions-dismiss"),
    path("my/work/", finding.my_work, name="my-work"),
    path("my/work/<int:pk>/edit/", workspace_views.decision_edit, name="decision-edit"),
    path("my/work/<int:pk>/undo/", workspace_views.decision_undo, name="decision-undo"),
    path("my/escalations/", workspace_views.my_escalations, name="my-escalations"),
    path("policy/", policy_views.policy_editor, name="policy-editor"),
    path("policy/dry-run/", policy_views.policy_dry_run, name="policy-dry-run"),
    path("policy/activate/", policy_views.policy_activate, name="policy-activate"),
    path("policy/versions/", policy_views.policy_versions, name="policy-versions"),
    path("policy/versions/<int:number>/rollback/", policy_views.policy_rollback, name="policy-rollback"),
    path("datasets/", dataset_views.datasets, name="datasets"),
    path("datasets/<int:pk>/row/", dataset_views.dataset_row, name="dataset-row"),
    path("datasets/<int:pk>/cancel/", dataset_views.dataset_cancel_view, name="dataset-cancel"),
    path("datasets/<int:pk>/download/<slug:split>/", dataset_views.dataset_download, name="dataset-download"),
    path("datasets/<int:pk>/train/", dataset_views.dataset_train, name="dataset-train"),
    path("datasets/models/<int:pk>/promote/", dataset_views.scoring_model_promote, name="scoring-model-promote"),
    path("sources/", source_views.sources, name="sources"),
    path("sources/<int:pk>/revoke/", source_views.source_revoke, name="source-revoke"),
    path("sources/<int:pk>/rotate/", source_views.source_rotate, name="source-rotate"),
    path("campaigns/", campaign_views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/", campaign_views.campaign, name="campaign"),
    path("campaigns/<int:pk>/items/<int:item_pk>/decide/", campaign_views.campaign_decide, name="campaign-decide"),
    path("campaigns/<int:pk>/apply/", campaign_views.campaign_apply, name="campaign-apply"),
    path("campaigns/<int:pk>/bulk/<int:bulk_pk>/revert/", campaign_views.bulk_revert, name="campaign-revert"),
    path("analytics/", analytics_views.analytics, name="analytics"),
    path("analytics/<slug:name>/", analytics_views.analytics_dashboard, name="analytics-dashboard"),
    path("analytics/<slug:name>/<slug:table>.csv", analytics_views.analytics_csv, name="analytics-csv"),
]
