"""JSON error responses used instead of Django's HTML (or debug) error pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse


def json_error(status: int, error: str, **extra: Any) -> JsonResponse:
    """A ``{"error": ..., ...}`` JSON response with ``status``."""
    return JsonResponse({"error": error, **extra}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler400."""
    return json_error(400, "bad request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler403."""
    return json_error(403, "forbidden")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler404."""
    return json_error(404, "not found", path=request.path)


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500."""
    return json_error(500, "internal server error")
