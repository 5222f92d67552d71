"""The pages' URLs (namespace `reviews`); the API and /metrics are mounted in oversight/urls.py."""

from django.urls import path

from reviews.analytics import views as analytics_views
from reviews.datasets import views as dataset_views
from reviews.ingest import views as source_views
from reviews.routing import views as policy_views
from reviews.workspace import gold_views, home
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
    path("my/work/", workspace_views.my_work, name="my-work"),
    path("my/work/<int:pk>/edit/", workspace_views.decision_edit, name="decision-edit"),
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
    path("analytics/", analytics_views.analytics, name="analytics"),
    path("analytics/<slug:name>/", analytics_views.analytics_dashboard, name="analytics-dashboard"),
    path("analytics/<slug:name>/<slug:table>.csv", analytics_views.analytics_csv, name="analytics-csv"),
]
