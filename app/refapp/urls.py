"""URL routes of the reference app."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from refapp import health, metrics, static
from refapp.api import api
from refapp.flags_view import flags_view
from refapp.login_throttle import ThrottledLoginView

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("version", health.version, name="version"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("flags", flags_view, name="flags"),
    path("api/", api.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("static/<path:path>", static.ninja_static, name="static"),
]

handler400 = "refapp.errors.bad_request"
handler403 = "refapp.errors.permission_denied"
handler404 = "refapp.errors.not_found"
handler500 = "refapp.errors.server_error"
