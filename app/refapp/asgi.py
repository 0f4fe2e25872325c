"""ASGI entry point: ``refapp.asgi:application`` (served by ``python3 -m refapp.serve``)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refapp.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 - needs the settings module set

from refapp import tracing  # noqa: E402
from refapp.body_limit import BodyLimit  # noqa: E402

#: Request bodies are bounded before Django reads them (see refapp.body_limit); with an OTLP endpoint
#: set, every request is traced from the outside in (see refapp.tracing), else nothing wraps it.
application = tracing.start(
    BodyLimit(django_application),
    settings.OTLP_ENDPOINT,
    settings.APP_VERSION,
    settings.APP_TRACK,
    settings.CACHES["default"]["BACKEND"],
)
