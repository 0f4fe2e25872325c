"""Serve django-ninja's bundled Swagger UI assets, so /api/docs needs no CDN.

Only files inside ninja's own ``static/`` directory are served, read once and
kept in memory (they are few and static for a given release).
"""

from __future__ import annotations

import asyncio
import mimetypes
from functools import lru_cache
from pathlib import Path

import ninja
from django.http import Http404, HttpRequest, HttpResponse
from django.utils._os import safe_join

NINJA_STATIC_DIR = Path(ninja.__file__).resolve().parent / "static"


@lru_cache(maxsize=32)
def _load(relative: str) -> tuple[bytes, str]:
    try:
        path = Path(safe_join(str(NINJA_STATIC_DIR), relative))
    except Exception:  # SuspiciousFileOperation: path escapes the directory
        raise Http404("not found") from None
    if not path.is_file():
        raise Http404("not found")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path.read_bytes(), content_type


async def ninja_static(request: HttpRequest, path: str) -> HttpResponse:
    """GET /static/<path>: one of django-ninja's static files (e.g. ninja/swagger-ui.css)."""
    content, content_type = await asyncio.to_thread(_load, path)
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
