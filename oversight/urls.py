from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reviews.api import api
from reviews.ops import views as ops_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("", include("reviews.urls")),
]
