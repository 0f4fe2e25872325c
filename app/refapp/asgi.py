"""ASGI entry point: ``refapp.asgi:application`` (served by ``python3 -m refapp.serve``)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refapp.settings")

application = get_asgi_application()
