from django.urls import path

from reviews import policy_views, source_views, views

app_name = "reviews"
urlpatterns = [
    path("", views.home, name="home"),
    path("policy/", policy_views.policy_editor, name="policy-editor"),
    path("policy/dry-run/", policy_views.policy_dry_run, name="policy-dry-run"),
    path("policy/activate/", policy_views.policy_activate, name="policy-activate"),
    path("policy/versions/", policy_views.policy_versions, name="policy-versions"),
    path("policy/versions/<int:number>/rollback/", policy_views.policy_rollback, name="policy-rollback"),
    path("sources/", source_views.sources, name="sources"),
    path("sources/<int:pk>/revoke/", source_views.source_revoke, name="source-revoke"),
    path("sources/<int:pk>/rotate/", source_views.source_rotate, name="source-rotate"),
]
