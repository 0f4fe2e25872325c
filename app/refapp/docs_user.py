"""Idempotent creation of the single user allowed to read the API docs."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model

logger = logging.getLogger("refapp.docs_user")


def ensure_docs_user(username: str, password: str, using: str = "default") -> str:
    """Make ``username`` exist, be active and have ``password``.

    Returns ``"created"``, ``"updated"`` or ``"unchanged"``; safe to run on every deploy.
    """
    user_model = get_user_model()
    manager = user_model._default_manager.db_manager(using)
    lookup: dict[str, str] = {str(user_model.USERNAME_FIELD): username}
    user = manager.filter(**lookup).first()
    created = user is None
    if user is None:
        user = user_model(**lookup)
    if not created and user.is_active and user.check_password(password):
        result = "unchanged"
    else:
        user.set_password(password)
        user.is_active = True
        user.save(using=using)
        result = "created" if created else "updated"
    logger.info("docs user %s", result, extra={"event": "docs_user", "user": username, "result": result})
    return result
