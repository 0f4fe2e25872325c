"""ASGI entry point: ``refapp.asgi:application`` (served by ``python3 -m refapp.serve``)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refapp.settings")

django_application = get_asgi_application()

from refapp.body_limit import BodyLimit  # noqa: E402 - needs the settings module set

#: Request bodies are bounded before Django reads them (see refapp.body_limit).
application = BodyLimit(django_application)
