"""Django app config: publishes release metrics and hooks the docs user into migrate."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RefappConfig(AppConfig):
    """The ``refapp`` application."""

    name = "refapp"
    verbose_name = "Reference app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register signal handlers and the ``app_info`` metric."""
        from refapp.metrics import set_app_info

        set_app_info()
        post_migrate.connect(_ensure_docs_user_after_migrate, sender=self)


def _ensure_docs_user_after_migrate(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After ``manage.py migrate``, create/update APP_DOCS_USER if configured."""
    from django.conf import settings

    from refapp.docs_user import ensure_docs_user

    if settings.APP_DOCS_USER:
        ensure_docs_user(settings.APP_DOCS_USER, settings.APP_DOCS_PASSWORD, using=using)
