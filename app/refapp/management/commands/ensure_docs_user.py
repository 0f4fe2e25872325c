"""``manage.py ensure_docs_user``: create/update the API docs user from the environment."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from refapp.docs_user import ensure_docs_user


class Command(BaseCommand):
    """Idempotently create APP_DOCS_USER with APP_DOCS_PASSWORD (no-op when unset)."""

    help = "Create or update the API docs user from APP_DOCS_USER / APP_DOCS_PASSWORD."

    def add_arguments(self, parser: Any) -> None:
        """Allow ``--database`` like the built-in commands."""
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the command."""
        if not settings.APP_DOCS_USER:
            self.stdout.write("APP_DOCS_USER is not set; nothing to do")
            return
        result = ensure_docs_user(settings.APP_DOCS_USER, settings.APP_DOCS_PASSWORD, using=options["database"])
        self.stdout.write(f"docs user {settings.APP_DOCS_USER!r}: {result}")
