"""Test helper: a synchronous client whose requests go through the ASGI handler.

Django's ``AsyncClient`` exercises the real async stack (ASGI handler, async
middleware, async views); wrapping each call in ``async_to_sync`` keeps tests
plain synchronous functions, and makes the ORM run on the test's own thread,
inside its transaction.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.test import AsyncClient


class ASGITestClient:
    """Synchronous facade over :class:`django.test.AsyncClient`."""

    def __init__(self) -> None:
        self.inner = AsyncClient()

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path``."""
        return async_to_sync(self.inner.get)(path, **kwargs)

    def post(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        """POST ``data`` (JSON when ``content_type="application/json"``, else multipart)."""
        return async_to_sync(self.inner.post)(path, data, **kwargs)

    def put(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        """PUT ``data``."""
        return async_to_sync(self.inner.put)(path, data, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        """DELETE ``path``."""
        return async_to_sync(self.inner.delete)(path, **kwargs)

    def force_login(self, user: Any) -> None:
        """Log ``user`` in without a password round trip."""
        async_to_sync(self.inner.aforce_login)(user)
