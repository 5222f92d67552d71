from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from reviews.api import api
from reviews.ops import views as ops_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("metrics", ops_views.metrics, name="metrics"),
    # Pages outside our base template (the Django admin, the API docs) get the browser's default request answered.
    path("favicon.ico", RedirectView.as_view(url=static("oversight/favicon.svg"), permanent=True), name="favicon"),
    path("", include("reviews.urls")),
]
