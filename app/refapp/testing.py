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


class _AddressedAsyncClient(AsyncClient):
    """An ``AsyncClient`` whose requests come from ``address`` (``REMOTE_ADDR``)."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def _base_scope(self, **request: Any) -> dict[str, Any]:
        scope: dict[str, Any] = super()._base_scope(**request)
        scope["client"] = [self.address, 50000]
        return scope


class ASGITestClient:
    """Synchronous facade over :class:`django.test.AsyncClient`; requests come from ``address``."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.inner = _AddressedAsyncClient(address)

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
